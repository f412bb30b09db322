"""A model that paints NaN is refused on every path, never turned into a normal-looking picture.

One NaN element in the first convolution's kernel makes every pixel of the
network's output NaN (the eager Keras call shows it). Whatever path paints the
photo (one photo, a batch, tiles, a painter, video frames, the web page, an
arbitrary-style model) must say so (`photo_options.check_painted`), not save a
picture.
"""

import keras
import numpy as np
import pytest

from style_transfer.base.errors import BadInput
from style_transfer.painting import arbitrary_styles, photo_options, stylize, tiling
from tests.style_transfer.builders import untrained_model_with_distinct_styles

NAN_MESSAGE = "painted NaN"


def with_one_nan_weight(network):
    """`network` with one NaN element in the kernel of its first convolution."""
    kernel = network.contract[0].conv.kernel
    values = keras.ops.convert_to_numpy(kernel).copy()
    values[0, 0, 0, 0] = np.nan
    kernel.assign(values)
    return network


@pytest.fixture(scope="module")
def nan_model():
    return with_one_nan_weight(untrained_model_with_distinct_styles(seed=5))


@pytest.fixture
def photo():
    return np.random.default_rng(2).random((24, 32, 3), dtype=np.float32)


@pytest.mark.slow
def test_the_eager_network_paints_nan_everywhere(nan_model, photo):
    painted = keras.ops.convert_to_numpy(nan_model(photo[None], np.array([0])))
    assert np.isnan(painted).all()


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 2])
def test_run_network_propagates_nan_for_any_batch(nan_model, photo, batch):
    # The compiled function itself, below the guard: NaN in, NaN out, for one picture too.
    function = stylize.compiled_network(nan_model)["vector"]
    weights = np.eye(3, dtype=np.float32)[:batch]
    painted = function(np.repeat(photo[None], batch, axis=0), weights).numpy()
    assert np.isnan(painted).all()
    with pytest.raises(BadInput, match=NAN_MESSAGE):
        stylize.run_network(nan_model, np.repeat(photo[None], batch, axis=0), weights)


@pytest.mark.parametrize("paint", [
    pytest.param(lambda model, photo: stylize.stylize(model, photo, "wave"), id="one photo"),
    pytest.param(lambda model, photo: stylize.stylize_many(model, photo, ["wave", "scream"]),
                 id="a batch"),
    pytest.param(lambda model, photo: stylize.stylize(model, photo, "wave=0.5,scream=0.5"),
                 id="a blend"),
    pytest.param(lambda model, photo: stylize.stylize(
        model, photo, np.full(photo.shape[:2] + (3,), 1 / 3, np.float32)), id="a weight map"),
    pytest.param(lambda model, photo: stylize.painter(model, "wave")(photo), id="a painter"),
    pytest.param(lambda model, photo: stylize.composite(
        model, photo, ["wave", "scream"], np.full(photo.shape[:2] + (2,), 0.5, np.float32)),
        id="a composite"),
])
def test_every_way_of_painting_a_photo_refuses_nan(nan_model, photo, paint):
    with pytest.raises(BadInput, match=NAN_MESSAGE):
        paint(nan_model, photo)


@pytest.mark.slow
def test_tiles_refuse_nan(nan_model, monkeypatch):
    monkeypatch.setattr(tiling, "TILE_ABOVE_PIXELS", 16 * 16)
    monkeypatch.setattr(tiling, "TILE_PX", 16)
    large = np.random.default_rng(3).random((24, 40, 3), dtype=np.float32)
    with pytest.raises(BadInput, match=NAN_MESSAGE):
        stylize.stylize(nan_model, large, "wave")


def test_video_frames_refuse_nan_and_leave_no_output(nan_model, tmp_path):
    pytest.importorskip("av")
    from style_transfer.painting import video
    from tests.style_transfer.builders import write_clip

    clip = write_clip(tmp_path / "clip.mp4", num_frames=3, sound=False)
    out = tmp_path / "painted.mp4"
    with pytest.raises(BadInput, match=NAN_MESSAGE):
        video.stylize_video(stylize.painter(nan_model, "wave"), clip, out)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clip.mp4"]


def test_the_web_page_refuses_nan(nan_model):
    pytest.importorskip("starlette")
    from style_transfer.web import painting

    served = painting.ServedModel("nan", nan_model)
    request = painting.PaintRequest(model=0, weights=(1.0, 1.0, 0.0))
    photo = np.random.default_rng(4).random((20, 28, 3), dtype=np.float32)
    with pytest.raises(BadInput, match=NAN_MESSAGE):
        painting.paint(served, photo, None, request)


@pytest.mark.slow
def test_an_arbitrary_style_model_refuses_nan(photo):
    from style_transfer.models.arbitrary import create_arbitrary_model

    with pytest.warns(UserWarning, match="RANDOM"):
        model = create_arbitrary_model(encoder_weights="random", embedding_dim=4, alpha=0.25,
                                       style_image_size=32)
    with_one_nan_weight(model.transformer)
    style = np.random.default_rng(5).random((32, 32, 3), dtype=np.float32)
    with pytest.raises(BadInput, match=NAN_MESSAGE):
        arbitrary_styles.stylize_arbitrary(model, photo, [style])
    with pytest.raises(BadInput, match=NAN_MESSAGE):
        stylize.painter(model, style_images=[style])(photo)


def test_check_painted_passes_finite_pictures_through():
    picture = np.linspace(0, 1, 24, dtype=np.float32).reshape(2, 4, 3)
    assert photo_options.check_painted(picture) is picture
    for bad in (np.nan, np.inf):
        picture[1, 2, 0] = bad
        with pytest.raises(BadInput, match=NAN_MESSAGE):
            photo_options.check_painted(picture)
