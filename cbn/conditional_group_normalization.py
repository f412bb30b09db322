"""Group normalization whose gamma and beta depend on a condition (adaptive group norm)."""

import keras

from cbn import _checks
from cbn.conditional_normalization import ConditionalNormalization


@keras.saving.register_keras_serializable(package="cbn")
class ConditionalGroupNormalization(ConditionalNormalization):
    """Group normalization with gamma and beta chosen or predicted by a condition.

    The channels (last axis) are split into `groups` groups; each sample and
    group is normalized over its positions and the group's channels, as in
    `keras.layers.GroupNormalization`. There are no moving statistics, so
    training and inference compute the same thing:

        y = gamma(c) * (x - mean_group(x)) / sqrt(var_group(x) + epsilon) + beta(c)

    with gamma(c) and beta(c) per channel. This is the adaptive group
    normalization (AdaGN) of Dhariwal and Nichol's diffusion models, where an
    MLP of the timestep and class embedding predicts the scale and shift
    after GroupNorm: `mlp_units=(...)` with the embedding as the condition (a
    fresh layer, its output layer at zero, is plain group normalization).
    With `num_conditions=N`, gamma and beta are rows of a table instead:
    integer ids `(batch,)` pick rows, convex weights `(batch, N)` blend rows
    per sample, convex weight maps `(batch, *positions, N)` blend rows per
    position.

    `groups=-1` (one channel per group) is instance normalization and
    `groups=1` normalizes each sample over all its positions and channels.

    Args:
        groups: Number of groups, a divisor of the number of channels, or -1
            for one group per channel. 32 as in `keras.layers.GroupNormalization`
            and the diffusion models' `GroupNorm32`.
        num_conditions: Number of rows of the gamma/beta table.
        mlp_units: Hidden layer sizes of the MLP predicting gamma/beta (`()`
            for a linear map). Give exactly one of the two.
        epsilon: Added to the variance; 1e-3 as in
            `keras.layers.GroupNormalization` (PyTorch's `GroupNorm`, used by
            the diffusion models, defaults to 1e-5).
        **kwargs: The other arguments of `ConditionalNormalization`
            (`normalize_weights`, `mlp_activation`, `condition_activation`,
            `gamma_initializer`, `beta_initializer`, `kernel_initializer`,
            `trainable_rows`) and the base layer's (`name`, `dtype`).

    Call arguments:
        inputs: Channels-last tensor of rank 2 (after a `Dense` layer) to 5.
        condition: Integer ids `(batch,)`, float weights `(batch, N)`, float
            weight maps `(batch, *positions, N)` (table mode), or a float
            vector `(batch, D)` (MLP mode).
        training: Accepted for API symmetry; has no effect.

    Reference:
    - [Wu and He, 2018](https://arxiv.org/abs/1803.08494)
    - [Dhariwal and Nichol, 2021](https://arxiv.org/abs/2105.05233)
    """

    # (batch, features) works: a group spans several features.
    MIN_RANK = 2

    def __init__(self, groups=32, num_conditions=None, mlp_units=None, epsilon=1e-3, **kwargs):
        super().__init__(
            num_conditions=num_conditions, mlp_units=mlp_units, epsilon=epsilon, **kwargs
        )
        if not _checks.is_integer_value(groups) or (groups < 1 and groups != -1):
            raise ValueError(
                f"{self._describe()}: `groups` must be a positive integer (or -1 for one "
                f"group per channel); received {groups!r}."
            )
        self.groups = int(groups)

    def _channel_groups(self, channels):
        if self.groups == -1:
            return channels
        if self.groups > channels or channels % self.groups:
            raise ValueError(
                f"{self._describe()}: `groups` must divide the number of channels; "
                f"received groups={self.groups} for an input with {channels} channels."
            )
        return self.groups

    def _statistics_axes(self, rank, training):
        return list(range(1, rank - 1))  # every position

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}
