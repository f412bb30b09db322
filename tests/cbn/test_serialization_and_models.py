"""Configs, `.keras` files, and use inside Functional, subclassed and Sequential models."""

from pathlib import Path

import numpy as np
import keras
import pytest

import cbn
from cbn import (
    ConditionalBatchNormalization,
    ConditionalGroupNormalization,
    ConditionalInstanceNormalization,
    ConditionalLayerNormalization,
)
from cbn_testing import LAYER_CLASSES, LAYER_IDS, random_inputs, randomize_table, to_numpy

IMAGE_SHAPE = (6, 6, 3)
NUM_CONDITIONS = 3
CONDITION_DIM = 4


def functional_model(layer, condition_input):
    """image -> conv -> conditional layer -> conv, with the condition as a second input."""
    images = keras.Input(IMAGE_SHAPE)
    hidden = keras.layers.Conv2D(4, 3, padding="same")(images)
    hidden = layer(hidden, condition_input)
    outputs = keras.layers.Conv2D(2, 1)(hidden)
    return keras.Model([images, condition_input], outputs)


def table_model(layer_class):
    layer = layer_class(num_conditions=NUM_CONDITIONS)
    model = functional_model(layer, keras.Input((), dtype="int32"))
    randomize_table(layer)
    return model


def mlp_model(layer_class):
    layer = layer_class(mlp_units=(5,))
    model = functional_model(layer, keras.Input((CONDITION_DIM,)))
    head = layer.mlp_layers[-1]
    head.kernel.assign(
        np.random.default_rng(2).normal(size=head.kernel.shape).astype("float32")
    )
    return model


def assert_same_predictions_after_reload(model, inputs, tmp_path):
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        to_numpy(reloaded.predict(inputs, verbose=0)),
        to_numpy(model.predict(inputs, verbose=0)),
    )
    return reloaded


@pytest.mark.parametrize(
    "layer",
    [
        ConditionalBatchNormalization(
            num_conditions=5, momentum=0.9, epsilon=1e-4, normalize_weights=True,
            freeze_statistics=True, trainable_rows=[1, 3],
            gamma_initializer=keras.initializers.RandomNormal(1.0, 0.1, seed=3),
            moving_variance_initializer="zeros", name="cbn_table",
        ),
        ConditionalBatchNormalization(mlp_units=(8, 4), mlp_activation="tanh"),
        ConditionalInstanceNormalization(num_conditions=2, beta_initializer="ones"),
        ConditionalInstanceNormalization(
            mlp_units=(), kernel_initializer="he_normal", dtype="mixed_bfloat16"
        ),
        ConditionalGroupNormalization(groups=-1, num_conditions=3, epsilon=1e-5),
        ConditionalGroupNormalization(groups=4, mlp_units=(6,), mlp_activation="silu"),
        ConditionalLayerNormalization(num_conditions=4, normalize_weights=True),
        ConditionalLayerNormalization(mlp_units=(), epsilon=1e-6),
    ],
    ids=["cbn-table", "cbn-mlp", "cin-table", "cin-mlp", "cgn-table", "cgn-mlp", "cln-table",
         "cln-mlp"],
)
def test_config_round_trip_reproduces_the_config(layer):
    config = layer.get_config()
    rebuilt = type(layer).from_config(config)
    assert rebuilt.get_config() == config




@pytest.mark.slow
@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_table_model_survives_keras_file(layer_class, tmp_path):
    model = table_model(layer_class)
    inputs = [random_inputs((3,) + IMAGE_SHAPE), np.array([2, 0, 1], "int32")]
    assert_same_predictions_after_reload(model, inputs, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_mlp_model_survives_keras_file(layer_class, tmp_path):
    model = mlp_model(layer_class)
    conditions = np.random.default_rng(1).normal(size=(3, CONDITION_DIM)).astype("float32")
    inputs = [random_inputs((3,) + IMAGE_SHAPE), conditions]
    assert_same_predictions_after_reload(model, inputs, tmp_path)


def test_model_with_appended_rows_survives_keras_file(tmp_path):
    model = table_model(ConditionalInstanceNormalization)
    new_ids = cbn.append_conditions(model, count=2, init=0)
    layer = cbn.conditional_layers(model)[0]
    layer.beta.assign(to_numpy(layer.beta) + np.arange(5, dtype="float32")[:, None])
    inputs = [random_inputs((3,) + IMAGE_SHAPE), np.array(new_ids + [0], "int32")]

    reloaded = assert_same_predictions_after_reload(model, inputs, tmp_path)

    assert cbn.conditional_layers(reloaded)[0].num_conditions == NUM_CONDITIONS + 2


@keras.saving.register_keras_serializable(package="cbn_tests")
class ConvStyleBlock(keras.layers.Layer):
    """Conv followed by conditional instance norm with a fixed style: fits in a Sequential."""

    def __init__(self, style_id, num_styles, **kwargs):
        super().__init__(**kwargs)
        self.style_id = style_id
        self.num_styles = num_styles
        self.conv = keras.layers.Conv2D(4, 3, padding="same")
        self.norm = ConditionalInstanceNormalization(num_conditions=num_styles)

    def build(self, inputs_shape):
        self.conv.build(inputs_shape)
        conv_shape = self.conv.compute_output_shape(inputs_shape)
        self.norm.build(conv_shape, (inputs_shape[0],))

    def call(self, inputs):
        hidden = self.conv(inputs)
        style_ids = keras.ops.full((keras.ops.shape(inputs)[0],), self.style_id, "int32")
        return self.norm(hidden, style_ids)

    def get_config(self):
        return {
            **super().get_config(), "style_id": self.style_id, "num_styles": self.num_styles
        }


@pytest.mark.slow
def test_layer_wrapping_it_trains_in_sequential_model_and_survives_keras_file(tmp_path):
    block = ConvStyleBlock(style_id=1, num_styles=NUM_CONDITIONS)
    model = keras.Sequential([keras.Input(IMAGE_SHAPE), block, keras.layers.Conv2D(1, 1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    x = random_inputs((4,) + IMAGE_SHAPE)
    gamma_before = to_numpy(block.norm.gamma)

    model.fit(x, random_inputs((4,) + IMAGE_SHAPE[:-1] + (1,), seed=1), epochs=2, verbose=0)

    gamma_after = to_numpy(block.norm.gamma)
    assert not np.array_equal(gamma_after[1], gamma_before[1])
    assert np.array_equal(gamma_after[[0, 2]], gamma_before[[0, 2]])
    assert_same_predictions_after_reload(model, x, tmp_path)


class StyledNetwork(keras.Model):
    """A subclassed two-input model: conv, conditional batch norm, conv."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv_in = keras.layers.Conv2D(4, 3, padding="same")
        self.norm = ConditionalBatchNormalization(num_conditions=NUM_CONDITIONS)
        self.conv_out = keras.layers.Conv2D(1, 1)

    def call(self, inputs, training=None):
        images, style_ids = inputs
        hidden = self.norm(self.conv_in(images), style_ids, training=training)
        return self.conv_out(hidden)


@pytest.mark.slow
def test_subclassed_model_trains_the_rows_it_is_fed():
    model = StyledNetwork()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    x = random_inputs((4,) + IMAGE_SHAPE)
    style_ids = np.array([0, 2, 0, 2], "int32")
    targets = random_inputs((4,) + IMAGE_SHAPE[:-1] + (1,), seed=1)
    model([x, style_ids])
    beta_before = to_numpy(model.norm.beta)

    history = model.fit([x, style_ids], targets, batch_size=4, epochs=3, verbose=0)

    beta_after = to_numpy(model.norm.beta)
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.array_equal(beta_after[1], beta_before[1])
    assert not np.array_equal(beta_after[[0, 2]], beta_before[[0, 2]])
    assert not np.array_equal(to_numpy(model.norm.moving_mean), np.zeros(4))


@pytest.mark.slow
def test_exported_saved_model_predicts_like_the_model(tmp_path):
    # JAX exports through jax2tf with symbolic sizes for the `None` ones, gradients
    # included: it refused the closed-form gradient of the layers whose statistics come
    # from the input (statistics closed over, positions counted with `float`).
    if keras.backend.backend() == "torch":
        pytest.skip("Keras's export of a two-input model needs TensorFlow or JAX")
    import tensorflow as tf

    images = keras.Input((None, None, 4))
    ids = keras.Input((), dtype="int32")
    norms = [ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS),
             ConditionalLayerNormalization(num_conditions=NUM_CONDITIONS)]
    model = keras.Model([images, ids], norms[1](norms[0](images, ids), ids))
    for norm in norms:
        randomize_table(norm)
    inputs = [random_inputs((2, 3, 5, 4)), np.array([0, 2], "int32")]

    model.export(str(tmp_path / "exported"), verbose=False)

    reloaded = tf.saved_model.load(str(tmp_path / "exported"))
    served = reloaded.serve([tf.constant(array) for array in inputs])
    np.testing.assert_allclose(served.numpy(), to_numpy(model.predict(inputs, verbose=0)),
                               rtol=1e-6, atol=1e-6)


def _run_exported(path, fmt, inputs):
    """The first output of an exported model file run by its runtime on `inputs`."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path))
        return session.run(None, {spec.name: array for spec, array in
                                  zip(session.get_inputs(), inputs)})[0]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    # The file's inputs in its own order, matched by rank (images, then ids or vectors).
    details = interpreter.get_input_details()
    arrays = [next(a for a in inputs if a.ndim == len(detail["shape"])) for detail in details]
    for detail, array in zip(details, arrays):
        interpreter.resize_tensor_input(detail["index"], array.shape)
    interpreter.allocate_tensors()
    for detail, array in zip(details, arrays):
        interpreter.set_tensor(detail["index"], array)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["litert", "onnx"])
@pytest.mark.parametrize("layer_class", LAYER_CLASSES + [cbn.ConditionalRMSNormalization, "mlp"],
                         ids=LAYER_IDS + ["rms uncentered", "layer mlp"])
def test_keras_export_to_litert_and_onnx_runs_like_the_model(layer_class, fmt, tmp_path):
    # TensorFlow: `model.export(format="litert")` converts with LiteRT's built-in ops only;
    # RMS norm's forward pass once took its mean square by TensorFlow's EuclideanNorm, which
    # neither LiteRT nor tf2onnx has, so no model holding the layer converted. PyTorch: the
    # ONNX exporter traces the layers' PyTorch kernels as Keras ops (`cbn/_native.py`,
    # `_tracing`); it could not write their `torch.autograd.Function`s.
    backend = keras.backend.backend()
    if backend == "jax":
        pytest.skip("Keras exports from JAX to ONNX through jax2onnx, not a dependency")
    if backend == "torch" and fmt == "litert":
        pytest.skip("Keras exports from PyTorch to LiteRT through litert-torch, not a dependency")
    rng = np.random.default_rng(3)
    if layer_class == "mlp":
        layer = ConditionalLayerNormalization(mlp_units=(), condition_activation="silu")
        condition = keras.Input((CONDITION_DIM,), batch_size=2)
        condition_values = rng.normal(size=(2, CONDITION_DIM)).astype("float32")
    else:
        layer = layer_class(num_conditions=NUM_CONDITIONS)
        condition = keras.Input((), dtype="int32", batch_size=2)
        condition_values = np.array([0, 2], "int32")
    images = keras.Input((6, 6, 4), batch_size=2)
    model = keras.Model([images, condition], layer(images, condition))
    if layer_class != "mlp":
        randomize_table(layer)
    inputs = [random_inputs((2, 6, 6, 4), offset=1.0), condition_values]
    path = tmp_path / ("model.tflite" if fmt == "litert" else "model.onnx")
    expected = to_numpy(model.predict(inputs, verbose=0))  # the ONNX export wants a called model

    model.export(str(path), format=fmt, verbose=False)

    np.testing.assert_allclose(_run_exported(path, fmt, inputs), expected, rtol=1e-5, atol=1e-5)


@pytest.fixture
def fast_torch_compile(monkeypatch):
    """On torch, `jit_compile=True` means `torch.compile`; its default inductor backend
    spends minutes generating C++ on a CPU. `aot_eager` still traces the model with
    dynamo and AOT autograd (what the layer must survive) without the code generation.
    """
    if keras.backend.backend() == "torch":
        import functools
        import torch

        aot_eager_compile = functools.partial(torch.compile, backend="aot_eager")
        monkeypatch.setattr(torch, "compile", aot_eager_compile)


@pytest.mark.slow
def test_jit_compiled_fit_trains_every_condition_kind_and_predicts_like_eager_call(
    fast_torch_compile,
):
    images = keras.Input(IMAGE_SHAPE)
    style_ids = keras.Input((), dtype="int32")
    style_weights = keras.Input((NUM_CONDITIONS,))
    style_vectors = keras.Input((CONDITION_DIM,))
    norms = [
        ConditionalBatchNormalization(num_conditions=NUM_CONDITIONS),
        ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS),
        ConditionalBatchNormalization(mlp_units=(5,)),
        ConditionalGroupNormalization(groups=2, num_conditions=NUM_CONDITIONS),
        ConditionalLayerNormalization(mlp_units=()),
    ]
    outputs = keras.layers.Conv2D(4, 1)(images)  # 4 channels: two groups of two
    conditions = [style_ids, style_weights, style_vectors, style_ids, style_vectors]
    for norm, condition in zip(norms, conditions):
        outputs = norm(outputs, condition)
    model = keras.Model([images, style_ids, style_weights, style_vectors], outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", jit_compile=True)
    rng = np.random.default_rng(1)
    inputs = [
        random_inputs((4,) + IMAGE_SHAPE),
        np.array([0, 1, 2, 1], "int32"),
        rng.dirichlet(np.ones(NUM_CONDITIONS), size=4).astype("float32"),
        rng.normal(size=(4, CONDITION_DIM)).astype("float32"),
    ]
    targets = random_inputs((4,) + IMAGE_SHAPE[:-1] + (4,), seed=1)
    gammas_before = [to_numpy(norm.gamma) for norm in norms]

    history = model.fit(inputs, targets, batch_size=4, epochs=1, verbose=0)

    assert np.all(np.isfinite(history.history["loss"]))
    for norm, gamma_before in zip(norms, gammas_before):
        assert not np.array_equal(to_numpy(norm.gamma), gamma_before), norm.name
    np.testing.assert_allclose(
        to_numpy(model.predict(inputs, verbose=0)),
        to_numpy(model(inputs, training=False)),
        rtol=1e-5, atol=1e-5,
    )


def test_keras_file_saved_before_group_and_layer_norm_existed_predicts_the_same():
    """A model of CBN (table) and CIN (MLP) layers saved by the layers as of commit
    e3a3d0d, with the inputs it was given and its predictions then: the base class's
    restructuring renamed no weight and changed no output."""
    saved = Path(__file__).parent / "data" / "saved_before_group_and_layer_norm"
    model = keras.saving.load_model(saved.with_suffix(".keras"))
    recorded = np.load(saved.with_suffix(".npz"))
    inputs = [recorded["images"], recorded["ids"], recorded["vectors"]]
    np.testing.assert_allclose(
        to_numpy(model.predict(inputs, verbose=0)), recorded["outputs"], rtol=1e-5, atol=1e-5
    )
