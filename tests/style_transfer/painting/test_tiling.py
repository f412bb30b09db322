"""Large photos in tiles: the same painting as one pass of the network, seams included."""

import argparse
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from style_transfer.base.errors import BadInput
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.painting import arbitrary_styles, stylize, tiling
from tests.style_transfer.builders import photo_array, write_photo

# float32 rounding: the tiles sum the same products in another order (1/255 = 3.9e-3).
ROUNDING = 2e-5


def random_network(seed=1, **kwargs):
    """A network whose every weight, gamma and beta included, is random (seeded)."""
    keras.utils.set_random_seed(seed)
    network = StyleTransferNetwork(**kwargs)
    network.build()
    rng = np.random.default_rng(seed)
    for variable in network.weights:
        if variable.path.endswith(("gamma", "beta")):
            center = 1.0 if variable.path.endswith("gamma") else 0.0
            variable.assign(rng.normal(center, 0.3, variable.shape).astype("float32"))
    return network


@pytest.fixture(scope="module")
def slim():
    """The android-26 architecture (slim: 32-32-32, 6 residual blocks, 8-4), 3 styles."""
    return random_network(num_styles=3, architecture="android-slim")


@pytest.fixture(scope="module")
def embedding_network():
    """The network of an arbitrary-style model: every gamma/beta from a style embedding."""
    return random_network(embedding_dim=8, alpha=0.25)


def photo(height, width, seed=0):
    return photo_array(seed, height, width).astype(np.float32) / 255


def one_pass(network, image, condition):
    return keras.ops.convert_to_numpy(network(image[None], condition[None]))[0]


def convex_map(height, width, styles, seed=0):
    weights = np.random.default_rng(seed).random((height, width, styles)).astype(np.float32)
    return weights / weights.sum(axis=-1, keepdims=True)


def tile_boundaries(height, width, tile_px):
    """Pixels beside a tile boundary of any layer (every tile_px / 4 photo pixels)."""
    step = tile_px // 4
    near = np.zeros((height, width), bool)
    for offset in (-1, 0):
        near[np.arange(step, height, step) + offset] = True
        near[:, np.arange(step, width, step) + offset] = True
    return near


@pytest.mark.slow
def test_tiles_paint_the_one_pass_picture_and_the_seams_are_no_worse(model):
    image = photo(200, 300)
    weights = np.array([0.2, 0.5, 0.3], np.float32)
    whole = one_pass(model, image, weights)
    tiled = tiling.run_tiled(model, image, weights, tile_px=64)
    difference = np.abs(tiled - whole)
    assert difference.max() < ROUNDING
    seams = tile_boundaries(200, 300, 64)
    # What one tile's own statistics, a halo too thin or tiles off the stride grid
    # would leave is largest along the boundaries.
    assert difference[seams].max() <= 2 * difference[~seams].max() + 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("height, width", [(203, 97), (97, 203)])
def test_odd_sizes_the_slim_architecture_and_a_spatial_weight_map(slim, height, width):
    image = photo(height, width, seed=1)
    weight_map = convex_map(height, width, 3)
    tiled = tiling.run_tiled(slim, image, weight_map, tile_px=32)
    np.testing.assert_allclose(tiled, one_pass(slim, image, weight_map), atol=ROUNDING)


@pytest.mark.slow
def test_an_arbitrary_style_network_conditioned_on_an_embedding(embedding_network):
    image = photo(101, 150, seed=2)
    embedding = np.random.default_rng(3).normal(size=8).astype(np.float32)
    tiled = tiling.run_tiled(embedding_network, image, embedding, tile_px=32)
    np.testing.assert_allclose(tiled, one_pass(embedding_network, image, embedding),
                               atol=ROUNDING)


@pytest.mark.slow
def test_layers_computed_again_rather_than_stored_give_the_same_picture(model, monkeypatch):
    image = photo(90, 130, seed=4)
    weights = np.array([0.0, 0.0, 1.0], np.float32)
    stored = tiling.run_tiled(model, image, weights, tile_px=32)
    monkeypatch.setattr(tiling, "MAX_FULL_RESOLUTION_MAP_BYTES", 0)
    layers = tiling._layers(model, (92, 132))
    assert [layer.block.name for layer in layers if not layer.stored] == ["conv1", "upsample2"]
    recomputed = tiling.run_tiled(model, image, weights, tile_px=32)
    np.testing.assert_allclose(recomputed, stored, atol=1e-6)
    np.testing.assert_allclose(recomputed, one_pass(model, image, weights), atol=ROUNDING)


def test_arbitrary_style_painting_tiles_large_photos(embedding_network, monkeypatch):
    model = SimpleNamespace(transformer=embedding_network)  # what paint_with_embedding reads
    image = photo(70, 90, seed=7)
    embedding = np.random.default_rng(8).normal(size=8).astype(np.float32)
    whole = arbitrary_styles.paint_with_embedding(model, image, embedding)
    calls = []
    monkeypatch.setattr(tiling, "TILE_ABOVE_PIXELS", 64 * 64)
    monkeypatch.setattr(tiling, "TILE_PX", 32)
    run_tiled = tiling.run_tiled
    monkeypatch.setattr(tiling, "run_tiled",
                        lambda *args, **kwargs: calls.append(args) or run_tiled(*args, **kwargs))
    tiled = arbitrary_styles.paint_with_embedding(model, image, embedding)
    assert len(calls) == 1
    np.testing.assert_allclose(tiled, whole, atol=ROUNDING)


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["kernel", "gamma", "weights"])
def test_nan_reaches_the_painting_through_the_tiles(damage):
    network = random_network(num_styles=3, alpha=0.25)
    weights = np.array([0.0, 1.0, 0.0], np.float32)
    if damage == "kernel":
        kernel = network.residuals[2].first.conv.kernel
        kernel.assign(np.where(np.arange(kernel.shape[-1]) == 0, np.nan, kernel.numpy()))
    elif damage == "gamma":
        gamma = network.expand[0].norm.gamma
        gamma.assign(np.where(np.arange(gamma.shape[-1]) == 2, np.nan, gamma.numpy()))
    else:  # weights that do not sum to 1: one call of the network gives NaN for them
        weights = np.array([0.5, 0.7, 0.0], np.float32)
    image = photo(40, 56)
    # The compiled network, as `run_network` calls it (traced: bad weights give NaN).
    whole = stylize.compiled_network(network)["vector"](image[None], weights[None]).numpy()
    assert np.isnan(whole).all()
    assert np.isnan(tiling.run_tiled(network, image, weights, tile_px=16)).all()


@pytest.mark.slow
def test_a_nan_painting_of_a_large_photo_is_refused_not_saved(tmp_path, monkeypatch):
    from style_transfer.cli import photo_files

    network = random_network(num_styles=3, alpha=0.25)
    gamma = network.to_rgb.norm.gamma
    gamma.assign(np.full(gamma.shape, np.nan, np.float32))
    monkeypatch.setattr(tiling, "TILE_ABOVE_PIXELS", 16 * 16)
    monkeypatch.setattr(tiling, "TILE_PX", 16)
    paint = stylize.painter(network, 0)
    source = write_photo(tmp_path / "photo.png", width=40, height=30)
    target = tmp_path / "painted.png"
    args = argparse.Namespace(quiet=True, json=False, overwrite=False)
    with pytest.raises(BadInput, match="painted NaN"):
        photo_files.paint_photos(args, [SimpleNamespace(path=source)], [[target]], ["0"], None,
                                 lambda picture: [paint(picture)])
    assert not target.exists()


@pytest.mark.parametrize("tile_px", [30, 8, 64.0])
def test_tile_sides_off_the_stride_grid_are_refused(model, tile_px):
    with pytest.raises(ValueError, match="multiple of 4"):
        tiling.run_tiled(model, photo(40, 40), np.array([1.0, 0.0, 0.0], np.float32),
                         tile_px=tile_px)
