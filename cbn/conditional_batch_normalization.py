"""Batch normalization whose gamma and beta depend on a condition."""

import keras
import numpy as np
from keras import ops

from cbn import _checks, _fused, _native
from cbn.conditional_normalization import ConditionalNormalization

try:  # Keras's reader of a tensor's mask (a JAX array's is held outside the array).
    from keras.src.backend.common.masking import get_keras_mask
except ImportError:  # pragma: no cover - another Keras layout
    get_keras_mask = None


@keras.saving.register_keras_serializable(package="cbn")
class ConditionalBatchNormalization(ConditionalNormalization):
    """Batch normalization with gamma and beta chosen or predicted by a condition.

    Statistics are those of `keras.layers.BatchNormalization` (channels last):
    in training, the mean and variance of the batch over every axis but the
    last, and moving averages updated as
    `moving = momentum * moving + (1 - momentum) * batch`; at inference, the
    moving averages. The statistics are shared by all conditions; only the
    affine part is conditional:

        y = gamma(c) * (x - mean) / sqrt(variance + epsilon) + beta(c)

    gamma(c) and beta(c) come from a table (`num_conditions=N`: integer ids pick
    rows, convex weights `(batch, N)` blend rows per sample, convex weight maps
    `(batch, *spatial, N)` blend rows per position) or from an MLP
    (`mlp_units=(...)`: gamma0 + delta_gamma(c), beta0 + delta_beta(c) from a
    float vector `(batch, D)`, zero-initialized so that a fresh layer is plain
    batch normalization).

    A Keras mask (from `Masking` or `Embedding(mask_zero=True)`, or `mask=`) is honoured
    as by `keras.layers.BatchNormalization`: in training the statistics, and so the
    moving averages' update, are those of the unmasked positions only (a batch without
    any leaves the moving averages as they are), and the mask passes on to the next
    layer. A masked batch takes Keras ops and automatic differentiation rather than the
    fused paths.

    As with `keras.layers.BatchNormalization`, `trainable = False` means
    inference mode: the moving statistics are used and not updated, and
    `synchronized=True` (TensorFlow backend) computes the training statistics
    over the global batch of a `tf.distribute` strategy: the sums of every
    replica are added before the mean and variance are taken.

    Args:
        num_conditions: Number of rows of the gamma/beta table.
        mlp_units: Hidden layer sizes of the MLP predicting gamma/beta (`()`
            for a linear map). Give exactly one of the two.
        momentum: Momentum of the moving averages.
        epsilon: Added to the variance to avoid dividing by zero.
        normalize_weights: Divide float weights by their sum instead of
            requiring that they sum to 1.
        freeze_statistics: Always normalize with the moving statistics and
            never update them, even in training (set by
            `cbn.train_only_conditions` so that fine-tuning some conditions
            leaves the others' outputs unchanged).
        synchronized: TensorFlow backend only: batch statistics over all the
            replicas of a `tf.distribute` strategy (as
            `keras.layers.BatchNormalization(synchronized=True)`); `False`:
            each replica's own.
        moving_mean_initializer: Initializer of the moving mean.
        moving_variance_initializer: Initializer of the moving variance.
        **kwargs: The other arguments of `ConditionalNormalization`
            (`mlp_activation`, `condition_activation`, `gamma_initializer`,
            `beta_initializer`, `kernel_initializer`, `trainable_rows`) and the base layer's (`name`, `dtype`).

    Call arguments:
        inputs: Channels-last tensor of rank 2 (after a `Dense` layer) to 5.
        condition: Integer ids `(batch,)`, float weights `(batch, N)`, float
            weight maps `(batch, *spatial, N)` (table mode), or a float vector
            `(batch, D)` (MLP mode).
        training: Python boolean: batch statistics (`True`) or moving
            statistics (`False`).
        mask: `None` (the input's Keras mask, if any) or a boolean tensor
            `(batch, *positions)` (size-1 axes broadcast): the positions the
            batch statistics span in training. Ignored at inference.

    Reference:
    - [Ioffe and Szegedy, 2015](https://arxiv.org/abs/1502.03167)
    - [de Vries et al., 2017](https://arxiv.org/abs/1707.00683)
    - [Dumoulin et al., 2017](https://arxiv.org/abs/1610.07629)
    """

    # Batch statistics need no spatial axis: (batch, features) works too.
    MIN_RANK = 2
    # The statistics leave masked positions out; the mask passes on (as Keras's layer).
    PASSES_MASK = True

    def __init__(
        self,
        num_conditions=None,
        mlp_units=None,
        momentum=0.99,
        epsilon=1e-3,
        normalize_weights=False,
        freeze_statistics=False,
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        synchronized=False,
        **kwargs,
    ):
        super().__init__(
            num_conditions=num_conditions,
            mlp_units=mlp_units,
            epsilon=epsilon,
            normalize_weights=normalize_weights,
            **kwargs,
        )
        if not _checks.is_real_number(momentum) or not 0.0 <= momentum <= 1.0:
            raise ValueError(
                f"{self._describe()}: `momentum` must be a number in [0, 1] (the weight of "
                f"the old moving average); received {momentum!r}."
            )
        self.momentum = float(momentum)
        self.freeze_statistics = _checks.boolean(self, "freeze_statistics", freeze_statistics)
        self.synchronized = _checks.boolean(self, "synchronized", synchronized)
        if self.synchronized and keras.backend.backend() != "tensorflow":
            raise ValueError(
                f"{self._describe()}: `synchronized=True` needs the TensorFlow backend "
                f"(tf.distribute); the backend is {keras.backend.backend()!r}."
            )
        self.moving_mean_initializer = _checks.lookup(
            self, "moving_mean_initializer", moving_mean_initializer, keras.initializers.get
        )
        self.moving_variance_initializer = _checks.lookup(
            self, "moving_variance_initializer", moving_variance_initializer,
            keras.initializers.get,
        )
        self.moving_mean = None
        self.moving_variance = None

    def _build_statistics(self, inputs_shape):
        self.moving_mean = self.add_weight(
            shape=(self.channels,), name="moving_mean",
            initializer=self.moving_mean_initializer, trainable=False, autocast=False,
        )
        self.moving_variance = self.add_weight(
            shape=(self.channels,), name="moving_variance",
            initializer=self.moving_variance_initializer, trainable=False, autocast=False,
        )

    def __call__(self, inputs, condition, *args, **kwargs):
        # Keras fills a `call`'s `mask` from the input's Keras mask only for a layer with
        # one tensor argument; this one has two (the input and the condition).
        if len(args) >= 2:  # `training` and the mask given positionally
            mask = args[1]
        else:
            mask = kwargs.get("mask")
            if mask is None:
                mask = _keras_mask(inputs)
            elif isinstance(mask, (list, tuple)):  # one mask, not a structure of tensors
                mask = np.asarray(mask)
            if mask is not None:
                kwargs["mask"] = mask
        if mask is not None:
            self._check_mask(inputs, mask)
        return super().__call__(inputs, condition, *args, **kwargs)

    def call(self, inputs, condition, training=None, mask=None):
        return self._normalized(inputs, condition, training, mask)

    def _check_mask(self, inputs, mask):
        """A mask is `(batch, *positions)`, or broadcasts to it, as Keras's layer takes."""
        inputs_shape = getattr(inputs, "shape", None)
        mask_shape = getattr(mask, "shape", None)
        if inputs_shape is None or mask_shape is None:
            return
        inputs_shape, mask_shape = tuple(inputs_shape), tuple(mask_shape)
        fits = len(mask_shape) == len(inputs_shape) - 1 and all(
            got in (1, None) or want is None or got == want
            for got, want in zip(mask_shape, inputs_shape[:-1]))
        if not fits:
            raise ValueError(
                f"{self._describe()}: the mask must have the input's shape without its "
                f"channel axis, {inputs_shape[:-1]} (or size-1 axes that broadcast to "
                f"it); received a mask of shape {mask_shape}."
            )

    def _statistics_axes(self, rank, training):
        if training and self.trainable and not self.freeze_statistics:
            return list(range(rank - 1))  # the batch and every position
        return None

    def _stored_statistics(self):
        # In the statistics' dtype (float32, float64 under a float64 policy): under a float16
        # or bfloat16 policy (not mixed) the variables are half precision, and TensorFlow
        # does not promote between dtypes.
        dtype = keras.backend.result_type(self.moving_mean.dtype, "float32")
        return ops.cast(self.moving_mean, dtype), ops.cast(self.moving_variance, dtype)

    def _normalize(self, x, gamma, beta, per_sample, training, mask=None):
        axes = self._statistics_axes(len(x.shape), training)
        if mask is not None and axes is not None:
            # The statistics of the unmasked positions, by Keras ops and automatic
            # differentiation (the fused and PyTorch paths below count every position).
            if self.synchronized:
                mean, variance, count = _synchronized_moments(x, axes, mask)
            else:
                mean, variance, count = _fused.masked_moments(x, mask, axes)
            self._update_statistics(mean, variance, ops.reshape(count, ()) > 0)
            return self._scale_and_shift(x, mean, variance, gamma, beta, per_sample)
        if axes is not None and not self.synchronized and per_sample and (
                _native.batch_statistics_available(x, gamma, beta)):
            # PyTorch: one function with a closed-form gradient (`cbn/_torch_batch_norm.py`).
            outputs, mean, variance = _native.normalize_with_batch_statistics(
                x, gamma, beta, self.epsilon)
            self._update_statistics(mean, variance)
            return outputs
        if not self.synchronized or axes is None:
            return super()._normalize(x, gamma, beta, per_sample, training)
        mean, variance = _synchronized_moments(x, axes)
        self._update_statistics(mean, variance)
        return self._scale_and_shift(x, mean, variance, gamma, beta, per_sample)

    def _update_statistics(self, mean, variance, counted=None):
        """The moving averages' update; `counted` (a boolean scalar, masked batches): whether
        any position was counted (if not, the batch has no statistics and the moving
        averages stay as they are)."""
        mean = ops.reshape(mean, (self.channels,))
        variance = ops.reshape(variance, (self.channels,))
        # In the statistics' dtype, then stored in the variables' (half precision under a
        # float16 or bfloat16 policy; TensorFlow does not promote between them).
        old_mean = ops.cast(self.moving_mean, mean.dtype)
        old_variance = ops.cast(self.moving_variance, variance.dtype)
        moving_mean = old_mean * self.momentum + mean * (1.0 - self.momentum)
        moving_variance = old_variance * self.momentum + variance * (1.0 - self.momentum)
        if counted is not None:
            moving_mean = ops.where(counted, moving_mean, old_mean)
            moving_variance = ops.where(counted, moving_variance, old_variance)
        self.moving_mean.assign(ops.cast(moving_mean, self.moving_mean.dtype))
        self.moving_variance.assign(ops.cast(moving_variance, self.moving_variance.dtype))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "freeze_statistics": self.freeze_statistics,
                "synchronized": self.synchronized,
                "moving_mean_initializer": keras.initializers.serialize(
                    self.moving_mean_initializer
                ),
                "moving_variance_initializer": keras.initializers.serialize(
                    self.moving_variance_initializer
                ),
            }
        )
        return config


def _synchronized_moments(x, axes, mask=None):
    """Mean and variance of `x` over `axes` and the batches of every replica of a
    `tf.distribute` strategy, kept as size-1 axes: the replicas' sums give the mean, then
    their sums of squared deviations from it the variance. (Keras's synchronized moments,
    those of its BatchNormalization, take E[x^2] - E[x]^2 in float32, which cancels to noise
    when the mean is large against the spread: 1000 +- 1 normalized off by 0.7.)

    With a `mask` (as `_fused.masked_moments`), over the unmasked positions of every
    replica (Keras's layer takes each replica's own masked statistics instead), and the
    number of positions counted as a third value."""
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    if replica is None:  # Cross-replica context: this batch is the whole batch.
        if mask is not None:
            return _fused.masked_moments(x, mask, axes)
        return _fused.moments(x, axes, x.shape[-1])

    def summed(t):
        return replica.all_reduce(tf.distribute.ReduceOp.SUM,
                                  tf.reduce_sum(t, axis=axes, keepdims=True))

    if mask is None:
        count = summed(tf.ones_like(x[..., :1]))
        mean = tf.math.divide_no_nan(summed(x), count)
        return mean, tf.math.divide_no_nan(summed(tf.math.squared_difference(x, mean)), count)
    kept = tf.expand_dims(tf.cast(mask, tf.bool), -1)
    count = summed(tf.cast(kept, x.dtype) + tf.zeros_like(x[..., :1]))
    mean = tf.math.divide_no_nan(summed(tf.where(kept, x, 0.0)), count)
    deviations = tf.where(kept, x - mean, 0.0)
    return mean, tf.math.divide_no_nan(summed(tf.square(deviations)), count), count


def _keras_mask(tensor):
    """The Keras mask attached to `tensor` (JAX arrays hold it outside the array), or
    `None`."""
    return get_keras_mask(tensor) if get_keras_mask is not None else getattr(
        tensor, "_keras_mask", None)
