"""Model files are untrusted input: bounded reads, safe loading, no graph named by the file.

A TF Hub stand-in whose graph writes a file shows whether loading a model file
ran a graph the file named.
"""

import io
import json
import os
import zipfile

import h5py
import keras
import numpy as np
import pytest

from style_transfer.base.errors import BadInput
from style_transfer.cli.main import main
from style_transfer.models import saving as model_file
from style_transfer.models.arbitrary import create_arbitrary_model
from style_transfer.models.loading import load_arbitrary_model, load_style_model
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.models.saving import read_model_config, save_model
from tests.style_transfer.hub_stand_ins import save_feature_vector_model


@pytest.fixture(scope="module")
def style_model_file(tmp_path_factory):
    network = StyleTransferNetwork(2, alpha=0.25, style_names=["a", "b"])
    network.build()
    path = tmp_path_factory.mktemp("model") / "styles.keras"
    save_model(network, path)
    return path


@pytest.fixture(scope="module")
def hub_model(tmp_path_factory):
    """A model file whose encoder is a hub model that writes `marker` when it runs,
    and a harmless hub model with the same variables."""
    folder = tmp_path_factory.mktemp("hub_model")
    marker = folder / "the_graph_ran.txt"
    hostile = save_feature_vector_model(folder / "hostile", writes=marker)
    harmless = save_feature_vector_model(folder / "harmless")
    model = create_arbitrary_model(encoder="hub", hub_handle=str(hostile), embedding_dim=4,
                                   alpha=0.25, style_image_size=16)
    save_model(model, folder / "arbitrary.keras")
    assert marker.exists()  # Building the model ran the graph: the stand-in works.
    marker.unlink()
    return {"path": folder / "arbitrary.keras", "marker": marker, "harmless": harmless,
            "folder": folder}


@pytest.mark.slow
def test_a_hub_encoder_named_by_the_file_is_not_loaded_without_the_users_word(hub_model):
    with pytest.raises(BadInput, match="--hub-encoder") as error:
        load_arbitrary_model(hub_model["path"])
    assert "\n" not in str(error.value)
    assert not hub_model["marker"].exists()


@pytest.mark.parametrize("safe_mode", [True, False])
def test_keras_load_model_does_not_follow_the_files_hub_encoder_either(hub_model, safe_mode):
    with pytest.raises(Exception, match="hub"):
        keras.saving.load_model(hub_model["path"], safe_mode=safe_mode)
    assert not hub_model["marker"].exists()


@pytest.mark.slow
def test_the_hub_encoder_the_user_names_replaces_the_one_in_the_file(hub_model):
    model = load_arbitrary_model(hub_model["path"], hub_encoder=str(hub_model["harmless"]))
    model.embed(np.zeros((1, 16, 16, 3), np.float32))
    assert model.hub_handle == str(hub_model["harmless"])
    assert not hub_model["marker"].exists()


def test_stylize_refuses_a_hub_encoder_model_without_hub_encoder(hub_model, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    keras.utils.save_img(photo, np.zeros((16, 16, 3)))
    code = main(["stylize", "--model", str(hub_model["path"]), "--style-image", str(photo),
                 str(photo), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1 and "--hub-encoder" in error
    assert not hub_model["marker"].exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["device", "pipe", "folder"])
def test_a_model_path_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, kind):
    path = {"device": "/dev/zero", "pipe": tmp_path / "pipe.keras",
            "folder": tmp_path / "folder.keras"}[kind]
    if kind == "pipe":
        os.mkfifo(path)  # Opening it for reading would wait for a writer.
    if kind == "folder":
        path.mkdir()
    with pytest.raises(BadInput, match="regular file|is a folder"):
        load_style_model(path)


def _rewritten(source, destination, config=None, members=None):
    """A copy of the .keras file `source` with its config (a function of the config)
    or extra members changed."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(destination, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "config.json" and config is not None:
                data = json.dumps(config(json.loads(data))).encode()
            copy.writestr(item, data)
        for name, data in (members or {}).items():
            copy.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return destination


@pytest.mark.slow
def test_an_archive_that_unpacks_beyond_the_bound_is_refused_before_unpacking(
        style_model_file, tmp_path, monkeypatch):
    monkeypatch.setattr(model_file, "MAX_UNPACKED_BYTES", 4 * 1024**2)
    bomb = _rewritten(style_model_file, tmp_path / "bomb.keras",
                      members={"padding": bytes(8 * 1024**2)})
    assert bomb.stat().st_size < 1024**2  # Small on disk, 8 MiB unpacked.
    with pytest.raises(BadInput, match="would unpack to"):
        read_model_config(bomb)


def test_compressed_weights_beyond_the_bound_are_refused_before_keras_reads_them(
        style_model_file, tmp_path, monkeypatch):
    monkeypatch.setattr(model_file, "MAX_UNPACKED_BYTES", 4 * 1024**2)
    weights = io.BytesIO()
    with h5py.File(weights, "w") as file:
        file.create_dataset("layers/conv/vars/0", data=np.zeros(2 * 1024**2, np.float32),
                            compression="gzip")
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(style_model_file) as original, zipfile.ZipFile(bomb, "w") as copy:
        for name in ("metadata.json", "config.json"):
            copy.writestr(name, original.read(name))
        copy.writestr("model.weights.h5", weights.getvalue())
    assert bomb.stat().st_size < 1024**2  # Small on disk and in the archive; 8 MiB of arrays.
    with pytest.raises(BadInput, match="8.0 MiB of weights"):
        read_model_config(bomb)


@pytest.mark.parametrize("field, value", [("num_styles", 10**9), ("alpha", 1e6),
                                          ("alpha", float("nan")), ("num_styles", True)])
def test_a_config_that_would_allocate_a_huge_network_is_refused(style_model_file, tmp_path,
                                                                field, value):
    def change(config):
        config["config"][field] = value
        return config

    damaged = _rewritten(style_model_file, tmp_path / "huge.keras", config=change)
    with pytest.raises(BadInput, match=field):
        load_style_model(damaged)


@pytest.mark.slow
def test_a_model_with_nan_weights_is_refused(tmp_path):
    network = StyleTransferNetwork(2, alpha=0.25)
    network.build()
    network.weights[0].assign(np.full(network.weights[0].shape, np.nan, np.float32))
    save_model(network, tmp_path / "diverged.keras")
    with pytest.raises(BadInput, match="NaN or infinite weights"):
        load_style_model(tmp_path / "diverged.keras")


def test_a_file_not_ending_in_keras_is_refused_by_name(style_model_file, tmp_path):
    renamed = tmp_path / "styles.model"
    renamed.write_bytes(style_model_file.read_bytes())
    with pytest.raises(BadInput, match="end in .keras"):
        load_style_model(renamed)


def test_another_registered_class_is_refused_before_keras_builds_it(style_model_file, tmp_path):
    def other_class(config):
        config["registered_name"] = "style_transfer>ArbitraryStyleModel"
        return config

    disguised = _rewritten(style_model_file, tmp_path / "disguised.keras", config=other_class)
    with pytest.raises(BadInput, match="registered as 'style_transfer>ArbitraryStyleModel', "
                                       "not a model of trained styles"):
        load_style_model(disguised)


@pytest.mark.slow
def test_weights_that_do_not_fit_are_refused_with_keras_reason_in_one_line(
        style_model_file, tmp_path):
    # Keras's message ends its first line with "Example error message for object
    # <Conv2D ...>:"; the reason is on the next one.
    weights = io.BytesIO()
    with zipfile.ZipFile(style_model_file) as original:
        weights.write(original.read("model.weights.h5"))
    with h5py.File(weights, "a") as file:
        kernels = []
        file.visititems(lambda name, item: kernels.append(name)
                        if isinstance(item, h5py.Dataset) and "conv/vars" in name else None)
        del file[kernels[0]]
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(style_model_file) as original, zipfile.ZipFile(broken, "w") as copy:
        for item in original.infolist():
            copy.writestr(item, weights.getvalue() if item.filename == "model.weights.h5"
                          else original.read(item))
    with pytest.raises(BadInput) as error:
        load_style_model(broken)
    message = str(error.value)
    assert "\n" not in message and not message.rstrip(".)").endswith(":")
    assert "expected 1 variables, but received 0" in message


@pytest.mark.parametrize("depth", [40, 50_000])
def test_a_config_nested_too_deeply_is_refused_in_one_line(style_model_file, tmp_path, depth):
    with zipfile.ZipFile(style_model_file) as original:
        config = json.loads(original.read("config.json"))
    deep = tmp_path / "deep.keras"
    with zipfile.ZipFile(style_model_file) as original, zipfile.ZipFile(deep, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "config.json":
                # Spliced as text: json.dumps itself would recurse once per level.
                data = json.dumps(config).replace(
                    '"training_config": {}',
                    '"training_config": {"deep": ' + "[" * depth + "]" * depth + "}").encode()
                assert data != json.dumps(config).encode()
            copy.writestr(item, data)
    with pytest.raises(BadInput, match="more than 32 levels deep") as error:
        load_style_model(deep)
    assert "\n" not in str(error.value)
