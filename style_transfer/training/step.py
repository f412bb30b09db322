"""The training step that `train`, `add-style` and `train-arbitrary` share, and its style draws.

    style ids (batch,) --styles()--> what the model is conditioned on,
                                     what the loss takes as the samples' styles
    photos --model--> stylized --PerceptualLoss--> per-sample losses
    mean loss --gradient--> Adam update of the model's trainable variables

The commands differ only in `styles`: a style table maps ids to table rows in
both the model and the loss (`add-style` shifts the model's by the number of old
styles); a folder of style images maps them to the drawn images, which the
arbitrary model encodes and the loss turns into Gram targets.
"""

import keras
import tensorflow as tf


class TrainingStep:
    """One compiled training step: condition on the drawn styles, stylize, measure, update.

    Build it (model, loss and all) under a `tf.distribute` strategy's scope to
    distribute it: each replica then trains on its share of the global batch, the
    optimizer sums the gradients of all replicas (their losses are divided by the
    global batch size, so the sum is the gradient of the global batch mean), and
    the per-sample losses of every replica are gathered. It owns its optimizer so
    that the optimizer's variables live where the model's do. A model that
    computes in float16 gets dynamic loss scaling (`keras.optimizers.
    LossScaleOptimizer`), so that small gradients do not underflow.

    Args:
        model: The Keras model to train; its `trainable_variables` are updated.
        loss: A `PerceptualLoss`.
        styles: Maps the style ids of a batch (batch,) int32 to `(condition,
            loss_styles)`: what `model(photos, condition)` takes and what
            `loss(photos, stylized, loss_styles)` takes. Traced into the step.
        num_styles: Style ids are drawn from [0, num_styles).
        learning_rate: Adam's learning rate.
        jit_compile: Compile with XLA.

    Call arguments:
        content_images: Photos (batch, S, S, 3) float32 in [0, 1]; under a
            strategy, the distributed per-replica batches
            (`distribution.batches`).
        style_ids: The style of each sample (batch,), integers: a batch may mix
            styles, and each style learns from its own samples only (distributed
            like `content_images`).

    Returns:
        `(style_ids, losses)` of the whole global batch: the style ids (batch,)
        and the per-sample losses, a dict of (batch,) tensors (see
        `PerceptualLoss`), in the same sample order.
    """

    def __init__(self, model, loss, styles, num_styles, learning_rate, jit_compile=False):
        self.model = model
        self.loss = loss
        self.styles = styles
        self.num_styles = num_styles
        self.strategy = tf.distribute.get_strategy()
        # A fixed name: checkpoints key the optimizer's variables by their paths.
        self.optimizer = keras.optimizers.Adam(learning_rate, name="adam")
        if model.dtype_policy.compute_dtype == "float16":
            self.optimizer = keras.optimizers.LossScaleOptimizer(
                self.optimizer, name="loss_scale_optimizer")
        self.optimizer.build(model.trainable_variables)
        self._step = tf.function(self._train_step, jit_compile=jit_compile)

    def __call__(self, content_images, style_ids):
        return self._step(content_images, style_ids)

    def _train_step(self, content_images, style_ids):
        per_replica = self.strategy.run(self._replica_step, args=(content_images, style_ids))
        return tf.nest.map_structure(lambda value: self.strategy.gather(value, axis=0),
                                     per_replica)

    def _replica_step(self, content_images, style_ids):
        style_ids = tf.cast(style_ids, tf.int32)
        condition, loss_styles = self.styles(style_ids)
        variables = self.model.trainable_variables
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        global_batch_size = tf.cast(tf.shape(style_ids)[0] * replicas, tf.float32)
        with tf.GradientTape() as tape:
            stylized = self.model(content_images, condition, training=True)
            losses = self.loss(content_images, stylized, loss_styles)
            batch_mean_share = tf.reduce_sum(losses["total"]) / global_batch_size
            if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                batch_mean_share = self.optimizer.scale_loss(batch_mean_share)
        gradients = tape.gradient(batch_mean_share, variables)
        # A style table's rows are gathered by id, so its gradient comes as IndexedSlices,
        # one slice per sample. Summed densely first (a table is small: styles x channels):
        # - Keras's Adam squares IndexedSlices slice by slice, so a style drawn for two
        #   samples got g1^2 + g2^2 as its second moment instead of (g1 + g2)^2;
        # - a strategy all-gathers, pads and re-indexes IndexedSlices where it all-reduces
        #   a dense gradient (a graph about twice as large to trace: a 2-step `train
        #   --distribute mirrored` on two logical CPUs took 23 s that way, 15 s this way).
        gradients = [tf.convert_to_tensor(gradient)
                     if isinstance(gradient, tf.IndexedSlices) else gradient
                     for gradient in gradients]
        self.optimizer.apply(gradients, variables)
        return style_ids, losses


def draw_style_ids(seed, step, batch_size, num_styles):
    """The style of each sample of step `step` (batch_size,): uniform, a pure function
    of (seed, step), so a resumed run draws what an uninterrupted one would."""
    return tf.random.stateless_uniform(
        (batch_size,), seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)]), minval=0,
        maxval=num_styles, dtype=tf.int32,
    )
