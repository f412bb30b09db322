"""The network on onnxruntime and LiteRT: the Keras pictures within 1e-4 for every style
condition, quantized exports at their PSNR, NaN propagated, and bad input refused in one line.

Conversions cost seconds each, so the converted files are module fixtures shared by the
tests; the network is the small 3-style test network (alpha 0.25) on small pictures.
"""

import warnings

import numpy as np
import pytest

from style_transfer.base.errors import BadInput
from style_transfer.cli.main import main
from style_transfer.models import export, portable, runtimes
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.models.saving import save_model
from style_transfer.painting import stylize
from tests.style_transfer.builders import NAMES, untrained_model_with_distinct_styles
from tests.style_transfer.refusals import assert_refused

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
pytest.importorskip("ai_edge_litert")

STYLE = np.array([[0.0, 1.0, 0.0]], np.float32)
BLEND = np.array([[0.6, 0.0, 0.4]], np.float32)


@pytest.fixture(scope="module")
def model():
    return untrained_model_with_distinct_styles()


@pytest.fixture(scope="module")
def exports(model, tmp_path_factory):
    """The ONNX and LiteRT exports of `model`: weights and weight maps, any size."""
    folder = tmp_path_factory.mktemp("exports")
    return {
        "onnx": export.export_onnx(model, folder / "styles.onnx").path,
        "onnx map": export.export_onnx(model, folder / "map.onnx", weight_maps=True).path,
        "tflite": export.export_tflite(model, folder / "styles.tflite").path,
        "tflite map": export.export_tflite(model, folder / "map.tflite", weight_maps=True).path,
    }


def runner(exports, name):
    return (runtimes.OnnxRunner if name.startswith("onnx") else runtimes.LiteRTRunner)(
        exports[name])


def keras(model, images, condition):
    return runtimes.keras_pictures(model, images, condition)


def photos(batch, height, width, seed=0):
    return np.random.default_rng(seed).random((batch, height, width, 3), dtype=np.float32)


# ------------------------------------------------------------------ the graph


@pytest.mark.slow
@pytest.mark.parametrize("height, width, first_by_phases", [(13, 17, False), (24, 32, False),
                                                            (13, 17, True)])
def test_the_portable_graph_computes_the_keras_network(model, height, width, first_by_phases):
    """Also with the first convolution by phases (what int8 models run), in float."""
    function = portable.portable_function(model, first_by_phases=first_by_phases)
    images = photos(2, height, width)
    weights = np.concatenate([STYLE, BLEND])
    painted = function(images, weights)["stylized_image"].numpy()
    np.testing.assert_allclose(painted, keras(model, images, weights), atol=1e-5)
    maps = np.broadcast_to(weights[:, None, None, :], (2, height, width, 3)).copy()
    maps[0, : height // 2] = [1.0, 0.0, 0.0]
    by_maps = portable.portable_function(model, style="map")(images, maps)["stylized_image"]
    np.testing.assert_allclose(by_maps.numpy(), keras(model, images, maps), atol=1e-5)


@pytest.mark.parametrize("amount", [2, 4])
def test_padding_and_normalizing_the_phases_equal_doing_it_to_the_picture(amount):
    """The phase form (space-to-depth, 2 x 2 blocks) of the reflection-padded,
    instance-normalized picture is what `reflect_phases` / `normalize_phases` give."""
    import tensorflow as tf

    graph = portable._Graph("NHWC", "slices")
    picture = tf.constant(np.random.default_rng(3).normal(size=(2, 12, 10, 5)), tf.float32)
    padded = tf.pad(picture, [[0, 0], [amount] * 2, [amount] * 2, [0, 0]], mode="REFLECT")
    np.testing.assert_array_equal(
        graph.reflect_phases(tf.nn.space_to_depth(picture, 2), amount).numpy(),
        tf.nn.space_to_depth(padded, 2).numpy())
    gamma, beta = (tf.constant(np.random.default_rng(seed).normal(size=(2, 1, 1, 5)),
                               tf.float32) for seed in (4, 5))
    np.testing.assert_allclose(
        graph.normalize_phases(tf.nn.space_to_depth(picture, 2), gamma, beta, 1e-3).numpy(),
        tf.nn.space_to_depth(graph.normalize(picture, gamma, beta, 1e-3), 2).numpy(),
        atol=1e-5)


def test_an_unfolded_convolution_equals_the_direct_one():
    """`conv_unfolded` (3 rows side by side, a dilated kernel of a third of the rows)."""
    import tensorflow as tf

    graph = portable._Graph("NHWC", "slices")
    rng = np.random.default_rng(6)
    picture = tf.constant(rng.random((2, 17, 14, 3)), tf.float32)
    kernel = rng.normal(size=(9, 9, 3, 5)).astype(np.float32)
    np.testing.assert_allclose(graph.conv_unfolded(picture, kernel).numpy(),
                               tf.nn.conv2d(picture, kernel, 1, "VALID").numpy(), atol=1e-5)


@pytest.mark.slow
def test_weights_that_are_not_convex_give_nan_as_in_keras(model):
    function = portable.portable_function(model)
    painted = function(photos(2, 16, 16), np.array([[0.5, 0.6, 0.0], [1.0, 0.0, 0.0]],
                                                    np.float32))["stylized_image"].numpy()
    assert np.isnan(painted[0]).all() and np.isfinite(painted[1]).all()


# ---------------------------------------------------------------- float exports


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onnx", "tflite"])
@pytest.mark.parametrize("height, width", [(13, 17), (40, 28)])
def test_float_exports_give_the_keras_pictures_at_any_size_in_a_batch(model, exports, name,
                                                                      height, width):
    images = photos(2, height, width)
    weights = np.concatenate([STYLE, BLEND])
    painted = runner(exports, name)(images, weights)
    assert painted.shape == (2, height, width, 3)
    np.testing.assert_allclose(painted, keras(model, images, weights), atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onnx map", "tflite map"])
def test_weight_map_exports_give_the_keras_spatial_blend(model, exports, name):
    images = photos(1, 20, 26)
    maps = np.zeros((1, 20, 26, 3), np.float32)
    maps[..., 0] = np.linspace(0, 1, 26)
    maps[..., 2] = 1 - maps[..., 0]
    np.testing.assert_allclose(runner(exports, name)(images, maps), keras(model, images, maps),
                               atol=1e-4)


@pytest.mark.slow
def test_the_onnx_export_keeps_the_style_names(exports):
    assert runtimes.OnnxRunner(exports["onnx"]).style_names == NAMES


def with_style_names(exports, name, text, folder):
    """A copy of the export `name` whose style_names metadata is `text`."""
    source = exports[name]
    if name == "onnx":
        import onnx

        proto = onnx.load(source)
        for entry in proto.metadata_props:
            if entry.key == "style_names":
                entry.value = text
        content = proto.SerializeToString()
    else:
        content = runtimes.with_tflite_metadata(source.read_bytes(), "style_names", text)
    path = folder / f"named{source.suffix}"
    path.write_bytes(content)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onnx", "tflite"])
@pytest.mark.parametrize("text", ["{not json", "5", '{"wave": 0}'])
def test_style_names_metadata_that_is_not_a_list_of_names_gives_numbered_styles(
        exports, tmp_path, name, text):
    network = runtimes.ExportedNetwork(with_style_names(exports, name, text, tmp_path))
    assert network.style_names == ["style_0", "style_1", "style_2"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onnx", "tflite"])
@pytest.mark.parametrize("text, words", [("[1, 2, 3]", "a style name is text"),
                                         ('["a", "b", "a"]', "two styles named 'a'"),
                                         ('["a", null, "c"]', "a style name is text")])
def test_style_names_metadata_with_bad_names_is_refused_in_one_line(capsys, exports, tmp_path,
                                                                     name, text, words):
    path = with_style_names(exports, name, text, tmp_path)
    photo = tmp_path / "photo.png"
    from style_transfer.base.images import save_image

    save_image(photos(1, 16, 16)[0], photo)
    assert_refused(capsys, ["stylize", "--model", str(path), str(photo), "--style", "0",
                            "--out", str(tmp_path / "out")],
                   tmp_path, ["style_names metadata of", words])


@pytest.mark.slow
def test_a_fixed_size_litert_model_takes_that_size_and_refuses_others(model, tmp_path):
    path = export.export_tflite(model, tmp_path / "fixed.tflite", image_size=(18, 22)).path
    fixed = runtimes.LiteRTRunner(path)
    images = photos(1, 18, 22)
    np.testing.assert_allclose(fixed(images, STYLE), keras(model, images, STYLE), atol=1e-4)
    # Each side named: "takes 18 x 22, received 20 x 24" did not say which is the width.
    with pytest.raises(BadInput, match="takes pictures 22 pixels wide and 18 high .* received "
                       "one 24 wide and 20 high"):
        fixed(photos(1, 20, 24), STYLE)


@pytest.mark.slow
def test_a_litert_runner_called_from_two_threads_paints_one_call_at_a_time(exports):
    # The web page paints previews and full-size pictures in several threads with one runner;
    # LiteRT's interpreter resizes and fills its tensors in place (concurrent previews of
    # two photos failed with "Dimension mismatch" or "at least 1 reference to internal data").
    import threading

    litert = runner(exports, "tflite")
    interpreter = litert.interpreter
    second_entered, overlapped = threading.Event(), []

    class Watched:
        """The interpreter, noting when the second thread calls it while the first invokes."""

        def __getattr__(self, name):
            method = getattr(interpreter, name)

            def watched(*args, **kwargs):
                if threading.current_thread() is second:
                    second_entered.set()
                elif name == "invoke":
                    second.start()
                    # The second call either reaches the interpreter (at once, unless it waits
                    # its turn) or has not when this returns.
                    overlapped.append(second_entered.wait(timeout=1))
                return method(*args, **kwargs)
            return watched

    litert.interpreter = Watched()
    images, other = photos(1, 16, 16), photos(1, 24, 20, seed=1)
    pictures = {}
    second = threading.Thread(target=lambda: pictures.update(other=litert(other, BLEND)))
    pictures["first"] = litert(images, STYLE)
    second.join()
    assert overlapped == [False]
    litert.interpreter = interpreter
    np.testing.assert_allclose(pictures["first"], litert(images, STYLE), atol=1e-6)
    np.testing.assert_allclose(pictures["other"], litert(other, BLEND), atol=1e-6)


@pytest.mark.slow
def test_a_style_input_of_the_wrong_shape_is_refused(exports):
    with pytest.raises(BadInput, match="N = 3"):
        runner(exports, "onnx")(photos(1, 16, 16), np.ones((1, 4), np.float32) / 4)
    with pytest.raises(BadInput, match="weight map|height, width"):
        runner(exports, "tflite map")(photos(1, 16, 16), STYLE)


# ----------------------------------------------------------------- quantized


def check_quantized_export(model, tmp_path, quantize, floor_db, image_size=None):
    """A quantized TFLite export reaches `floor_db` against the Keras pictures, in its own
    check and on a picture of ours (test_export_on_backends.py runs it on JAX and PyTorch)."""
    written = export.export_tflite(model, tmp_path / "q.tflite", quantize=quantize,
                                   image_size=image_size)
    assert written.report.psnr_db >= floor_db and written.report.tolerance is None
    images = photos(1, 32, 32, seed=3)
    painted = runtimes.LiteRTRunner(written.path)(images, BLEND)
    assert runtimes.psnr_db(keras(model, images, BLEND), painted) >= floor_db


def check_int8_with_calibration(model, tmp_path, count, image_size=None):
    """int8 with `count` calibration photos: full integer at 30 dB or more, or refused with
    nothing written."""
    from style_transfer.base.images import save_image

    folder = tmp_path / "photos"
    for seed in range(count):
        save_image(photos(1, 40, 48, seed)[0], folder / f"{seed}.png")
    out = tmp_path / "int8.tflite"
    try:
        written = export.export_tflite(model, out, quantize="int8", calibration=folder,
                                       image_size=image_size)
    except BadInput as error:  # Below 30 dB: refused, and nothing written.
        assert "PSNR" in str(error) and "nothing was written" in str(error)
        assert not out.exists()
    else:
        assert written.description == "TFLite, int8, full integer"
        assert written.report.psnr_db >= 30.0


@pytest.mark.slow
@pytest.mark.parametrize("quantize, floor_db", [("float16", 35.0), ("int8", 30.0)])
def test_quantized_exports_reach_their_psnr_against_float(model, tmp_path, quantize, floor_db):
    check_quantized_export(model, tmp_path, quantize, floor_db)


@pytest.mark.slow
def test_int8_with_calibration_photos_is_full_integer_or_refused(model, tmp_path):
    check_int8_with_calibration(model, tmp_path, count=3)


@pytest.mark.slow
def test_a_failed_check_writes_nothing_and_says_why(model, tmp_path, monkeypatch):
    monkeypatch.setitem(export.MIN_PSNR_DB, "float16", 500.0)
    out = tmp_path / "f16.tflite"
    with pytest.raises(BadInput, match=r"PSNR .* \(at least 500 dB\).*nothing was written"):
        export.export_tflite(model, out, quantize="float16")
    assert not out.exists()


# ---------------------------------------------------------------------- NaN


@pytest.fixture(scope="module")
def broken_model():
    """The test network with one NaN in the first convolution's kernel."""
    model = untrained_model_with_distinct_styles(seed=1)
    kernel = model.contract[0].conv.kernel
    values = kernel.numpy()
    values[4, 4, 0, 0] = np.nan
    kernel.assign(values)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["tensorflow", "onnxruntime", "litert"])
def test_a_nan_weight_paints_nan_on_every_runtime_for_one_picture(broken_model, runtime,
                                                                  tmp_path, monkeypatch):
    # Every runtime propagates NaN as Keras does, and stylize's guard refuses the picture.
    monkeypatch.setenv("STYLE_TRANSFER_CACHE_DIR", str(tmp_path))
    stylize.use_runtime(broken_model, runtime)
    try:
        painted = stylize.network_function(broken_model)(photos(1, 24, 24), STYLE)
        with pytest.raises(BadInput, match="painted NaN or infinite pixels"):
            stylize.stylize(broken_model, photos(1, 24, 24)[0], "scream")
    finally:
        stylize.use_runtime(broken_model, "tensorflow")
    assert np.isnan(painted).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onnx", "tflite"])
def test_a_nan_pixel_paints_nan(exports, name):
    images = photos(1, 16, 16)
    images[0, 3, 5, 1] = np.nan
    assert np.isnan(runner(exports, name)(images, STYLE)).all()


# ------------------------------------------------------------ stylize's runtimes


@pytest.mark.slow
def test_a_runtime_converts_once_per_content_and_paints_the_keras_pictures(model, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("STYLE_TRANSFER_CACHE_DIR", str(tmp_path))
    stylize.use_runtime(model, "onnxruntime")
    try:
        image = photos(1, 21, 17)[0]
        painted = stylize.stylize_many(model, image, ["wave", {"wave": 0.5, "scream": 0.5}])
        assert len(list((tmp_path / "converted").glob("*.onnx"))) == 1
    finally:
        stylize.use_runtime(model, "tensorflow")
    expected = stylize.stylize_many(model, image, ["wave", {"wave": 0.5, "scream": 0.5}])
    np.testing.assert_allclose(np.stack(painted), np.stack(expected), atol=1e-4)
    # A copy of the model (same content) reads the cached file: no conversion.
    twin = untrained_model_with_distinct_styles()
    monkeypatch.setattr(runtimes, "onnx_model", lambda *args: pytest.fail("converted again"))
    runner_ = runtimes.network_runner(twin, "onnxruntime")
    np.testing.assert_allclose(runner_(image[None], STYLE), keras(model, image[None], STYLE),
                               atol=1e-4)


def test_auto_paints_on_the_first_runtime_installed_else_tensorflow(model, monkeypatch):
    installed = set()
    monkeypatch.setattr(runtimes, "available", lambda runtime: runtime in installed)
    stylize.use_runtime(model, "auto")
    try:
        assert stylize.model_runtime(model) == "tensorflow"
        installed.add("onnxruntime")
        assert stylize.model_runtime(model) == "onnxruntime"
        installed.add("litert")
        assert stylize.model_runtime(model) == "litert"
        stylize.use_xla(model)
        assert stylize.model_runtime(model) == "tensorflow"
    finally:
        stylize.use_xla(model, enabled=False)
        stylize.use_runtime(model, "tensorflow")


@pytest.mark.slow
def test_auto_paints_a_mixed_precision_model_on_tensorflow_without_converting(monkeypatch):
    # Its pictures are computed in bfloat16: every float32 conversion failed its check, so
    # each run converted (seconds) and warned before painting with TensorFlow.
    mixed = StyleTransferNetwork(len(NAMES), alpha=0.25, style_names=NAMES,
                                 dtype="mixed_bfloat16")
    mixed.build()
    monkeypatch.setattr(runtimes, "available", lambda runtime: True)
    monkeypatch.setattr(runtimes, "network_runner", None)  # A conversion would fail here.
    stylize.use_runtime(mixed, "auto")
    assert stylize.model_runtime(mixed) == "tensorflow"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stylize.stylize(mixed, photos(1, 16, 16)[0], 0).shape == (16, 16, 3)


def test_a_missing_runtime_extra_is_a_one_line_error_naming_it(model, monkeypatch):
    import sys

    for name in ("ai_edge_litert", "ai_edge_litert.interpreter"):
        monkeypatch.setitem(sys.modules, name, None)  # As if not installed.
    with pytest.raises(BadInput, match=r"litert extra.*pip install '\.\[litert\]'"):
        stylize.use_runtime(model, "litert")


# ---------------------------------------------------------------- the commands


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "styles.keras"
    save_model(model, path)
    return str(path)


@pytest.mark.slow
def test_stylize_paints_with_an_exported_file_as_with_the_model(capsys, model_file, exports,
                                                                 tmp_path):
    from style_transfer.base.images import load_image, save_image

    photo = tmp_path / "photo.png"
    save_image(photos(1, 19, 23)[0], photo)
    outputs = {}
    for name, model_option in (("keras", model_file), ("onnx", str(exports["onnx"])),
                               ("tflite", str(exports["tflite"]))):
        outputs[name] = tmp_path / f"{name}.png"
        assert main(["stylize", "--quiet", "--model", model_option, str(photo), "--blend",
                     "wave=0.5,scream=0.5", "--out", str(outputs[name])]) == 0
    expected = load_image(outputs["keras"])
    for name in ("onnx", "tflite"):
        assert np.abs(load_image(outputs[name]) - expected).max() <= 1 / 255 + 1e-6


@pytest.mark.slow
def test_export_of_a_tflite_model_reports_its_check(capsys, model_file, tmp_path):
    out = tmp_path / "int8.tflite"
    assert main(["export", "--model", model_file, "--format", "tflite", "--quantize", "int8",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "TFLite, int8, dynamic range" in captured.err and "PSNR" in captured.err


@pytest.mark.parametrize("options, words", [
    (["--format", "onnx", "--quantize", "int8"], ["--quantize", "tflite only"]),
    (["--format", "tflite", "--calibration", "photos"], ["--calibration", "--quantize int8"]),
    (["--format", "savedmodel", "--weight-maps"], ["--weight-maps"]),
    (["--format", "onnx", "--part", "encoder"], ["--part encoder", "arbitrary-style"]),
])
def test_export_options_that_do_not_apply_are_refused(capsys, model_file, tmp_path, options,
                                                      words):
    assert_refused(capsys, ["export", "--model", model_file, *options, "--out",
                            str(tmp_path / "out" / f"m.{options[1]}")], tmp_path / "out", words)


@pytest.mark.parametrize("format, name", [("onnx", "styles"), ("onnx", "styles.tflite"),
                                          ("tflite", "styles.onnx")])
def test_an_export_named_for_another_format_is_refused(capsys, model_file, tmp_path, format,
                                                       name):
    # `stylize --model` takes an export by its suffix: it could not paint with such a file.
    assert_refused(capsys, ["export", "--model", model_file, "--format", format, "--out",
                            str(tmp_path / "out" / name)], tmp_path / "out", [f".{format} file"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onnx", "tflite"])
def test_an_export_of_an_export_is_refused(capsys, exports, tmp_path, name):
    assert_refused(capsys, ["export", "--model", str(exports[name]), "--format", "tflite",
                            "--out", str(tmp_path / "out" / "again.tflite")], tmp_path / "out",
                   ["is an export already"])


@pytest.mark.slow
def test_an_existing_export_is_refused_without_overwrite(capsys, model_file, exports, tmp_path):
    out = tmp_path / "styles.onnx"
    out.write_bytes(b"an earlier file")
    assert_refused(capsys, ["export", "--model", model_file, "--format", "onnx", "--out",
                            str(out)], tmp_path, ["--overwrite"])


@pytest.mark.slow
def test_stylize_with_an_export_of_the_wrong_kind_is_refused(capsys, exports, tmp_path):
    from style_transfer.base.images import save_image

    photo = tmp_path / "photo.png"
    mask = tmp_path / "mask.png"
    save_image(photos(1, 16, 16)[0], photo)
    save_image(np.zeros((16, 16, 3), np.float32), mask)
    out = tmp_path / "out"
    assert_refused(capsys, ["stylize", "--model", str(exports["onnx"]), str(photo), "--mask",
                            str(mask), "--mask-styles", "wave,scream", "--mask-mode", "network",
                            "--out", str(out)], out, ["--weight-maps"])
    assert_refused(capsys, ["stylize", "--model", str(exports["tflite"]), str(photo),
                            "--runtime", "onnxruntime", "--out", str(out)], out,
                   ["painted by litert"])


@pytest.mark.slow
def test_stylize_mask_paints_with_an_export_made_with_weight_maps(capsys, model, exports,
                                                                  tmp_path):
    # Such a file takes weight maps only: the default mask mode is then network (composite
    # painted each style alone, which the file refused).
    from style_transfer.base.images import load_image, save_image

    photo, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    save_image(photos(1, 16, 16)[0], photo)
    labels = np.zeros((16, 16), np.uint8)
    labels[:, 8:] = 1
    save_image(labels, mask)
    options = ["stylize", "--quiet", "--model", str(exports["onnx map"]), str(photo), "--mask",
               str(mask), "--mask-styles", "wave,scream"]
    assert main([*options, "--out", str(tmp_path / "painted.png")]) == 0
    weight_map = np.zeros((1, 16, 16, 3), np.float32)
    weight_map[0, :, :8, 0] = weight_map[0, :, 8:, 1] = 1
    expected = keras(model, load_image(photo)[None], weight_map)[0]
    assert np.abs(load_image(tmp_path / "painted.png") - expected).max() <= 1 / 255 + 1e-4
    assert_refused(capsys, [*options, "--mask-mode", "composite", "--out",
                            str(tmp_path / "out.png")], tmp_path / "out.png",
                   ["--mask-mode network", "weight maps"])


@pytest.mark.slow
def test_an_export_refuses_a_photo_too_large_for_one_pass(exports, monkeypatch):
    from style_transfer.base.errors import BadInput
    from style_transfer.painting import stylize, tiling

    # Tiles take the whole picture's statistics layer by layer: only a Keras network has them.
    monkeypatch.setattr(tiling, "TILE_ABOVE_PIXELS", 16 * 16)
    exported = runtimes.ExportedNetwork(exports["onnx"])
    assert stylize.stylize(exported, photos(1, 16, 16)[0], 0).shape == (16, 16, 3)
    with pytest.raises(BadInput, match=r"styles\.onnx paints pictures of up to 256 pixels; "
                                       r"received 24x16: .*`max_size`"):
        stylize.stylize(exported, photos(1, 16, 24)[0], 0)


# ---------------------------------------------------------- arbitrary styles


def arbitrary_model_with_varied_heads():
    """A small arbitrary-style model (random MobileNetV2 encoder, embeddings of 8) whose
    MLP heads, which start at zero, are varied (test_export_on_backends.py uses it too)."""
    import cbn
    from style_transfer.base.errors import RandomWeightsWarning
    from style_transfer.models.arbitrary import create_arbitrary_model

    with pytest.warns(RandomWeightsWarning):
        model = create_arbitrary_model(encoder_weights="random", embedding_dim=8, alpha=0.25,
                                       style_image_size=32)
    rng = np.random.default_rng(0)
    for layer in cbn.conditional_layers(model.transformer):
        head = layer.mlp_layers[-1]
        head.kernel.assign(rng.normal(0, 0.1, head.kernel.shape).astype(np.float32))
    return model


@pytest.mark.slow
def test_an_arbitrary_style_model_exports_its_network_and_its_encoder(tmp_path):
    import onnxruntime

    model = arbitrary_model_with_varied_heads()
    network = runtimes.OnnxRunner(export.export_onnx(model, tmp_path / "network.onnx").path)
    assert network.style_input == "style_embedding"
    encoder = onnxruntime.InferenceSession(
        str(export.export_embedding_onnx(model, tmp_path / "encoder.onnx").path),
        providers=["CPUExecutionProvider"])
    style_images = np.random.default_rng(1).random((2, 32, 32, 3)).astype(np.float32)
    embeddings = encoder.run(None, {"style_image": style_images})[0]
    expected = np.asarray(model.embed(style_images))
    np.testing.assert_allclose(embeddings, expected, atol=1e-4 * max(1.0, np.abs(expected).max()))
    images = photos(2, 20, 28)
    np.testing.assert_allclose(network(images, embeddings),
                               np.asarray(model.transformer(images, embeddings)), atol=1e-4)
    with pytest.raises(BadInput, match="embeddings"):
        export.export_onnx(model, tmp_path / "maps.onnx", weight_maps=True)


@pytest.mark.slow
def test_the_default_stylize_path_paints_as_tensorflow(capsys, model_file, tmp_path,
                                                      monkeypatch):
    from style_transfer.base.images import load_image, save_image

    monkeypatch.setenv("STYLE_TRANSFER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(runtimes.ENVIRONMENT_VARIABLE, raising=False)  # the default: auto
    photo = tmp_path / "photo.png"
    save_image(photos(1, 22, 18)[0], photo)
    for name, extra in (("auto", []), ("tensorflow", ["--runtime", "tensorflow"])):
        assert main(["stylize", "--quiet", "--model", model_file, str(photo), "--style", "scream",
                     *extra, "--out", str(tmp_path / f"{name}.png")]) == 0
    assert list((tmp_path / "cache" / "converted").glob("*.tflite"))  # auto: LiteRT
    difference = np.abs(load_image(tmp_path / "auto.png") - load_image(tmp_path / "tensorflow.png"))
    assert difference.max() <= 1 / 255 + 1e-6
