"""The peers' adaptive norms, their weights loaded into `cbn` layers: the same numbers.

Each test builds a peer layer with random weights (diffusers' modules run in PyTorch
on numpy inputs, so they serve every Keras backend; keras-hub's layer is a Keras
layer), loads those weights into the `cbn` call of the porting table in
`docs/layers.md` with `cbn.load_scale_shift`, and compares the outputs on the same
inputs: float32 rounding apart (1e-5 relative).
"""

import numpy as np
import keras
import pytest

import cbn
from cbn_testing import random_inputs, to_numpy

diffusers_normalization = pytest.importorskip("diffusers.models.normalization")
torch = pytest.importorskip("torch")

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
BATCH, TOKENS, DIM, CONDITION_DIM = 3, 5, 8, 6


def torch_linear_chunks(linear, count):
    """A PyTorch `nn.Linear`'s weight and bias split into `count` output chunks, each
    `(kernel (in, out), bias (out,))` in Keras's layout."""
    kernel = linear.weight.detach().numpy().T
    bias = (np.zeros(kernel.shape[1], "float32") if linear.bias is None
            else linear.bias.detach().numpy())
    return list(zip(np.split(kernel, count, axis=1), np.split(bias, count)))


def torch_call(module, *args, **kwargs):
    """`module(*args, **kwargs)` with numpy arrays as PyTorch tensors; numpy outputs."""
    def to_torch(value):
        return torch.from_numpy(value) if isinstance(value, np.ndarray) else value

    with torch.no_grad():
        outputs = module(*map(to_torch, args), **{k: to_torch(v) for k, v in kwargs.items()})
    if isinstance(outputs, tuple):
        return [output.numpy() for output in outputs]
    return outputs.numpy()


def load(layer, x, condition, scale, shift=None, **norm_affine):
    """Builds `layer` on (x, condition) and loads scale/shift `(kernel, bias)` pairs."""
    layer(x, condition)
    shift = shift or (None, None)
    return cbn.load_scale_shift(layer, *scale, *shift, **norm_affine)


def tokens_and_condition(seed=0):
    x = random_inputs((BATCH, TOKENS, DIM), seed=seed, scale=2.0, offset=0.5)
    condition = random_inputs((BATCH, CONDITION_DIM), seed=seed + 1, scale=1.5)
    return x, condition


def layer_norm(x, epsilon):
    """Layer norm without affine (the second norm of a DiT block), in numpy."""
    centered = x - x.mean(axis=-1, keepdims=True)
    return centered / np.sqrt(np.mean(centered**2, axis=-1, keepdims=True) + epsilon)


# ------------------------------------------------------------------ diffusers


@pytest.mark.parametrize("act_fn", [None, "silu"])
def test_diffusers_ada_group_norm(act_fn):
    torch.manual_seed(0)
    peer = diffusers_normalization.AdaGroupNorm(CONDITION_DIM, 16, num_groups=4, act_fn=act_fn)
    x = random_inputs((BATCH, 5, 4, 16), scale=2.0, offset=0.5)  # channels last
    condition = random_inputs((BATCH, CONDITION_DIM), seed=1, scale=1.5)
    scale, shift = torch_linear_chunks(peer.linear, 2)
    ours = load(
        cbn.ConditionalGroupNormalization(
            groups=4, mlp_units=(), epsilon=peer.eps, condition_activation=act_fn
        ),
        x, condition, scale, shift,
    )

    expected = torch_call(peer, np.moveaxis(x, -1, 1), condition)

    np.testing.assert_allclose(to_numpy(ours(x, condition)), np.moveaxis(expected, 1, -1),
                               **TOLERANCE)


@pytest.mark.slow
def test_diffusers_ada_layer_norm_zero_shift_scale_and_gates():
    """adaLN-Zero: one linear map gives shift, scale and gate for attention and for the
    MLP. Ours: a conditional layer norm for each of the block's two norms and a Dense for
    the two gates (the wrapper in docs/layers.md)."""
    torch.manual_seed(0)
    peer = diffusers_normalization.AdaLayerNormZero(DIM)
    x, _ = tokens_and_condition()
    x_mlp = random_inputs((BATCH, TOKENS, DIM), seed=7, offset=-1.0)
    condition = random_inputs((BATCH, DIM), seed=1, scale=1.5)  # embedding_dim == dim
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = torch_linear_chunks(
        peer.linear, 6
    )
    norm_attention = load(
        cbn.ConditionalLayerNormalization(mlp_units=(), epsilon=1e-6,
                                          condition_activation="silu"),
        x, condition, scale_msa, shift_msa,
    )
    norm_mlp = load(
        cbn.ConditionalLayerNormalization(mlp_units=(), epsilon=1e-6,
                                          condition_activation="silu"),
        x_mlp, condition, scale_mlp, shift_mlp,
    )
    gates = keras.layers.Dense(2 * DIM)
    gates.build((None, DIM))
    gates.set_weights([np.concatenate([gate_msa[0], gate_mlp[0]], axis=1),
                       np.concatenate([gate_msa[1], gate_mlp[1]])])

    x_attention, peer_gate_msa, peer_shift_mlp, peer_scale_mlp, peer_gate_mlp = torch_call(
        peer, x, emb=condition
    )
    our_gate_msa, our_gate_mlp = np.split(
        to_numpy(gates(keras.activations.silu(condition))), 2, axis=-1
    )

    np.testing.assert_allclose(to_numpy(norm_attention(x, condition)), x_attention, **TOLERANCE)
    # The block applies the MLP's shift and scale to its second norm (without affine).
    np.testing.assert_allclose(
        to_numpy(norm_mlp(x_mlp, condition)),
        layer_norm(x_mlp, 1e-6) * (1 + peer_scale_mlp[:, None]) + peer_shift_mlp[:, None],
        **TOLERANCE,
    )
    np.testing.assert_allclose(our_gate_msa, peer_gate_msa, **TOLERANCE)
    np.testing.assert_allclose(our_gate_mlp, peer_gate_mlp, **TOLERANCE)


def test_diffusers_ada_layer_norm_single_with_a_blocks_scale_shift_table():
    """adaLN-single (PixArt-alpha): one shared map gives 6 * dim modulations for every
    block, and each block adds its own learned `scale_shift_table` (6, dim). Ours: the
    shared modulations are the condition, and each block's layer picks its scale and
    shift chunks with a fixed 0/1 kernel, its table rows as the bias."""
    torch.manual_seed(0)
    peer = diffusers_normalization.AdaLayerNormSingle(DIM)
    timesteps = np.array([3.0, 250.0, 999.0], "float32")
    modulations, _ = torch_call(peer, timesteps, batch_size=BATCH, hidden_dtype=torch.float32)
    table = random_inputs((6, DIM), seed=3, scale=0.5)
    x, _ = tokens_and_condition()
    chunk = np.eye(6 * DIM, dtype="float32").reshape(6 * DIM, 6, DIM)
    ours = load(
        cbn.ConditionalLayerNormalization(mlp_units=(), epsilon=1e-6),
        x, modulations, (chunk[:, 1], table[1]), (chunk[:, 0], table[0]),
    )
    ours.mlp_layers[-1].trainable = False  # the selection stays a selection

    # PixArt's block: shift_msa, scale_msa, ... = (table + modulations.reshape(B, 6, dim)).
    shift_msa, scale_msa = np.moveaxis(table + modulations.reshape(BATCH, 6, DIM), 1, 0)[:2]
    expected = layer_norm(x, 1e-6) * (1 + scale_msa[:, None]) + shift_msa[:, None]

    np.testing.assert_allclose(to_numpy(ours(x, modulations)), expected, **TOLERANCE)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("elementwise_affine", [False, True])
def test_diffusers_ada_layer_norm_continuous_layer_norm(elementwise_affine, bias):
    torch.manual_seed(0)
    peer = diffusers_normalization.AdaLayerNormContinuous(
        DIM, CONDITION_DIM, elementwise_affine=elementwise_affine, eps=1e-6, bias=bias,
        norm_type="layer_norm",
    )
    norm_affine = {}
    if elementwise_affine:
        with torch.no_grad():
            peer.norm.weight.uniform_(0.5, 1.5)
            norm_affine["norm_gamma"] = peer.norm.weight.numpy().copy()
            if bias:
                peer.norm.bias.normal_()
                norm_affine["norm_beta"] = peer.norm.bias.numpy().copy()
    x, condition = tokens_and_condition()
    scale, shift = torch_linear_chunks(peer.linear, 2)  # scale first, then shift
    ours = load(
        cbn.ConditionalLayerNormalization(mlp_units=(), epsilon=1e-6,
                                          condition_activation="silu"),
        x, condition, scale, shift, **norm_affine,
    )

    np.testing.assert_allclose(
        to_numpy(ours(x, condition)), torch_call(peer, x, condition), **TOLERANCE
    )


@pytest.mark.parametrize("elementwise_affine", [False, True])
def test_diffusers_ada_layer_norm_continuous_rms_norm(elementwise_affine):
    torch.manual_seed(0)
    peer = diffusers_normalization.AdaLayerNormContinuous(
        DIM, CONDITION_DIM, elementwise_affine=elementwise_affine, eps=1e-6,
        norm_type="rms_norm",
    )
    norm_affine = {}
    if elementwise_affine:
        with torch.no_grad():
            peer.norm.weight.uniform_(0.5, 1.5)
        norm_affine["norm_gamma"] = peer.norm.weight.detach().numpy().copy()
    x, condition = tokens_and_condition()
    scale, shift = torch_linear_chunks(peer.linear, 2)
    ours = load(
        cbn.ConditionalRMSNormalization(mlp_units=(), center=True, epsilon=1e-6,
                                        condition_activation="silu"),
        x, condition, scale, shift, **norm_affine,
    )

    np.testing.assert_allclose(
        to_numpy(ours(x, condition)), torch_call(peer, x, condition), **TOLERANCE
    )


# ------------------------------------------------------------------- keras-hub


@pytest.fixture(scope="module")
def keras_hub_adaptive_layer_norm():
    mmdit = pytest.importorskip("keras_hub.src.models.stable_diffusion_3.mmdit")
    return mmdit.AdaptiveLayerNormalization


@pytest.mark.slow
@pytest.mark.parametrize("num_modulations", [2, 6])
def test_keras_hub_adaptive_layer_normalization(keras_hub_adaptive_layer_norm, num_modulations):
    """SD3's MMDiT: SiLU, Dense to shift, scale (and gate, MLP shift, scale, gate), layer
    norm without affine in float32, epsilon 1e-6."""
    x, condition = tokens_and_condition()
    peer = keras_hub_adaptive_layer_norm(DIM, num_modulations=num_modulations)
    peer.build(x.shape, condition.shape)
    peer.dense.bias.assign(random_inputs(peer.dense.bias.shape, seed=2))  # zeros when built
    peer_outputs = peer(x, condition)
    kernel, bias = peer.dense.get_weights()
    chunks = list(zip(np.split(kernel, num_modulations, axis=1), np.split(bias, num_modulations)))
    ours = load(
        cbn.ConditionalLayerNormalization(mlp_units=(), epsilon=1e-6,
                                          condition_activation="silu"),
        x, condition, scale=chunks[1], shift=chunks[0],
    )

    if num_modulations == 2:
        np.testing.assert_allclose(to_numpy(ours(x, condition)), to_numpy(peer_outputs),
                                   **TOLERANCE)
        return
    gates = keras.layers.Dense(2 * DIM)
    gates.build((None, CONDITION_DIM))
    gates.set_weights([np.concatenate([chunks[2][0], chunks[5][0]], axis=1),
                       np.concatenate([chunks[2][1], chunks[5][1]])])
    our_gate_msa, our_gate_mlp = np.split(
        to_numpy(gates(keras.activations.silu(condition))), 2, axis=-1
    )
    x_attention, gate_msa, _, _, gate_mlp = (to_numpy(output) for output in peer_outputs)
    np.testing.assert_allclose(to_numpy(ours(x, condition)), x_attention, **TOLERANCE)
    np.testing.assert_allclose(our_gate_msa, gate_msa, **TOLERANCE)
    np.testing.assert_allclose(our_gate_mlp, gate_mlp, **TOLERANCE)


# ------------------------------------------------------------ load_scale_shift


def test_loaded_layer_gives_norm_affine_times_one_plus_scale_plus_shift():
    """The algebra of `load_scale_shift` on its own, without a peer: gamma(c) =
    norm_gamma * (1 + scale(c)), beta(c) = norm_beta * (1 + scale(c)) + shift(c)."""
    x, condition = tokens_and_condition()
    rng = np.random.default_rng(0)
    scale = (rng.normal(size=(CONDITION_DIM, DIM)), rng.normal(size=DIM))
    shift = (rng.normal(size=(CONDITION_DIM, DIM)), rng.normal(size=DIM))
    norm_gamma, norm_beta = rng.uniform(0.5, 1.5, size=DIM), rng.normal(size=DIM)
    layer = load(cbn.ConditionalLayerNormalization(mlp_units=(), epsilon=1e-6),
                 x, condition, scale, shift, norm_gamma=norm_gamma, norm_beta=norm_beta)

    gamma, beta = (to_numpy(t) for t in layer.gamma_beta(condition))

    s = condition @ scale[0] + scale[1]
    np.testing.assert_allclose(gamma, norm_gamma * (1 + s), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(beta, norm_beta * (1 + s) + condition @ shift[0] + shift[1],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "layer, kwargs, message",
    [
        (cbn.ConditionalLayerNormalization(mlp_units=(4,)), {},
         "expected a built cbn layer with a linear map"),
        (cbn.ConditionalLayerNormalization(num_conditions=2), {},
         "expected a built cbn layer with a linear map"),
        (cbn.ConditionalRMSNormalization(mlp_units=()), {"shift_bias": np.zeros(DIM)},
         "has no beta \\(center=False\\)"),
        (cbn.ConditionalLayerNormalization(mlp_units=()), {"scale_bias": np.zeros(DIM + 1)},
         "`scale_bias` must have shape \\(8,\\)"),
    ],
    ids=["hidden-layers", "table", "no-beta", "shape"],
)
def test_load_scale_shift_rejects_layers_and_weights_that_do_not_fit(layer, kwargs, message):
    x, condition = tokens_and_condition()
    layer(x, condition if layer.mlp_units is not None else np.zeros(BATCH, "int32"))
    with pytest.raises(ValueError, match=message):
        cbn.load_scale_shift(layer, np.zeros((CONDITION_DIM, DIM)), **kwargs)
