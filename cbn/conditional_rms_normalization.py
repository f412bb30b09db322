"""RMS normalization whose gamma (and optional beta) depend on a condition (adaptive RMS norm)."""

import keras

from cbn import _checks
from cbn.conditional_normalization import ConditionalNormalization


@keras.saving.register_keras_serializable(package="cbn")
class ConditionalRMSNormalization(ConditionalNormalization):
    """RMS normalization with gamma (and beta) chosen or predicted by a condition.

    Each position (a token, a pixel) is divided by the root mean square of its
    own channels (the last axis), without subtracting a mean, as in
    `keras.layers.RMSNormalization()`:

        y = gamma(c) * x / sqrt(mean_channels(x^2) + epsilon) [+ beta(c)]

    gamma(c) is per channel and, for a per-sample condition, the same for every
    token of the sample; `center=True` adds a conditional beta(c) as well (the
    shift of diffusers' `AdaLayerNormContinuous(norm_type="rms_norm")`). With
    `mlp_units=(...)` an MLP predicts them from a conditioning vector
    `(batch, D)` (`condition_activation="silu"` and `mlp_units=()`: the adaptive
    RMS norm of recent diffusion transformers and LLM-style blocks, a SiLU and
    one linear map of the timestep or class embedding) and its output layer
    starts at zero, so a fresh layer is plain RMS normalization. With
    `num_conditions=N`, gamma (and beta) are rows of a table: integer ids
    `(batch,)` pick rows, convex weights `(batch, N)` blend rows per sample,
    convex weight maps `(batch, *positions, N)` blend rows per position.

    Args:
        num_conditions: Number of rows of the gamma (and beta) table.
        mlp_units: Hidden layer sizes of the MLP predicting gamma (and beta)
            (`()` for a linear map). Give exactly one of the two.
        center: Whether to add a conditional beta. `False` (as
            `keras.layers.RMSNormalization`): no beta weights, and an MLP
            that predicts gamma only.
        epsilon: Added to the mean square; 1e-6 as in
            `keras.layers.RMSNormalization`.
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
    - [Zhang and Sennrich, 2019](https://arxiv.org/abs/1910.07467)
    - [Peebles and Xie, 2023](https://arxiv.org/abs/2212.09748)
    """

    MIN_RANK = 2
    PASSES_MASK = True  # each position alone: masked ones touch no other
    CENTERED = False

    def __init__(self, num_conditions=None, mlp_units=None, center=False, epsilon=1e-6,
                 **kwargs):
        super().__init__(
            num_conditions=num_conditions, mlp_units=mlp_units, epsilon=epsilon, **kwargs
        )
        self.center = _checks.boolean(self, "center", center)

    def _has_beta(self):
        return self.center

    def _channel_groups(self, channels):
        return 1  # all channels of a position together

    def _statistics_axes(self, rank, training):
        return []  # no batch or position axis: each position has its own statistics

    def get_config(self):
        return {**super().get_config(), "center": self.center}
