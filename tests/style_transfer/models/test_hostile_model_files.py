"""The model-file reader on generated hostile files (Hypothesis): configs whose fields take
any JSON value, nesting and size, and weights of other shapes, types and values. Each file
loads as a model within the bounds of `models.limits`, or is refused with one `BadInput`
line, quickly; never another exception."""

import io
import json
import zipfile

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from style_transfer.base.errors import BadInput
from style_transfer.models import limits
from style_transfer.models.loading import load_style_model
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.models.saving import save_model

FEW = settings(max_examples=25, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    network = StyleTransferNetwork(2, alpha=0.25, style_names=["a", "b"],
                                   architecture="android-slim")
    network.build()
    path = tmp_path_factory.mktemp("model") / "styles.keras"
    save_model(network, path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}




def written(members, path):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def loads_or_refuses(path):
    try:
        model = load_style_model(path)
    except BadInput as error:
        message = str(error)
        assert message and "\n" not in message, message
        model = None
    if model is not None:  # Within the bounds, as the bounds say.
        assert 1 <= model.num_styles <= limits.MAX_STYLES
        assert limits.MIN_ALPHA <= model.alpha <= limits.MAX_ALPHA
        assert model.count_params() <= limits.MAX_NETWORK_WEIGHTS
    return model


scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=12),
    st.integers(-2**70, 2**70), st.sampled_from([0, 1, 2, 3, 64, 65, 10**6, 10**9, -1]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e-300, 0.25, 4.0, 5.0]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=12)
deep = st.integers(1, 5000).map(lambda depth: json.loads("[" * min(depth, 30) + "]" *
                                                         min(depth, 30)) if depth <= 30
                                else "DEEP:" + str(depth))
FIELDS = ["num_styles", "embedding_dim", "alpha", "architecture", "style_names",
          "training_config", "name", "dtype"]
ARCHITECTURE_FIELDS = ["contract", "residual_blocks", "residual_filters", "expand"]


def with_config(members, change):
    config = json.loads(members["config.json"])
    text = json.dumps(change(config))
    # A list nested deeper than Python's JSON writer goes: spliced in as text.
    for marker in set(part.split('"')[0] for part in text.split('"DEEP:')[1:]):
        depth = int(marker)
        text = text.replace(f'"DEEP:{depth}"', "[" * depth + "]" * depth)
    return {**members, "config.json": text.encode()}


@pytest.mark.slow
@FEW
@given(field=st.sampled_from(FIELDS), value=st.one_of(values, deep))
@example(field="name", value="renamed")  # Loads.
def test_a_config_field_of_any_value_loads_or_is_refused_in_one_line(
        model_bytes, tmp_path, field, value):
    def change(config):
        config["config"][field] = value
        return config

    loads_or_refuses(written(with_config(model_bytes, change), tmp_path / "field.keras"))


@pytest.mark.slow
@FEW
@given(field=st.sampled_from(ARCHITECTURE_FIELDS), value=st.one_of(
    values, st.lists(st.integers(-5, 5000), max_size=6), st.integers(-5, 10**6)))
@example(field="residual_blocks", value=1)  # Loads (its weights are a subset of the file's).
def test_an_architecture_of_any_shape_loads_or_is_refused_in_one_line(
        model_bytes, tmp_path, field, value):
    def change(config):
        config["config"]["architecture"][field] = value
        return config

    loads_or_refuses(written(with_config(model_bytes, change), tmp_path / "arch.keras"))


@pytest.mark.slow
@settings(FEW, max_examples=8)
@given(index=st.integers(0, 1000), shape=st.lists(st.integers(0, 6), max_size=4),
       dtype=st.sampled_from(["float32", "float64", "int8", "bool", "float16"]),
       fill=st.sampled_from([0.0, 1.0, np.nan, np.inf, 1e30]))
def test_weights_of_any_shape_type_or_value_load_or_are_refused_in_one_line(
        model_bytes, tmp_path, index, shape, dtype, fill):
    weights = io.BytesIO(model_bytes["model.weights.h5"])
    with h5py.File(weights, "a") as file:
        names = []
        file.visititems(lambda name, item: names.append(name)
                        if isinstance(item, h5py.Dataset) else None)
        name = sorted(names)[index % len(names)]
        del file[name]
        with np.errstate(invalid="ignore", over="ignore"):
            file[name] = np.full(shape, fill).astype(dtype)
    model = loads_or_refuses(written({**model_bytes, "model.weights.h5": weights.getvalue()},
                                     tmp_path / "weights.keras"))
    if model is not None:  # What loaded is finite.
        assert all(np.all(np.isfinite(np.asarray(weight))) for weight in model.weights)


def test_a_harmless_change_loads_so_the_properties_are_not_vacuous(model_bytes, tmp_path):
    def change(config):
        config["config"]["name"] = "renamed"
        return config

    model = loads_or_refuses(written(with_config(model_bytes, change), tmp_path / "name.keras"))
    assert model is not None and model.name == "renamed"
