"""The stylize API: sizes, styles, blends, masks, the interpolation grid, the benchmark."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from style_transfer.base.errors import BadInput
from style_transfer.models import style_names
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.painting import conditions, figures, stylize, tiling
from style_transfer.painting.arbitrary_styles import paint_with_embedding
from tests.style_transfer.builders import NAMES, untrained_model_with_distinct_styles


@pytest.fixture
def photo():
    return np.random.default_rng(1).random((24, 32, 3), dtype=np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("height, width", [(9, 13), (17, 31), (8, 8)])
def test_output_size_equals_input_size_for_odd_sizes(model, height, width):
    image = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    assert stylize.stylize(model, image, "wave").shape == (height, width, 3)


@pytest.mark.parametrize("height, width", [(5, 7), (2, 3), (1, 40), (40, 1)])
def test_a_picture_with_a_side_under_8_pixels_is_refused_in_one_line(model, height, width):
    # The runtimes each failed in their own words (a graph error, a delegate error), or
    # painted what the Keras network refuses.
    image = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    words = f"at least 8x8 pixels; received {width}x{height}"
    with pytest.raises(BadInput, match=words):
        stylize.stylize(model, image, "wave")
    arbitrary = SimpleNamespace(transformer=StyleTransferNetwork(alpha=0.25, embedding_dim=4))
    with pytest.raises(BadInput, match=words):
        paint_with_embedding(arbitrary, image, np.zeros(4, np.float32))


def test_compiled_function_matches_the_keras_model(model, photo):
    # The eager call of one picture normalizes with TensorFlow's fused batch-norm kernel,
    # the compiled graph (any batch) with a multiply-add: float rounding apart (1e-6).
    expected = model(photo[None], np.array([1]))[0].numpy()
    np.testing.assert_allclose(stylize.stylize(model, photo, 1), expected, atol=1e-5)


def test_styles_differ(model, photo):
    wave, scream = stylize.stylize_many(model, photo, ["wave", "scream"])
    assert np.abs(wave - scream).mean() > 0.02


@pytest.mark.parametrize("blend", ["wave=1", "0=1.0", {"wave": 1.0}, "wave=1,scream=0"])
def test_blend_of_one_style_equals_that_style(model, photo, blend):
    np.testing.assert_allclose(
        stylize.stylize(model, photo, blend), stylize.stylize(model, photo, "wave"), atol=1e-6
    )


def test_blend_lies_between_its_styles(model, photo):
    wave, scream, blend = stylize.stylize_many(model, photo, ["wave", "scream", "wave=0.5,scream=0.5"])
    assert np.abs(blend - wave).mean() < np.abs(scream - wave).mean()
    assert np.abs(blend - scream).mean() < np.abs(scream - wave).mean()


@pytest.mark.slow
def test_xla_gives_the_same_pictures_for_vectors_and_maps(photo):
    model = untrained_model_with_distinct_styles(seed=3)
    weights = np.array([[0.2, 0.5, 0.3]], np.float32)
    weight_map = np.broadcast_to(weights[:, None, None, :], (1, 24, 32, 3))
    images = photo[None]
    default = [stylize.run_network(model, images, w) for w in (weights, weight_map)]
    stylize.use_xla(model)
    compiled = [stylize.run_network(model, images, w) for w in (weights, weight_map)]
    # XLA really compiles it: only jit_compile functions have compiler IR.
    hlo = stylize.compiled_network(model)["vector"].experimental_get_compiler_ir(
        images, weights)(stage="hlo")
    assert "convolution" in hlo
    stylize.use_xla(model, False)
    with pytest.raises(ValueError, match="jit_compile"):
        stylize.compiled_network(model)["vector"].experimental_get_compiler_ir(images, weights)
    for want, got in zip(default, compiled):
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_parse_blend_by_names_and_indices():
    np.testing.assert_allclose(conditions.parse_blend("wave=0.7, 1=0.3", NAMES), [0.7, 0.3, 0.0])


def test_parse_blend_normalize_divides_by_the_sum():
    np.testing.assert_allclose(conditions.parse_blend("wave=2,udnie=6", NAMES, normalize=True),
                               [0.25, 0.0, 0.75])


@pytest.mark.parametrize("text, words", [
    ("wave=-0.5,scream=1.5", "non-negative"),
    ("wave=0,scream=0", "zero"),
    ("wave=nan,scream=1", "finite"),
    ("wave=0.7,scream=0.7", "sum to 1"),
    ("monet=1", "wave, scream, udnie"),
    ("7=1", "out of range"),
    ("wave:1", "no '='"),
    ("wave=lots", "not a number"),
    ("wave=0_5,scream=0.5", "not a number"),  # float() would read 5
    ("wave=０.5,scream=0.5", "not a number"),  # a full-width digit: float() reads 0.5
    ("¹=1", "unknown style"),  # str.isdigit() is true, int() fails
])
def test_parse_blend_rejects_bad_weights_naming_the_problem(text, words):
    with pytest.raises(BadInput, match=words):
        conditions.parse_blend(text, NAMES)


@pytest.mark.parametrize("name", ["wave", "Starry Night", "no. 5", "été", "a+b", "1a", "x" * 100])
def test_style_names_that_can_be_chosen_are_accepted(name):
    assert style_names.check_style_name(name) == name
    assert style_names.style_index(name, ["other", name]) == 1


@pytest.mark.parametrize("name, words", [
    ("", "empty"), ("   ", "empty"), (" wave", "space"), ("a\nb", "line break"),
    ("a\tb", "control"), ("a,b", "','"), ("a=b", "'='"), ("12", "digits"), ("x" * 101, "longer"),
])
def test_style_names_that_could_not_be_chosen_are_refused(name, words):
    with pytest.raises(BadInput, match=words):
        style_names.check_style_name(name)


def test_repeated_or_taken_style_names_are_refused():
    with pytest.raises(BadInput, match="two styles named 'a'"):
        style_names.check_style_names(["a", "b", "a"])
    with pytest.raises(BadInput, match="two styles named 'wave'"):
        style_names.check_style_names(["new", "wave"], taken=NAMES)


@pytest.mark.parametrize("style", ["²", "١", "٣"])
def test_only_ascii_digits_choose_a_style_by_index(style):
    with pytest.raises(BadInput, match="unknown style"):
        style_names.style_index(style, NAMES)


def test_stylize_takes_and_returns_pil_images(model, photo):
    picture = Image.fromarray((photo * 255).astype(np.uint8))
    result = stylize.stylize(model, picture, "udnie")
    assert isinstance(result, Image.Image) and result.size == picture.size


def test_label_mask_is_a_convex_weight_map_of_the_photo_size():
    mask = np.zeros((10, 10), np.uint8)
    mask[:, 5:] = 1
    weight_map = conditions.mask_to_weight_map(mask, 3, [2, 0], (24, 32))
    assert weight_map.shape == (24, 32, 3)
    np.testing.assert_allclose(weight_map.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(weight_map[:, :10], np.broadcast_to([0, 0, 1], (24, 10, 3)), atol=1e-6)
    np.testing.assert_allclose(weight_map[:, -10:], np.broadcast_to([1, 0, 0], (24, 10, 3)), atol=1e-6)


def test_greyscale_mask_gives_soft_weights_to_two_styles():
    mask = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (8, 1))
    weight_map = conditions.mask_to_weight_map(mask, 3, [0, 1], (8, 32))
    np.testing.assert_allclose(weight_map[..., 1], np.tile(np.linspace(0, 1, 32), (8, 1)), atol=0.01)
    np.testing.assert_allclose(weight_map[..., 0] + weight_map[..., 1], 1.0, atol=1e-5)


def test_a_label_mask_of_more_than_16_styles_paints_each_label_in_its_style():
    mask = np.arange(20, dtype=np.uint8).reshape(4, 5)
    ids = [index % 3 for index in range(20)]
    weight_map = conditions.mask_to_weight_map(mask, 3, ids, (4, 5))
    np.testing.assert_allclose(weight_map.reshape(20, 3), np.eye(3)[ids], atol=1e-6)


@pytest.mark.parametrize("as_file", [False, True])
def test_16_bit_greyscale_mask_gives_the_weights_of_its_8_bit_copy(tmp_path, as_file):
    # 65535 is white in 16 bits: read as 8-bit values, every grey above 255 was white.
    mask = np.tile(np.linspace(0, 65535, 32).astype(np.uint16), (8, 1))
    if as_file:
        Image.fromarray(mask).save(tmp_path / "mask16.png")
        mask = Image.open(tmp_path / "mask16.png")
    weight_map = conditions.mask_to_weight_map(mask, 3, [0, 1], (8, 32))
    np.testing.assert_allclose(weight_map[..., 1], np.tile(np.linspace(0, 1, 32), (8, 1)), atol=0.01)


@pytest.mark.parametrize("labels, styles", [([0, 1, 2], [0, 1]), ([0, 5, 9], [0, 1, 2])])
def test_mask_labels_that_do_not_match_the_styles_raise(labels, styles):
    mask = np.array([labels] * 4, np.uint8)
    with pytest.raises(BadInput, match="do not match"):
        conditions.mask_to_weight_map(mask, 3, styles, (8, 8))


def _three_label_mask(size=(10, 12)):
    mask = np.zeros(size, np.uint8)
    mask[:, size[1] // 3:] = 1
    mask[size[0] // 2:, 2 * size[1] // 3:] = 2
    return mask


@pytest.mark.parametrize("ids", [[19, 3], [3, 19, 3], [25, 0, 7, 11]])
def test_mask_region_weights_are_the_weight_maps_planes_of_the_styles_used_only(ids):
    # 26 styles (android-26's number), a mask of 2 or 3: weights of 2 or 3 planes, not 26.
    mask = _three_label_mask()[:, : 12 if len(ids) > 2 else 8]  # labels 0, 1 (and 2)
    styles, weights = conditions.mask_region_weights(mask, 26, ids, (24, 32))
    used = sorted(set(ids[:int(mask.max()) + 1]))
    assert styles == used
    assert weights.shape == (24, 32, len(used)) and weights.dtype == np.float32
    weight_map = conditions.mask_to_weight_map(mask, 26, ids, (24, 32))
    np.testing.assert_array_equal(weights, weight_map[..., used])
    assert not weight_map[..., [index for index in range(26) if index not in used]].any()


def test_a_composite_of_mask_region_weights_is_the_composite_blend_of_the_weight_map_bit_for_bit(
        model, photo):
    # The pictures of the weight map of every style (what `stylize --mask` painted before).
    mask = _three_label_mask()
    for ids in ([2, 0, 1], [2, 0, 2], [1, 1, 0]):
        styles, weights = conditions.mask_region_weights(mask, 3, ids, photo.shape[:2])
        weight_map = conditions.mask_to_weight_map(mask, 3, ids, photo.shape[:2])
        np.testing.assert_array_equal(stylize.composite(model, photo, styles, weights),
                                      stylize.composite_blend(model, photo, weight_map))


def _two_region_map(photo):
    mask = np.zeros(photo.shape[:2], np.uint8)
    mask[:, photo.shape[1] // 2:] = 1
    return conditions.mask_to_weight_map(mask, 3, [0, 1], photo.shape[:2])


def test_composite_mask_paints_each_region_in_its_style(model, photo):
    wave, scream = stylize.stylize_many(model, photo, ["wave", "scream"])
    blended = stylize.composite_blend(model, photo, _two_region_map(photo))
    np.testing.assert_allclose(blended[:, :14], wave[:, :14], atol=1e-5)
    np.testing.assert_allclose(blended[:, 18:], scream[:, 18:], atol=1e-5)


@pytest.mark.slow
def test_network_mask_region_is_closer_to_its_style_than_to_the_other(model, photo):
    # One pass with per-pixel gamma/beta: normalization statistics are shared by the
    # regions, so each is near its style, not equal to it.
    wave, scream = stylize.stylize_many(model, photo, ["wave", "scream"])
    blended = stylize.stylize(model, photo, _two_region_map(photo))
    left, right = slice(0, 12), slice(20, 32)
    assert np.abs(blended[:, left] - wave[:, left]).mean() < np.abs(blended[:, left] - scream[:, left]).mean()
    assert np.abs(blended[:, right] - scream[:, right]).mean() < np.abs(blended[:, right] - wave[:, right]).mean()


def test_interpolation_grid_layout_is_rows_by_columns_of_tiles(model, photo):
    grid, (rows, cols) = figures.interpolation_grid(model, photo, ["wave", "scream", "udnie"])
    assert (rows, cols) == (1 + 3, 5)  # photo + 3 styles; 3 pairs x 5 steps
    assert grid.shape == (rows * 24, cols * 32, 3)


def test_interpolation_grid_ends_of_a_pair_are_the_single_styles(model, photo):
    grid, _ = figures.interpolation_grid(model, photo, ["wave", "udnie"], labels=False)
    wave, udnie = stylize.stylize_many(model, photo, ["wave", "udnie"])
    np.testing.assert_allclose(grid[:24, :32], photo)
    np.testing.assert_allclose(grid[24:48, :32], wave, atol=1e-6)
    np.testing.assert_allclose(grid[24:48, 4 * 32:], udnie, atol=1e-6)


def test_network_flops_quadruple_when_the_side_doubles(model):
    assert stylize.network_flops(model, 64, 64) * 4 == stylize.network_flops(model, 128, 128)


def test_standard_network_costs_80_gflop_at_512_px():
    # 9x9x3x32 at 512^2, 3x3x32x64 and 3x3x64x128 strided, 10 x 3x3x128x128 at 128^2,
    # 3x3x128x64 at 256^2, 3x3x64x32 and 9x9x32x3 at 512^2; 2 FLOPs per multiply-add.
    macs = (512 ** 2 * 81 * 3 * 32 + 256 ** 2 * 9 * 32 * 64 + 128 ** 2 * 9 * 64 * 128
            + 10 * 128 ** 2 * 9 * 128 * 128 + 256 ** 2 * 9 * 128 * 64
            + 512 ** 2 * 9 * 64 * 32 + 512 ** 2 * 81 * 32 * 3)
    assert stylize.network_flops(StyleTransferNetwork(1), 512, 512) == 2 * macs



@pytest.mark.slow
def test_large_pictures_run_in_tiles_that_paint_the_one_pass_picture(model, monkeypatch):
    images = np.random.default_rng(2).random((2, 40, 56, 3), dtype=np.float32)
    weights = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]], np.float32)
    whole = stylize.run_network(model, images, weights)
    monkeypatch.setattr(tiling, "TILE_ABOVE_PIXELS", 32 * 32)
    monkeypatch.setattr(tiling, "TILE_PX", 16)
    tiled = stylize.run_network(model, images, weights)
    # Each layer in tiles of its own resolution, normalized with the whole picture's
    # statistics: one pass within float32 rounding (per-tile statistics, or tiles
    # cross-faded over their overlaps, differ by 1e-2 and more).
    np.testing.assert_allclose(tiled, whole, atol=2e-5)


def test_progress_counts_every_call_of_the_network_and_every_tile(model, monkeypatch):
    reported = []
    stylize.stylize_many(model, np.zeros((40, 56, 3), np.float32), [0, 1, 2], batch_pixels=1,
                         progress=lambda done, total: reported.append((done, total)))
    assert reported == [(1, 3), (2, 3), (3, 3)]
    monkeypatch.setattr(tiling, "TILE_ABOVE_PIXELS", 32 * 32)
    monkeypatch.setattr(tiling, "TILE_PX", 32)
    reported.clear()
    stylize.stylize(model, np.zeros((40, 56, 3), np.float32), 0)  # no callback: no error
    stylize.stylize_many(model, np.zeros((40, 56, 3), np.float32), [0],
                         progress=lambda done, total: reported.append((done, total)))
    # 16 normalized layers, each in 2 x 2 tiles of its own resolution (32, 16 or 8 px).
    total = 16 * 4
    assert tiling.tile_count(model, 40, 56, 32) == total
    assert reported == [(done, total) for done in range(1, total + 1)]


def test_composite_paints_each_region_in_its_own_condition_a_blend_included(model, photo):
    labels = np.zeros(photo.shape[:2], np.uint8)
    labels[:, 16:] = 1
    weights = conditions.region_weights(labels, 2, photo.shape[:2])
    blend = {"wave": 0.5, "udnie": 0.5}
    painted = stylize.composite(model, photo, [blend, "scream"], weights, strength=0.5)
    left, right = stylize.stylize_many(model, photo, [blend, "scream"], strength=0.5)
    np.testing.assert_allclose(painted[:, :14], left[:, :14], atol=1e-5)
    np.testing.assert_allclose(painted[:, 18:], right[:, 18:], atol=1e-5)


def test_composite_blend_is_composite_over_the_styles_of_its_map(model, photo):
    weight_map = _two_region_map(photo)
    np.testing.assert_allclose(
        stylize.composite_blend(model, photo, weight_map),
        stylize.composite(model, photo, ["wave", "scream"], weight_map[..., :2]), atol=1e-6)


def test_composite_refuses_weights_of_another_shape_or_not_convex(model, photo):
    with pytest.raises(BadInput, match=r"region weights must have shape \(24, 32, 2\)"):
        stylize.composite(model, photo, ["wave", "scream"], np.ones((24, 32, 3)) / 3)
    with pytest.raises(BadInput, match="sum to 1"):
        stylize.composite(model, photo, ["wave", "scream"], np.ones((24, 32, 2)))


def test_region_weights_are_convex_one_inside_and_soft_at_the_border():
    labels = np.zeros((20, 40), np.uint8)
    labels[:, 20:] = 1
    hard = conditions.region_weights(labels, 2, (20, 40))
    soft = conditions.region_weights(labels, 2, (20, 40), soft_edge_px=3)
    for weights in (hard, soft):
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
        assert weights.min() >= 0
        assert weights[:, 35:, 1].min() > 0.999 and weights[:, :5, 1].max() < 1e-3
    # The soft border spreads over more columns than the hard one.
    assert _transition_px(hard) <= 2 < 6 <= _transition_px(soft)
    resized = conditions.region_weights(labels, 2, (40, 80))
    assert resized.shape == (40, 80, 2) and resized[:, 45:, 1].min() > 0.999


def _transition_px(weights):
    second = weights[0, :, 1]
    return np.count_nonzero((second > 0.01) & (second < 0.99))


@pytest.mark.parametrize("labels, message", [
    (np.full((4, 4), 3, np.uint8), r"in \[0, 2\)"),
    (np.zeros((4, 4), np.float32), "integer image"),
    (np.zeros((4, 4, 3), np.uint8), "2-D"),
])
def test_region_weights_refuse_bad_labels(labels, message):
    with pytest.raises(BadInput, match=message):
        conditions.region_weights(labels, 2, (4, 4))
