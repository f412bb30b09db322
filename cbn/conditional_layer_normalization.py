"""Layer normalization whose gamma and beta depend on a condition (adaptive layer norm)."""

import keras

from cbn.conditional_normalization import ConditionalNormalization


@keras.saving.register_keras_serializable(package="cbn")
class ConditionalLayerNormalization(ConditionalNormalization):
    """Layer normalization with gamma and beta chosen or predicted by a condition.

    Each position (a token of a transformer, a pixel of a feature map) is
    normalized over its own channels (the last axis), as in
    `keras.layers.LayerNormalization()`; there are no moving statistics:

        y = gamma(c) * (x - mean_channels(x)) / sqrt(var_channels(x) + epsilon) + beta(c)

    gamma(c) and beta(c) are per channel and, for a per-sample condition, the
    same for every token of the sample. With `mlp_units=(...)` an MLP predicts
    them from a conditioning vector `(batch, D)` and its output layer starts
    at zero, so a fresh layer is plain layer normalization: the adaLN-Zero
    conditioning of Peebles and Xie's diffusion transformers (DiT), where the
    vector is the sum of the timestep and class embeddings (`mlp_units=()`,
    `condition_activation="silu"`, `epsilon=1e-6`: DiT's, diffusers' and
    keras-hub's adaptive layer norm; `docs/layers.md` ports their weights). In
    DiT the same zero-initialized map also yields a gate that scales each
    residual branch; the gate belongs to the block, not to the norm (a `Dense`
    beside it: `docs/layers.md`, notebook 08).
    With `num_conditions=N`, gamma and beta are rows of a table: integer ids
    `(batch,)` pick rows, convex weights `(batch, N)` blend rows per sample,
    convex weight maps `(batch, tokens, N)` blend rows per token.

    Args:
        num_conditions: Number of rows of the gamma/beta table.
        mlp_units: Hidden layer sizes of the MLP predicting gamma/beta (`()`
            for a linear map, as in DiT). Give exactly one of the two.
        epsilon: Added to the variance; 1e-3 as in
            `keras.layers.LayerNormalization` (DiT uses 1e-6).
        **kwargs: The other arguments of `ConditionalNormalization`
            (`normalize_weights`, `mlp_activation`, `condition_activation`,
            `gamma_initializer`, `beta_initializer`, `kernel_initializer`,
            `trainable_rows`) and the base layer's (`name`, `dtype`).

    Call arguments:
        inputs: Channels-last tensor of rank 2 to 5: `(batch, features)`,
            `(batch, tokens, features)`, or a feature map.
        condition: Integer ids `(batch,)`, float weights `(batch, N)`, float
            weight maps `(batch, *positions, N)` (table mode), or a float
            vector `(batch, D)` (MLP mode).
        training: Accepted for API symmetry; has no effect.

    Reference:
    - [Ba et al., 2016](https://arxiv.org/abs/1607.06450)
    - [Peebles and Xie, 2023](https://arxiv.org/abs/2212.09748)
    """

    MIN_RANK = 2
    PASSES_MASK = True  # each position alone: masked ones touch no other

    def _channel_groups(self, channels):
        return 1  # all channels of a position together

    def _statistics_axes(self, rank, training):
        return []  # no batch or position axis: each position has its own statistics
