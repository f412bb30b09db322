"""Instance normalization whose gamma and beta depend on a condition."""

import keras

from cbn.conditional_normalization import ConditionalNormalization


@keras.saving.register_keras_serializable(package="cbn")
class ConditionalInstanceNormalization(ConditionalNormalization):
    """Instance normalization with gamma and beta chosen or predicted by a condition.

    Each sample and channel is normalized over its spatial axes (channels
    last); there are no moving statistics, so training and inference compute
    the same thing:

        y = gamma(c) * (x - mean_spatial(x)) / sqrt(var_spatial(x) + epsilon) + beta(c)

    This is the conditional instance normalization of Dumoulin et al.: one
    style-transfer network learns N styles with one gamma/beta row per style.
    gamma(c) and beta(c) come from a table (`num_conditions=N`: integer ids pick
    rows, convex weights `(batch, N)` blend rows per sample, convex weight maps
    `(batch, *spatial, N)` blend rows per position) or from an MLP
    (`mlp_units=(...)`: gamma0 + delta_gamma(c), beta0 + delta_beta(c) from a
    float vector `(batch, D)`, zero-initialized so that a fresh layer is plain
    instance normalization), as in Ghiasi et al.'s arbitrary-style network.

    Args:
        num_conditions: Number of rows of the gamma/beta table.
        mlp_units: Hidden layer sizes of the MLP predicting gamma/beta (`()`
            for a linear map). Give exactly one of the two.
        epsilon: Added to the variance; 1e-5 as in Magenta's implementation
            (`keras.layers.GroupNormalization` defaults to 1e-3).
        **kwargs: The other arguments of `ConditionalNormalization`
            (`normalize_weights`, `mlp_activation`, `condition_activation`,
            `gamma_initializer`, `beta_initializer`, `kernel_initializer`,
            `trainable_rows`) and the base layer's (`name`, `dtype`).

    Call arguments:
        inputs: Channels-last tensor of rank 3 to 5.
        condition: Integer ids `(batch,)`, float weights `(batch, N)`, float
            weight maps `(batch, *spatial, N)` (table mode), or a float vector
            `(batch, D)` (MLP mode).
        training: Accepted for API symmetry; has no effect.

    Reference:
    - [Ulyanov et al., 2016](https://arxiv.org/abs/1607.08022)
    - [Dumoulin et al., 2017](https://arxiv.org/abs/1610.07629)
    - [Ghiasi et al., 2017](https://arxiv.org/abs/1705.06830)
    """

    def __init__(self, num_conditions=None, mlp_units=None, epsilon=1e-5, **kwargs):
        super().__init__(
            num_conditions=num_conditions, mlp_units=mlp_units, epsilon=epsilon, **kwargs
        )

    def _statistics_axes(self, rank, training):
        return list(range(1, rank - 1))  # every position
