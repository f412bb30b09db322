"""ONNX and TFLite exports on the other Keras backends (JAX, PyTorch), run in onnxruntime and
LiteRT against the Keras network's pictures on that backend.

`tests/run_backends.py` runs this file with `KERAS_BACKEND=jax` and `KERAS_BACKEND=torch`;
on TensorFlow it is skipped (test_runtimes.py checks the same exports there). Tolerances
as test_runtimes.py's: float exports within 1e-4 of Keras, quantized ones at their PSNR. On
PyTorch every export ended in a traceback ("Can't call numpy() on Tensor that requires
grad") and the command refused the backend; the style encoder, traced by tf2onnx, ended in
a traceback on JAX and on PyTorch: PyTorch now exports it with its own exporter, JAX
refuses it in one line.
"""

import keras
import numpy as np
import pytest

from style_transfer.base.errors import BadInput
from style_transfer.cli.main import main
from style_transfer.models import export, runtimes
from style_transfer.models.saving import save_model
from tests.style_transfer.models.test_runtimes import (
    arbitrary_model_with_varied_heads,
    check_int8_with_calibration,
    check_quantized_export,
)

BACKEND = keras.backend.backend()
pytestmark = pytest.mark.skipif(BACKEND == "tensorflow",
                                reason="test_runtimes.py checks the exports on TensorFlow")
pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
pytest.importorskip("ai_edge_litert")

STYLE = np.array([[0.0, 1.0, 0.0]], np.float32)
BLEND = np.array([[0.6, 0.0, 0.4]], np.float32)


def keras_pictures(network, images, condition):
    """The Keras network's pictures on this backend (`predict` takes one input)."""
    return keras.ops.convert_to_numpy(network(images, condition))


def photos(batch, height, width, seed=0):
    return np.random.default_rng(seed).random((batch, height, width, 3), dtype=np.float32)


def onnx_session(path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("height, width", [(13, 17), (14, 18), (15, 16), (16, 16)])
def test_the_network_pads_a_picture_to_a_multiple_of_4_symmetrically(height, width):
    # Keras's PyTorch backend pads "symmetric" as "replicate": the network painted pictures
    # whose sides are 1 or 2 more than a multiple of 4 unlike TensorFlow and every export.
    from style_transfer.models.network import StyleTransferNetwork

    x = photos(2, height, width)
    padded = keras.ops.convert_to_numpy(StyleTransferNetwork._pad_to_multiple(x))
    np.testing.assert_array_equal(
        padded, np.pad(x, [(0, 0), (0, -height % 4), (0, -width % 4), (0, 0)], "symmetric"))


@pytest.fixture(scope="module")
def exports(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    return {
        "onnx": export.export_onnx(model, folder / "styles.onnx"),
        "onnx map": export.export_onnx(model, folder / "map.onnx", weight_maps=True),
        "tflite": export.export_tflite(model, folder / "styles.tflite"),
    }


@pytest.mark.slow
@pytest.mark.parametrize("height, width", [(13, 17), (40, 28)])
def test_an_onnx_export_gives_the_keras_pictures_in_onnxruntime(model, exports, height, width):
    images = photos(2, height, width)
    weights = np.concatenate([STYLE, BLEND])
    painted = onnx_session(exports["onnx"].path).run(
        ["stylized_image"], {"input_image": images, "style_weights": weights})[0]
    assert painted.shape == (2, height, width, 3)
    np.testing.assert_allclose(painted, keras_pictures(model, images, weights), atol=1e-4)
    assert exports["onnx"].report.passed and exports["onnx"].report.max_abs <= 1e-4


@pytest.mark.slow
def test_an_onnx_export_with_weight_maps_gives_the_keras_spatial_blend(model, exports):
    images = photos(1, 20, 26)
    maps = np.zeros((1, 20, 26, 3), np.float32)
    maps[..., 0] = np.linspace(0, 1, 26)
    maps[..., 2] = 1 - maps[..., 0]
    painted = onnx_session(exports["onnx map"].path).run(
        ["stylized_image"], {"input_image": images, "style_weight_map": maps})[0]
    np.testing.assert_allclose(painted, keras_pictures(model, images, maps), atol=1e-4)


@pytest.mark.slow
def test_a_tflite_export_gives_the_keras_pictures_through_its_signature(model, exports):
    # Made off TensorFlow, the file had no signature (the converter could not save the
    # Keras network as a SavedModel).
    from ai_edge_litert.interpreter import Interpreter

    serve = Interpreter(str(exports["tflite"].path)).get_signature_runner("serving_default")
    images = photos(2, 24, 32, seed=1)
    weights = np.concatenate([BLEND, STYLE])
    painted = serve(input_image=images, style_weights=weights)["stylized_image"]
    np.testing.assert_allclose(painted, keras_pictures(model, images, weights), atol=1e-4)
    odd = photos(1, 13, 18, seed=2)  # sides the runner pads to multiples of 4
    np.testing.assert_allclose(runtimes.LiteRTRunner(exports["tflite"].path)(odd, BLEND),
                               keras_pictures(model, odd, BLEND), atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("quantize, floor_db", [("float16", 35.0), ("int8", 30.0)])
def test_quantized_tflite_exports_reach_their_psnr(model, tmp_path, quantize, floor_db):
    check_quantized_export(model, tmp_path, quantize, floor_db, image_size=32)


@pytest.mark.slow
def test_int8_with_calibration_photos_is_full_integer_or_refused(model, tmp_path):
    check_int8_with_calibration(model, tmp_path, count=2, image_size=32)


@pytest.mark.slow
def test_the_export_command_writes_onnx_but_refuses_a_savedmodel_in_one_line(
        model_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", BACKEND)
    out = tmp_path / "styles.onnx"
    assert main(["export", "--model", model_file, "--format", "onnx", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert onnx_session(out).get_modelmeta().custom_metadata_map["style_names"]
    served = tmp_path / "served"
    assert main(["export", "--model", model_file, "--format", "savedmodel",
                 "--out", str(served)]) == 2
    assert capsys.readouterr().err == (
        f"style-transfer export: error: export --format savedmodel runs on TensorFlow only, "
        f"and KERAS_BACKEND is {BACKEND!r}; unset KERAS_BACKEND or set "
        f"KERAS_BACKEND=tensorflow.\n")
    assert not served.exists()


@pytest.fixture(scope="module")
def arbitrary(tmp_path_factory):
    """A small arbitrary-style model (random MobileNetV2 encoder, heads varied) and its file."""
    model = arbitrary_model_with_varied_heads()
    path = tmp_path_factory.mktemp("arbitrary") / "arbitrary.keras"
    save_model(model, path)
    return model, str(path)


@pytest.mark.slow
def test_an_arbitrary_style_models_network_exports_on_embeddings(arbitrary, tmp_path):
    model, _ = arbitrary
    network = runtimes.OnnxRunner(export.export_onnx(model, tmp_path / "network.onnx").path)
    assert network.style_input == "style_embedding"
    images = photos(2, 20, 28)
    embeddings = np.random.default_rng(1).normal(0, 1, (2, 8)).astype(np.float32)
    np.testing.assert_allclose(network(images, embeddings),
                               keras_pictures(model.transformer, images, embeddings), atol=1e-4)


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "torch", reason="the style encoder exports on PyTorch")
def test_the_style_encoder_exports_on_pytorch_for_any_batch(arbitrary, tmp_path, capsys,
                                                            monkeypatch):
    model, model_file = arbitrary
    out = tmp_path / "encoder.onnx"
    monkeypatch.setenv("KERAS_BACKEND", BACKEND)
    assert main(["export", "--model", model_file, "--format", "onnx", "--part", "encoder",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    session = onnx_session(out)
    assert [node.name for node in session.get_inputs()] == ["style_image"]
    style_images = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    embeddings = session.run(["style_embedding"], {"style_image": style_images})[0]
    expected = keras.ops.convert_to_numpy(model.embed(style_images, training=False))
    np.testing.assert_allclose(embeddings, expected,
                               atol=1e-4 * max(1.0, np.abs(expected).max()))


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "jax", reason="JAX has no exporter of the style encoder")
def test_the_style_encoder_export_is_refused_on_jax_in_one_line(arbitrary, tmp_path):
    model, _ = arbitrary
    out = tmp_path / "encoder.onnx"
    with pytest.raises(BadInput, match="^the style encoder exports on TensorFlow or PyTorch "
                                       "only, and Keras runs on 'jax'"):
        export.export_embedding_onnx(model, out)
    assert not out.exists()
