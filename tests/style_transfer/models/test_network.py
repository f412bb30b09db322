"""The network's building blocks against the textbook operations they compute."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from style_transfer.models.network import StyleTransferNetwork, UpsampleConvBlock


def upsample_then_convolve(x, kernel):
    """The upsampling layer as Dumoulin et al. write it: nearest x2, reflect pad, 3x3 conv."""
    x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)
    x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
    return tf.nn.conv2d(x, kernel, strides=1, padding="VALID")


@pytest.mark.parametrize("height, width", [(4, 4), (5, 7), (1, 3), (8, 2)])
def test_upsample_conv_equals_upsample_then_convolve(height, width):
    rng = np.random.default_rng(0)
    block = UpsampleConvBlock(5, 3, num_styles=2)
    x = rng.normal(size=(2, height, width, 3)).astype("float32")
    block(x, np.array([0, 1]))
    block.conv.kernel.assign(rng.normal(size=(3, 3, 3, 5)).astype("float32"))
    got = block.upsample_conv(tf.constant(x)).numpy()
    want = upsample_then_convolve(x, block.conv.kernel).numpy()
    assert got.shape == (2, 2 * height, 2 * width, 5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_upsample_conv_gradients_equal_those_of_upsample_then_convolve():
    rng = np.random.default_rng(1)
    block = UpsampleConvBlock(4, 3, num_styles=1)
    x = tf.constant(rng.normal(size=(1, 6, 5, 3)).astype("float32"))
    block(x, np.array([0]))
    upstream = tf.constant(rng.normal(size=(1, 12, 10, 4)).astype("float32"))
    kernel = block.conv.kernel.value

    def gradients(fn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(fn() * upstream)
        return tape.gradient(loss, [x, kernel])

    got = gradients(lambda: block.upsample_conv(x))
    want = gradients(lambda: upsample_then_convolve(x, kernel))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_upsample_blocks_keep_their_3x3_kernel_variables():
    """Models saved before the 2x2-phase computation load unchanged: same variables."""
    model = StyleTransferNetwork(num_styles=2, alpha=0.25)
    model.build()
    kernels = {
        w.path.split("/", 1)[1]: tuple(w.shape) for w in model.weights if "/conv/" in w.path
    }
    assert kernels["upsample1/conv/kernel"] == (3, 3, 32, 16)
    assert kernels["upsample2/conv/kernel"] == (3, 3, 16, 8)
    assert len(kernels) == 3 + 10 + 2 + 1


def test_executed_flops_count_the_upsampling_convolutions_at_low_resolution():
    from style_transfer.painting import stylize

    model = StyleTransferNetwork(num_styles=1)
    nominal = stylize.network_flops(model, 512, 512)
    upsample_nominal = 2 * (256 ** 2 * 9 * 128 * 64 + 512 ** 2 * 9 * 64 * 32)
    upsample_executed = 2 * (129 ** 2 * 4 * 128 * 4 * 64 + 257 ** 2 * 4 * 64 * 4 * 32)
    executed = stylize.network_flops(model, 512, 512, executed=True)
    assert executed == nominal - upsample_nominal + upsample_executed


@pytest.mark.parametrize("kernel_size, filters", [(9, 3), (3, 4)])
def test_row_convolution_of_few_filter_blocks_equals_the_convolution(kernel_size, filters):
    from style_transfer.models.network import ConvBlock

    rng = np.random.default_rng(2)
    block = ConvBlock(filters, kernel_size, num_styles=1)
    x = tf.constant(rng.normal(size=(2, 13, 10, 5)).astype("float32"))
    block(x, np.array([0, 0]))
    padded = tf.pad(x, [[0, 0]] + [[kernel_size // 2] * 2] * 2 + [[0, 0]], mode="REFLECT")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(padded)
        got = block._convolve_by_rows(padded)
        want = tf.nn.conv2d(padded, block.conv.kernel, strides=1, padding="VALID")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)
    for g, w in zip(tape.gradient(got, [padded, block.conv.kernel.value]),
                    tape.gradient(want, [padded, block.conv.kernel.value])):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_a_model_saved_before_explicit_architectures_loads_and_paints_the_same():
    from style_transfer.models.loading import load_style_model

    fixtures = Path(__file__).parent / "fixtures"
    model = load_style_model(fixtures / "main_e3a3d0d_alpha0.125_2styles.keras")
    recorded = np.load(fixtures / "main_e3a3d0d_alpha0.125_2styles.npz")
    assert model.style_names == ["ink", "rust"]
    got = np.asarray(model(recorded["images"], recorded["weights"]))
    np.testing.assert_allclose(got, recorded["stylized"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["table", "embedding"])
def test_build_creates_every_weight_a_call_uses_without_painting(kind):
    # `build` works from shapes alone (loading a file stays cheap): a call afterwards, in
    # any form of style condition, must find every weight there and add none.
    table = kind == "table"
    model = (StyleTransferNetwork(num_styles=3, alpha=0.125) if table
             else StyleTransferNetwork(embedding_dim=5, alpha=0.125))
    model.build()
    built = [w.path for w in model.weights]
    assert all(layer.built for layer in model._flatten_layers())
    images = np.random.default_rng(0).random((2, 20, 24, 3)).astype("float32")
    conditions = ([np.array([0, 2]), np.full((2, 3), 1 / 3, "float32"),
                   np.full((2, 20, 24, 3), 1 / 3, "float32")] if table
                  else [np.ones((2, 5), "float32")])
    for styles in conditions:
        assert model(images, styles).shape == (2, 20, 24, 3)
    assert [w.path for w in model.weights] == built
    assert len(built) == len(set(built)) == 16 * (3 if table else 5)


@pytest.mark.slow
def test_the_android_slim_architecture_has_the_widths_of_tensorflows_stylize_demo():
    model = StyleTransferNetwork(num_styles=26, architecture="android-slim")
    model.build()
    kernels = {w.path.split("/", 1)[1]: tuple(w.shape) for w in model.weights
               if w.path.endswith("kernel")}
    assert kernels["conv1/conv/kernel"] == (9, 9, 3, 32)
    assert kernels["conv3/conv/kernel"] == (3, 3, 32, 32)
    assert kernels["residual6/second/conv/kernel"] == (3, 3, 32, 32)
    assert kernels["upsample1/conv/kernel"] == (3, 3, 32, 8)
    assert kernels["upsample2/conv/kernel"] == (3, 3, 8, 4)
    assert kernels["to_rgb/conv/kernel"] == (9, 9, 4, 3)
    assert len(kernels) == 3 + 2 * 6 + 2 + 1
    tables = [w for w in model.weights if w.path.endswith("gamma")]
    assert sum(t.shape[1] for t in tables) == 3 * 32 + 12 * 32 + 8 + 4 + 3


@pytest.mark.slow
def test_a_network_with_an_architecture_saves_and_loads_it(tmp_path):
    from style_transfer.models.loading import load_style_model
    from style_transfer.models.network import Architecture
    from style_transfer.models.saving import save_model

    plan = Architecture(contract=(8, 8, 16), residual_blocks=2, residual_filters=16,
                        expand=(8, 4))
    model = StyleTransferNetwork(num_styles=2, architecture=plan)
    model.build()
    save_model(model, tmp_path / "m.keras")
    loaded = load_style_model(tmp_path / "m.keras")
    assert loaded.architecture == plan
    images = np.random.default_rng(0).uniform(size=(1, 16, 12, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(images, np.array([1]))),
                                  np.asarray(model(images, np.array([1]))))


def test_residual_blocks_must_be_as_wide_as_the_last_contracting_convolution():
    from style_transfer.models.network import Architecture

    with pytest.raises(ValueError, match="residual_filters"):
        Architecture(contract=(8, 8, 16), residual_blocks=2, residual_filters=8, expand=(8, 4))
