"""What every conditional layer shares: where gamma and beta come from, and one statistics path."""

import numpy as np
import keras
from keras import ops

from cbn import _checks, _concrete, _fused, _native

# Weights that should be convex may miss by this much (float rounding, float16 inputs);
# bfloat16 weights by their own precision (`weight_tolerance`).
WEIGHT_TOLERANCE = 1e-3

_ROW_INITS = ("identity", "mean")


class ConditionalNormalization(keras.layers.Layer):
    """Base class of normalization layers whose gamma and beta depend on a condition.

    Every layer of the family computes

        y = gamma(c) * (x - mean) / sqrt(variance + epsilon) + beta(c)

    on channels-last inputs `(batch, *positions, channels)`, and differs only in
    which elements share one mean and variance. A subclass says so with two
    hooks: `_channel_groups` (the channels are split into groups that share
    statistics: each channel alone for batch and instance norm, G groups for
    group norm, all channels together for layer and RMS norm) and
    `_statistics_axes` (which of the batch and position axes the statistics
    also span: batch and positions for batch norm, the positions for instance
    and group norm, none for layer and RMS norm, or `None` for stored
    statistics). RMS normalization sets `CENTERED = False`: its "mean" is 0 and
    its "variance" the mean square, and it may have no beta (`_has_beta`).
    This class turns the condition into per-sample (or per-position) gamma and
    beta and applies the formula.

    gamma and beta come from one of two sources:

    - a table (`num_conditions=N`): gamma and beta of shape `(N, channels)`,
      initialized to ones and zeros. The condition is integer ids
      `(batch,)` (row lookup), convex weights `(batch, N)` (a blend of rows),
      or convex weight maps `(batch, *positions, N)` matching the input's
      position axes (a blend that varies with position).
    - an MLP (`mlp_units=(...)`): `gamma = gamma0 + delta_gamma(c)` and
      `beta = beta0 + delta_beta(c)` for a float conditioning vector
      `(batch, D)`, optionally passed through `condition_activation` first
      (the SiLU of diffusion transformers). The output layer starts at zero,
      so a fresh layer computes plain (unconditional) normalization.

    With statistics from the input and per-sample gamma/beta, TensorFlow and
    JAX differentiate the layer in closed form rather than through the
    statistics (`cbn/_fused.py`): same outputs and gradients, second order
    included, in less time than Keras's own normalization layers. PyTorch
    normalizes with its own kernels instead (`cbn/_native.py`).

    Args:
        num_conditions: Number of rows of the gamma/beta table.
        mlp_units: Hidden layer sizes of the MLP that predicts gamma/beta;
            `()` makes it a single linear map. Give exactly one of
            `num_conditions` and `mlp_units`.
        epsilon: Added to the variance to avoid dividing by zero.
        normalize_weights: If `True`, float weights are divided by their sum
            instead of being required to sum to 1. They must still be
            non-negative with a positive sum.
        mlp_activation: Activation of the MLP's hidden layers.
        condition_activation: MLP mode only: an activation applied to the
            conditioning vector before the MLP (`"silu"` as in DiT,
            diffusers' and keras-hub's adaptive norms); `None` for none.
        gamma_initializer: Initializer of the gamma table / gamma0.
        beta_initializer: Initializer of the beta table / beta0.
        kernel_initializer: Initializer of the MLP's hidden kernels.
        trainable_rows: `None`, or the table rows that receive gradients
            (the others are held fixed even while the layer is trainable).
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).
    """

    # Inputs are (batch, *positions, channels) with up to 3 position axes.
    MIN_RANK = 3
    # Subtract the mean before scaling (False for RMS normalization).
    CENTERED = True
    # Whether the input's Keras mask passes on to the output, as in Keras's layers: where
    # each position is normalized on its own (layer and RMS norm), and where the statistics
    # leave the masked positions out (batch norm, whose `call` takes the mask). Instance
    # and group norm's statistics include the masked positions, so there the mask is
    # dropped (Keras warns) rather than passed on as if it had been honoured.
    PASSES_MASK = False

    def __init__(
        self,
        num_conditions=None,
        mlp_units=None,
        epsilon=1e-3,
        normalize_weights=False,
        mlp_activation="relu",
        gamma_initializer="ones",
        beta_initializer="zeros",
        kernel_initializer="glorot_uniform",
        trainable_rows=None,
        condition_activation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.supports_masking = self.PASSES_MASK
        if (num_conditions is None) == (mlp_units is None):
            raise ValueError(
                f"{self._describe()}: give exactly one of `num_conditions` (a gamma/beta "
                f"table) and `mlp_units` (an MLP predicting gamma/beta); received "
                f"num_conditions={num_conditions!r}, mlp_units={mlp_units!r}."
            )
        if num_conditions is not None and (
            not _checks.is_integer_value(num_conditions) or num_conditions < 1
        ):
            raise ValueError(
                f"{self._describe()}: `num_conditions` must be a positive integer; "
                f"received {num_conditions!r}."
            )
        self.num_conditions = None if num_conditions is None else int(num_conditions)
        self.mlp_units = None if mlp_units is None else self._checked_mlp_units(mlp_units)
        self.epsilon = _checks.positive_number(self, "epsilon", epsilon)
        self.normalize_weights = _checks.boolean(self, "normalize_weights", normalize_weights)
        self.mlp_activation = _checks.lookup(
            self, "mlp_activation", mlp_activation, keras.activations.get
        )
        self.gamma_initializer = _checks.lookup(
            self, "gamma_initializer", gamma_initializer, keras.initializers.get
        )
        self.beta_initializer = _checks.lookup(
            self, "beta_initializer", beta_initializer, keras.initializers.get
        )
        self.kernel_initializer = _checks.lookup(
            self, "kernel_initializer", kernel_initializer, keras.initializers.get
        )
        if condition_activation is not None and self.uses_table:
            raise ValueError(
                f"{self._describe()}: `condition_activation` applies to the conditioning "
                f"vector of MLP mode (mlp_units=...); this layer has a gamma/beta table "
                f"(num_conditions={self.num_conditions}); received "
                f"condition_activation={condition_activation!r}."
            )
        self.condition_activation = (
            None if condition_activation is None else _checks.lookup(
                self, "condition_activation", condition_activation, keras.activations.get
            )
        )
        self._trainable_rows = None
        self.trainable_rows = trainable_rows
        self.channels = None
        self.condition_dim = None
        self.gamma = None
        self.beta = None
        self.mlp_layers = []
        self._groups = None

    def _checked_mlp_units(self, mlp_units):
        is_sequence = isinstance(mlp_units, (list, tuple)) or (
            isinstance(mlp_units, np.ndarray) and mlp_units.ndim == 1
        )
        if not is_sequence or not all(
            _checks.is_integer_value(units) and units >= 1 for units in mlp_units
        ):
            raise ValueError(
                f"{self._describe()}: `mlp_units` must be a tuple of positive layer sizes "
                f"(e.g. (64,), or () for a single linear map); received {mlp_units!r}."
            )
        return tuple(int(units) for units in mlp_units)

    # ------------------------------------------------------------------ build

    @property
    def uses_table(self):
        return self.num_conditions is not None

    def build(self, inputs_shape, condition_shape=None):
        self._check_rank(inputs_shape)
        self.channels = inputs_shape[-1]
        if self.channels is None:
            raise ValueError(
                f"{self._describe()}: the channel (last) axis of the input must be known "
                f"when the layer is built; received input shape {tuple(inputs_shape)}."
            )
        self._groups = self._channel_groups(self.channels)
        if self.uses_table:
            self._add_tables(self.num_conditions)
        else:
            self._build_mlp(condition_shape)
        self._build_statistics(inputs_shape)

    def _has_beta(self):
        """Whether the layer adds a beta (RMS normalization may not)."""
        return True

    @property
    def _affine_width(self):
        """gamma and beta side by side: the width of a table row or of the MLP's output."""
        return (2 if self._has_beta() else 1) * self.channels

    def _add_tables(self, rows, gamma_initializer=None, beta_initializer=None):
        self.gamma = self.add_weight(
            shape=(rows, self.channels),
            name="gamma",
            initializer=gamma_initializer or self.gamma_initializer,
            autocast=False,
        )
        if self._has_beta():
            self.beta = self.add_weight(
                shape=(rows, self.channels),
                name="beta",
                initializer=beta_initializer or self.beta_initializer,
                autocast=False,
            )

    def _build_mlp(self, condition_shape):
        if condition_shape is None or len(condition_shape) != 2 or condition_shape[-1] is None:
            raise ValueError(
                f"{self._describe()}: in MLP mode the condition must be a float vector of "
                f"shape (batch, D) with D known; received condition shape {condition_shape}."
            )
        self.condition_dim = condition_shape[-1]
        self.gamma = self.add_weight(
            shape=(self.channels,), name="gamma",
            initializer=self.gamma_initializer, autocast=False,
        )
        if self._has_beta():
            self.beta = self.add_weight(
                shape=(self.channels,), name="beta",
                initializer=self.beta_initializer, autocast=False,
            )
        self.mlp_layers = []
        shape = tuple(condition_shape)
        for index, units in enumerate(self.mlp_units):
            hidden = keras.layers.Dense(
                units,
                activation=self.mlp_activation,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=f"mlp_hidden_{index}",
            )
            hidden.build(shape)
            shape = (shape[0], units)
            self.mlp_layers.append(hidden)
        # Zero output layer: a fresh layer is exactly the unconditional one.
        head = keras.layers.Dense(
            self._affine_width,
            kernel_initializer="zeros",
            bias_initializer="zeros",
            dtype=self.dtype_policy,
            name="mlp_gamma_beta",
        )
        head.build(shape)
        self.mlp_layers.append(head)

    def _build_statistics(self, inputs_shape):
        """Creates the subclass's statistics variables (none by default)."""

    # ------------------------------------------------------ which statistics

    def _channel_groups(self, channels):
        """Number of groups of channels that share statistics; each channel alone by default."""
        return channels

    def _statistics_axes(self, rank, training):
        """Batch and position axes (0 .. rank - 2) the statistics span, or `None` to
        use `_stored_statistics`."""
        raise NotImplementedError

    def _stored_statistics(self):
        """(mean, variance), each `(channels,)`, used when `_statistics_axes` returns `None`."""
        raise NotImplementedError

    def _update_statistics(self, mean, variance):
        """Called with the statistics of each training batch (no-op by default)."""

    # ---------------------------------------------------------------- call

    def __call__(self, inputs, condition, *args, **kwargs):
        # The input's and the condition's shapes, and the condition's values when they
        # exist, are checked here, before Keras's `__call__`: an error raised in `call`
        # reaches the user wrapped in Keras's report of the call's arguments. (And
        # Keras converts numpy arguments to backend tensors before `call`; JAX without
        # 64-bit mode wraps int64 ids there, 2**32 + 1 becoming the valid row 1.)
        # A list of ids or weights as the numpy array it reads as (Keras takes a list
        # for a structure of tensors, and refuses one of Python numbers).
        condition = _with_dtype(condition)
        self._check_call(inputs, condition, kwargs.get("training", args[0] if args else None))
        if not args and _native.direct_call_available(self, inputs, condition, kwargs):
            # PyTorch, eager: Keras's `__call__` would only add its overhead (`cbn/_native.py`).
            if not self._called:
                self._called = True
            return _native.mlp_mode_call(self, inputs, condition, kwargs.get("training"))
        return super().__call__(inputs, condition, *args, **kwargs)

    def _check_call(self, inputs, condition, training):
        """The checks of `call` that need no tensor operation, as one-line ValueErrors."""
        shape = getattr(inputs, "shape", None)
        if shape is None:  # Not an array: `call` checks it once Keras has converted it.
            return
        shape = tuple(shape)
        self._check_rank(shape)
        self._check_channels(shape)
        axes = self._statistics_axes(len(shape), training)
        if axes is not None and 0 in axes and shape[0] == 0:
            raise ValueError(
                f"{self._describe()}: batch statistics need at least one sample; received a "
                f"batch of 0 (input shape {shape})."
            )
        if axes is not None and 0 in axes and 0 in [shape[axis] for axis in axes]:
            # No value to average: NaN statistics, and NaN moving averages from then on.
            raise ValueError(
                f"{self._describe()}: batch statistics need at least one position; received "
                f"an input without positions (input shape {shape})."
            )
        if not self.uses_table:
            self._check_vector_shape(condition)
            self._check_batch(tuple(condition.shape), shape)
            return
        kind = self._condition_kind(condition, len(shape), shape)
        values = _concrete.to_numpy(condition)
        if values is None:
            return
        if kind == "ids":
            self._check_id_values(values)
        else:
            self._raise_for_bad_weights(np.asarray(values, np.float64),
                                        weight_tolerance(condition.dtype))

    def call(self, inputs, condition, training=None):
        return self._normalized(inputs, condition, training)

    def _normalized(self, inputs, condition, training, mask=None):
        """`call`'s computation; `mask` (batch norm only) as in `_normalize`."""
        self._check_rank(inputs.shape)
        self._check_channels(inputs.shape)
        rank = len(inputs.shape)
        if mask is None and not self.uses_table and _native.whole_layer_available(
                self, inputs, training):
            # PyTorch: MLP, gamma/beta and normalization without a Keras op in between.
            return _native.mlp_mode_call(
                self, inputs, self._checked_vector(condition), training
            )
        compute_dtype = keras.backend.result_type(inputs.dtype, "float32")
        # Statistics overflow in float16/bfloat16: work in float32 and cast back.
        x = ops.cast(inputs, compute_dtype)
        gamma, beta = self._affine(condition, rank, inputs.shape)
        per_sample = len(gamma.shape) == 2
        if per_sample:
            # The input's batch size, not -1: where it is unknown until run time (a graph
            # traced for any batch), a condition of another batch then fails there
            # instead of broadcasting (one id silently applied to every sample).
            affine_shape = [ops.shape(inputs)[0]] + [1] * (rank - 2) + [self.channels]
            gamma = ops.reshape(gamma, affine_shape)
            beta = None if beta is None else ops.reshape(beta, affine_shape)
        elif None in tuple(gamma.shape[:-1]) + tuple(inputs.shape[:-1]):
            # A weight map whose size cannot be checked before run time (`_condition_kind`
            # checks known sizes): of another size it would broadcast (a 1 x 1 map over
            # every position), so it yields NaN, as traced non-convex weights do.
            same = ops.all(ops.equal(ops.shape(gamma)[:-1], ops.shape(inputs)[:-1]))
            gamma = ops.where(same, gamma, float("nan"))
        gamma = ops.cast(gamma, compute_dtype)
        if beta is not None:
            beta = ops.cast(beta, compute_dtype)
        if mask is None:
            outputs = self._normalize(x, gamma, beta, per_sample, training)
        else:
            outputs = self._normalize(x, gamma, beta, per_sample, training, mask=mask)
        return ops.cast(outputs, self.compute_dtype)

    def _normalize(self, x, gamma, beta, per_sample, training):
        """`gamma * (x - mean) / sqrt(variance + epsilon) + beta` with the statistics of
        `_statistics_axes`. A layer whose `call` takes a Keras mask (batch norm) overrides
        it with a `mask` argument: `(batch, *positions)`, the positions the statistics
        span."""
        rank = len(x.shape)
        axes = self._statistics_axes(rank, training)
        centered = self.CENTERED
        if axes is not None and _native.available(x, axes, self._groups, centered):
            return _native.normalize(x, gamma, beta, self.epsilon, axes, self._groups, centered)
        if axes is None:
            mean, variance = self._stored_statistics()
        elif per_sample and not training and centered and _fused.single_instance_available(
            x, axes
        ):
            mean, variance = _fused.moments(x, axes, self._groups)
            return _fused.normalize_single_instance(x, mean, variance, gamma, beta, self.epsilon)
        elif per_sample and _fused.available():
            # Statistics of x for the forward pass; the analytic gradient accounts for them.
            mean, variance = _fused.moments(ops.stop_gradient(x), axes, self._groups, centered,
                                            differentiated=False)
            self._update_statistics(mean, variance)
            return _fused.normalize(
                x, mean, variance, gamma, beta, self.epsilon,
                axes=axes, groups=self._groups, position_axes=range(1, rank - 1),
                centered=centered,
            )
        else:
            mean, variance = _fused.moments(x, axes, self._groups, centered)
            self._update_statistics(mean, variance)
        return self._scale_and_shift(x, mean, variance, gamma, beta, per_sample)

    def _scale_and_shift(self, x, mean, variance, gamma, beta, per_sample):
        """gamma * (x - mean) / sqrt(variance + epsilon) + beta (beta may be `None`)."""
        inv_std = ops.rsqrt(variance + self.epsilon)
        if per_sample:
            # Per-sample gamma/beta: fold everything into one multiply-add.
            scale = gamma * inv_std
            shift = -mean * scale if beta is None else beta - mean * scale
            return x * scale + shift
        outputs = (x - mean) * inv_std * gamma
        return outputs if beta is None else outputs + beta

    def compute_output_shape(self, inputs_shape, condition_shape=None):
        return tuple(inputs_shape)

    # ------------------------------------------------------------ gamma/beta

    def gamma_beta(self, condition):
        """The gamma and beta the layer applies for `condition`, checked as in `call`.

        Args:
            condition: Ids `(batch,)`, weights `(batch, N)` or weight maps
                `(batch, *positions, N)` (table mode), or a float vector
                `(batch, D)` (MLP mode).

        Returns:
            `(gamma, beta)`, each `(batch, channels)` (`(batch, *positions,
            channels)` for weight maps), float32; beta is `None` for a layer
            without one (`ConditionalRMSNormalization(center=False)`).
        """
        if not self.built:
            raise ValueError(
                f"{self._describe()}: build the layer (call it once) before asking for "
                f"its gamma and beta."
            )
        condition = _with_dtype(condition)
        shape = tuple(condition.shape)
        rank = max(len(shape), self.MIN_RANK)
        inputs_shape = (shape[0],) + (None,) * (rank - 2) + (self.channels,)
        return self._affine(condition, rank, inputs_shape)

    def _affine(self, condition, rank, inputs_shape):
        """gamma and beta for `condition`: (batch, C) or (batch, *positions, C).

        `condition` may be a numpy array or a list (from `gamma_beta`): integer
        ids are range-checked before they become a backend tensor (see `__call__`).
        """
        if not self.uses_table:
            return self._predicted_affine(condition)
        condition = _with_dtype(condition)
        # A tensor, not the variable itself: without a beta the table is gamma alone, and
        # JAX's `where` (trainable rows) refuses a Keras variable.
        table = ops.convert_to_tensor(self.gamma)
        if self._has_beta():
            table = ops.concatenate([self.gamma, self.beta], axis=-1)
        if self._trainable_rows is not None:
            row_is_trainable = np.zeros((self.num_conditions, 1), dtype=bool)
            row_is_trainable[list(self._trainable_rows)] = True
            table = ops.where(row_is_trainable, table, ops.stop_gradient(table))
        kind = self._condition_kind(condition, rank, inputs_shape)
        if kind == "ids":
            gamma_beta = self._gather_rows(table, condition)
        else:
            gamma_beta = ops.matmul(self._checked_weights(condition), table)
        return self._split_affine(gamma_beta)

    def _split_affine(self, gamma_beta):
        """gamma and beta (or `None`) from a tensor of `_affine_width` channels."""
        if not self._has_beta():
            return gamma_beta, None
        return gamma_beta[..., : self.channels], gamma_beta[..., self.channels :]

    def _predicted_affine(self, condition):
        hidden = self._checked_vector(condition)
        if self.condition_activation is not None:
            hidden = self.condition_activation(hidden)
        for layer in self.mlp_layers:
            hidden = layer(hidden)
        delta_gamma, delta_beta = self._split_affine(ops.cast(hidden, "float32"))
        if delta_beta is None:
            return self.gamma + delta_gamma, None
        return self.gamma + delta_gamma, self.beta + delta_beta

    def _checked_vector(self, condition):
        """The MLP-mode condition as a tensor, once its dtype and shape are checked."""
        condition = ops.convert_to_tensor(condition)
        self._check_vector_shape(condition)
        return condition

    def _check_vector_shape(self, condition):
        if not _is_float(condition) or len(condition.shape) != 2:
            raise ValueError(
                f"{self._describe()}: in MLP mode the condition must be a float vector of "
                f"shape (batch, {self.condition_dim}); received dtype {_dtype_name(condition)} "
                f"and shape {tuple(condition.shape)}."
            )
        if self.condition_dim is not None and condition.shape[-1] != self.condition_dim:
            raise ValueError(
                f"{self._describe()}: the conditioning vector has length "
                f"{condition.shape[-1]}, but the layer was built for length "
                f"{self.condition_dim}."
            )

    def _condition_kind(self, condition, rank, inputs_shape):
        shape = tuple(condition.shape)
        n = self.num_conditions
        if _is_integer(condition):
            if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
                self._check_batch(shape, inputs_shape)
                return "ids"
            raise ValueError(
                f"{self._describe()}: integer conditions are ids of shape (batch,); "
                f"received shape {shape}. Pass float weights of shape (batch, {n}) "
                f"for a blend."
            )
        if not _is_float(condition):
            raise ValueError(
                f"{self._describe()}: the condition must be integer ids (batch,) or float "
                f"weights (batch, {n}) / (batch, *spatial, {n}); received dtype "
                f"{_dtype_name(condition)}."
            )
        if len(shape) not in (2, rank):
            raise ValueError(
                f"{self._describe()}: float weights must have shape (batch, {n}) or "
                f"(batch, *spatial, {n}) matching the input; received shape {shape} "
                f"for an input of shape {tuple(inputs_shape)}."
            )
        if shape[-1] != n:
            raise ValueError(
                f"{self._describe()}: the weight vector must have length {n} "
                f"(num_conditions); received length {shape[-1]} (shape {shape})."
            )
        self._check_batch(shape, inputs_shape)
        if len(shape) == rank and len(shape) > 2:
            for got, want in zip(shape[1:-1], tuple(inputs_shape)[1:-1]):
                if got is not None and want is not None and got != want:
                    raise ValueError(
                        f"{self._describe()}: the weight map's spatial shape {shape[1:-1]} "
                        f"must match the input's {tuple(inputs_shape)[1:-1]}."
                    )
        return "weights"

    def _gather_rows(self, table, ids):
        # Range checks in the ids' own dtype: a cast to int32 first would wrap
        # 2**32 + 1 to the valid row 1.
        n = self.num_conditions
        values = _concrete.to_numpy(ids)
        if values is not None:
            self._check_id_values(values)
            return ops.take(table, ops.cast(ops.reshape(ids, (-1,)), "int32"), axis=0)
        # Traced: ids cannot be checked here, so an out-of-range id yields NaN
        # (a visibly wrong result) instead of a silently clamped row.
        ids = ops.reshape(ids, (-1,))
        in_range = ids >= 0
        if n <= np.iinfo(keras.backend.standardize_dtype(ids.dtype)).max:
            # (Where the ids' dtype cannot hold n, every id is below it; n would wrap.)
            in_range = ops.logical_and(in_range, ids < n)
        safe_ids = ops.cast(ops.where(in_range, ids, 0), "int32")
        rows = ops.take(table, safe_ids, axis=0)
        return ops.where(in_range[:, None], rows, float("nan"))

    def _check_id_values(self, values):
        n = self.num_conditions
        if values.size and (values.min() < 0 or values.max() >= n):
            raise ValueError(
                f"{self._describe()}: condition ids must be in [0, {n}); received "
                f"ids from {values.min()} to {values.max()}."
            )

    def _checked_weights(self, weights):
        # Under mixed_bfloat16 Keras hands `call` the weights rounded to bfloat16.
        tolerance = weight_tolerance(weights.dtype)
        weights = ops.cast(weights, "float32")
        values = _concrete.to_numpy(weights)
        if values is not None:
            self._raise_for_bad_weights(values, tolerance)
            if self.normalize_weights:
                weights = weights / ops.sum(weights, axis=-1, keepdims=True)
            return weights
        # Traced: invalid weights yield NaN rather than a silently wrong blend.
        total = ops.sum(weights, axis=-1, keepdims=True)
        valid = ops.logical_and(
            ops.all(weights >= -WEIGHT_TOLERANCE, axis=-1, keepdims=True),
            ops.all(ops.isfinite(weights), axis=-1, keepdims=True),
        )
        if self.normalize_weights:
            valid = ops.logical_and(valid, total > 0)
            weights = weights / ops.where(total > 0, total, 1.0)
        else:
            valid = ops.logical_and(valid, ops.abs(total - 1.0) <= tolerance)
        return ops.where(valid, weights, float("nan"))

    def _raise_for_bad_weights(self, values, tolerance=WEIGHT_TOLERANCE):
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"{self._describe()}: the condition weights contain NaN or infinite values."
            )
        if values.size == 0:
            return
        if values.min() < -WEIGHT_TOLERANCE:  # (rounding keeps a weight's sign)
            raise ValueError(
                f"{self._describe()}: condition weights must be non-negative; received "
                f"a weight of {values.min():.6g}."
            )
        totals = values.sum(axis=-1)
        if self.normalize_weights:
            if totals.min() <= 0:
                raise ValueError(
                    f"{self._describe()}: condition weights must have a positive sum to be "
                    f"normalized; received a sum of {totals.min():.6g}."
                )
        elif np.abs(totals - 1.0).max() > tolerance:
            worst = totals.flat[np.abs(totals - 1.0).argmax()]
            raise ValueError(
                f"{self._describe()}: condition weights must sum to 1 (tolerance "
                f"{tolerance:g}); received a sum of {worst:.6g}. Pass "
                f"normalize_weights=True to divide them by their sum instead."
            )

    # ------------------------------------------------------------- the table

    @property
    def trainable_rows(self):
        """`None` (every row trains) or the tuple of table rows that receive gradients."""
        return self._trainable_rows

    @trainable_rows.setter
    def trainable_rows(self, rows):
        if rows is None:
            self._trainable_rows = None
            return
        if not self.uses_table:
            raise ValueError(
                f"{self._describe()}: `trainable_rows` applies to a gamma/beta table; this "
                f"layer predicts gamma/beta with an MLP."
            )
        values = np.atleast_1d(np.asarray(rows))
        if values.ndim != 1 or (values.size and values.dtype.kind not in "iu"):
            raise ValueError(
                f"{self._describe()}: `trainable_rows` must be integer row ids; received "
                f"{rows!r}."
            )
        rows = tuple(sorted({int(row) for row in values}))
        bad = [row for row in rows if not 0 <= row < self.num_conditions]
        if bad:
            raise ValueError(
                f"{self._describe()}: `trainable_rows` must be in [0, "
                f"{self.num_conditions}); received {bad}."
            )
        self._trainable_rows = rows

    def append_conditions(self, count=1, init="identity"):
        """Appends `count` rows to the gamma/beta table; existing rows are left untouched.

        Args:
            count: Number of rows to append.
            init: `"identity"` (gamma ones, beta zeros), `"mean"` (the mean of
                the existing rows) or an integer row to copy.

        Returns:
            The ids of the new rows.

        Build a new optimizer (and recompile) after appending: the old one
        tracks the previous, smaller variables.
        """
        if not self.uses_table:
            raise ValueError(
                f"{self._describe()}: only a table-mode layer (num_conditions=N) can "
                f"grow; this one predicts gamma/beta with an MLP."
            )
        if not self.built:
            raise ValueError(
                f"{self._describe()}: build the layer (call it once) before appending rows."
            )
        if not _checks.is_integer_value(count) or count < 1:
            raise ValueError(
                f"{self._describe()}: `count` must be a positive integer; received {count!r}."
            )
        # Without a beta (RMS norm), a zero-width stand-in keeps one code path.
        old_gamma = ops.convert_to_numpy(self.gamma)
        old_beta = ops.convert_to_numpy(self.beta) if self._has_beta() else old_gamma[:, :0]
        new_gamma, new_beta = self._new_rows(old_gamma, old_beta, count, init)
        gamma = np.concatenate([old_gamma, new_gamma])
        beta = np.concatenate([old_beta, new_beta])
        trainable = self.gamma.trainable
        old_tables = [self.gamma] + ([self.beta] if self._has_beta() else [])
        self._tracker.unlock()
        for table in old_tables:
            self._untrack_variable(table)
        self._add_tables(
            len(gamma),
            gamma_initializer=keras.initializers.Constant(gamma),
            beta_initializer=keras.initializers.Constant(beta),
        )
        self._tracker.lock()
        # Constant initializers go through float conversions; assign the exact bits.
        for table, values in zip([self.gamma, self.beta], [gamma, beta]):
            if table is not None:
                table.trainable = trainable
                table.assign(values)
        first_new = self.num_conditions
        self.num_conditions = len(gamma)
        return list(range(first_new, self.num_conditions))

    def _new_rows(self, gamma, beta, count, init):
        if isinstance(init, str) and init == "identity":
            return (np.ones((count, self.channels), gamma.dtype),
                    np.zeros((count, beta.shape[1]), beta.dtype))
        if isinstance(init, str) and init == "mean":
            return (np.repeat(gamma.mean(0, keepdims=True), count, 0),
                    np.repeat(beta.mean(0, keepdims=True), count, 0))
        if _checks.is_integer_value(init):
            if not 0 <= init < len(gamma):
                raise ValueError(
                    f"{self._describe()}: cannot copy row {init}: the table has rows "
                    f"0..{len(gamma) - 1}."
                )
            return (np.repeat(gamma[init : init + 1], count, 0),
                    np.repeat(beta[init : init + 1], count, 0))
        raise ValueError(
            f"{self._describe()}: `init` must be one of {_ROW_INITS} or a row index; "
            f"received {init!r}."
        )

    # --------------------------------------------------------------- checks

    def _describe(self):
        return f"{type(self).__name__} '{self.name}'"

    def _check_rank(self, shape):
        if not self.MIN_RANK <= len(shape) <= 5:
            raise ValueError(
                f"{self._describe()}: expected a channels-last input of rank "
                f"{self.MIN_RANK} to 5 (batch, *spatial, channels); received shape "
                f"{tuple(shape)}."
            )

    def _check_channels(self, shape):
        if self.channels is not None and shape[-1] != self.channels:
            raise ValueError(
                f"{self._describe()}: the layer was built for {self.channels} channels; "
                f"received an input with {shape[-1]} (shape {tuple(shape)})."
            )

    def _check_batch(self, condition_shape, inputs_shape):
        got, want = condition_shape[0], inputs_shape[0]
        if got is not None and want is not None and got != want:
            raise ValueError(
                f"{self._describe()}: the condition has batch size {got} but the input "
                f"has {want}."
            )

    @classmethod
    def from_config(cls, config):
        """The layer of a config (a model file's), whose table and MLP are bounded first
        (`_checks.MAX_FILE_*`): a file cannot make Keras allocate more than any model
        needs."""
        _checks.config_within_file_bounds(cls.__name__, config)
        return super().from_config(config)

    def build_from_config(self, config):
        if config:
            _checks.build_within_file_bounds(self, config)
        super().build_from_config(config)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_conditions": self.num_conditions,
                "mlp_units": None if self.mlp_units is None else list(self.mlp_units),
                "epsilon": self.epsilon,
                "normalize_weights": self.normalize_weights,
                "mlp_activation": keras.activations.serialize(self.mlp_activation),
                "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
                "beta_initializer": keras.initializers.serialize(self.beta_initializer),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "trainable_rows": (
                    None if self._trainable_rows is None else list(self._trainable_rows)
                ),
                "condition_activation": (
                    None if self.condition_activation is None
                    else keras.activations.serialize(self.condition_activation)
                ),
            }
        )
        return config


def weight_tolerance(dtype):
    """How far weights of `dtype` that should be convex may miss: `WEIGHT_TOLERANCE`, or
    bfloat16's precision (each weight rounded by up to 2**-9 of itself, so convex weights
    sum to 1 within 2**-9; three thirds are 0.33398 each, 1.002 in all)."""
    return 2.0**-7 if _dtype_name_of(dtype) == "bfloat16" else WEIGHT_TOLERANCE


def _dtype_name_of(dtype):
    try:
        return keras.backend.standardize_dtype(dtype)
    except ValueError:
        return str(dtype)


def _with_dtype(condition):
    """Tensors and arrays as they are; a Python list as a numpy array."""
    return condition if hasattr(condition, "dtype") else np.asarray(condition)


def _is_integer(tensor):
    return "int" in _dtype_name(tensor)


def _is_float(tensor):
    name = _dtype_name(tensor)
    return "float" in name and keras.backend.is_float_dtype(name)


def _dtype_name(tensor):
    """The backend-independent name of the tensor's dtype (`bool`, not `torch.bool`), or
    numpy's name for one that no backend holds (`object` for `None`, `<U1` for strings)."""
    try:
        return keras.backend.standardize_dtype(tensor.dtype)
    except ValueError:
        return str(tensor.dtype)
