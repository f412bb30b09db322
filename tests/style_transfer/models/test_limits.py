"""The bounds of every size a model file can set (`style_transfer.models.limits`): checked
before anything is built, by our loader and by Keras's own, and the same bounds training
accepts."""


import keras
import pytest

from style_transfer.base.errors import BadInput
from style_transfer.models import limits
from style_transfer.models.loading import load_style_model
from style_transfer.models.network import Architecture, StyleTransferNetwork
from style_transfer.models.saving import save_model
from style_transfer.training.config import ArbitraryConfig, LossConfig, TrainConfig
from tests.style_transfer.builders import with_config


@pytest.fixture(scope="module")
def style_model_file(tmp_path_factory):
    network = StyleTransferNetwork(2, alpha=0.25, style_names=["a", "b"],
                                   architecture="android-slim")
    network.build()
    path = tmp_path_factory.mktemp("model") / "styles.keras"
    save_model(network, path)
    return path



HOSTILE_CONFIGS = {
    "200,000 residual blocks": (lambda config: config["architecture"].update(
        residual_blocks=200_000), "residual_blocks=200000"),
    "a layer 10^6 wide": (lambda config: config["architecture"].update(
        contract=[32, 32, 10**6], residual_filters=10**6), "contract=[32, 32, 1000000]"),
    "widths as text": (lambda config: config["architecture"].update(expand=["8", "4"]),
                       "expand"),
    "an unknown architecture key": (lambda config: config["architecture"].update(depth=3),
                                    "architecture keys"),
    "1024-wide layers at alpha 4": (lambda config: config.update(alpha=4.0) or config[
        "architecture"].update(contract=[1024] * 3, residual_filters=1024, residual_blocks=64),
        "weights"),
    "10^9 styles": (lambda config: config.update(num_styles=10**9), "num_styles"),
    "alpha 1e-300": (lambda config: config.update(alpha=1e-300), "alpha"),
    "a training record that is not a dict": (lambda config: config.update(
        training_config=[1]), "training_config [1]"),
}


@pytest.mark.parametrize("name", HOSTILE_CONFIGS)
@pytest.mark.parametrize("loader", ["ours", "keras"])
def test_a_config_beyond_the_bounds_is_refused_before_anything_is_built(
        style_model_file, tmp_path, name, loader, monkeypatch):
    change, words = HOSTILE_CONFIGS[name]
    hostile = with_config(style_model_file, tmp_path / "hostile.keras", change)

    def no_building(*args, **kwargs):
        raise AssertionError("a layer was built before the config was refused")

    monkeypatch.setattr(keras.layers.Conv2D, "build", no_building)
    with pytest.raises(Exception, match=words[:20].replace("[", r"\[")) as error:
        if loader == "ours":
            load_style_model(hostile)
        else:  # Keras's own loader, after `import style_transfer` registered the classes.
            keras.saving.load_model(hostile, safe_mode=True)
    if loader == "ours":
        assert isinstance(error.value, BadInput) and "\n" not in str(error.value)


@pytest.mark.parametrize("names, words", [
    (["a", "\x1b[31mred\x1b[0m"], "control character"),
    (["a", "two\nlines"], "control character"),
    (["a", "x" * 300], "longer than 100"),
    (["a", "a"], "two styles named 'a'"),
    (["a", "../../x"], "'/'"),
])
def test_style_names_read_from_a_file_are_checked_as_names_given_on_the_command_line(
        style_model_file, tmp_path, names, words):
    hostile = with_config(style_model_file, tmp_path / "names.keras",
                           lambda config: config.update(style_names=names))
    with pytest.raises(BadInput, match=words) as error:
        load_style_model(hostile)
    assert "\n" not in str(error.value) and "\x1b" not in str(error.value)


def test_an_architecture_beyond_the_bounds_is_refused_in_python_too():
    with pytest.raises(BadInput, match="residual_blocks"):
        Architecture(contract=(8, 8, 8), residual_blocks=limits.MAX_RESIDUAL_BLOCKS + 1,
                     residual_filters=8, expand=(8, 8))
    widest = Architecture(contract=(8, 8, limits.MAX_LAYER_WIDTH),
                          residual_filters=limits.MAX_LAYER_WIDTH, expand=(8, 8))
    assert widest.residual_filters == limits.MAX_LAYER_WIDTH


def test_the_largest_presets_fit_the_bounds_of_the_weight_count():
    # Magenta's network with the most styles at the widest alpha.
    config = {"num_styles": limits.MAX_STYLES, "alpha": limits.MAX_ALPHA,
              "architecture": Architecture().to_dict()}
    limits.check_network_size(config)
    assert limits.network_weights(config["architecture"], 1.0, num_styles=1) == pytest.approx(
        1.67e6, rel=0.01)


def _both(make_config, check_file):
    """(accepted by training, accepted by the loader's bounds) for one value."""
    results = []
    for check in (make_config, check_file):
        try:
            check()
            results.append(True)
        except BadInput:
            results.append(False)
    return results


@pytest.mark.parametrize("value", [limits.MIN_ALPHA, limits.MAX_ALPHA, 1e-300, 9.9e-4, 4.01,
                                   1e300])
def test_training_and_loading_accept_the_same_alpha(value):
    accepted = _both(lambda: TrainConfig(content_dir="c", style_images=("s.png",), alpha=value),
                     lambda: limits.check_network_size({"num_styles": 1, "alpha": value}))
    assert accepted[0] == accepted[1], accepted
    accepted = _both(lambda: ArbitraryConfig(content_dir="c", style_dir="s", alpha=value),
                     lambda: limits.check_network_size({"embedding_dim": 8, "alpha": value}))
    assert accepted[0] == accepted[1], accepted


@pytest.mark.parametrize("value", [1, limits.MAX_EMBEDDING_DIM, limits.MAX_EMBEDDING_DIM + 1])
def test_training_and_loading_accept_the_same_embedding_size(value):
    accepted = _both(lambda: ArbitraryConfig(content_dir="c", style_dir="s", embedding_dim=value),
                     lambda: limits.check_network_size({"embedding_dim": value}))
    assert accepted[0] == accepted[1], accepted


@pytest.mark.parametrize("value", [256, limits.MAX_STYLE_IMAGE_PX, limits.MAX_STYLE_IMAGE_PX + 1])
def test_training_and_loading_accept_the_same_style_image_size(value):
    # train-arbitrary's style size is the side of the square style images its model keeps.
    accepted = _both(lambda: LossConfig(style_size=value),
                     lambda: limits.check_network_size({"style_image_size": value}))
    assert accepted[0] == accepted[1], accepted
