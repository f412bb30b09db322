"""Small SavedModels that stand in for TF Hub models (none can be downloaded in the tests).

They are loaded through the same `tensorflow_hub` code path as real hub models
(`hub.resolve` / `hub.load` of a local folder).
"""

import tensorflow as tf


def save_feature_vector_model(path, feature_dim=8, seed=0, writes=None):
    """An image feature-vector model following the Reusable SavedModel API of TF Hub.

    images (batch, H, W, 3) in [0, 1] -> (batch, feature_dim): a 3x3 convolution, a
    batch-norm-like shift (a non-trainable variable, used only when training=False,
    like moving statistics), ReLU, mean pooling. It lists `variables` and
    `trainable_variables` and takes `training`, as hub models do.

    With `writes` (a path), each call also writes that file, as a hostile graph
    could: running a SavedModel runs whatever operations it holds.
    """
    kernel = tf.Variable(tf.random.stateless_normal((3, 3, 3, feature_dim), (seed, 1)),
                         name="conv/kernel")
    moving_mean = tf.Variable(tf.fill((feature_dim,), 0.1), trainable=False,
                              name="bn/moving_mean")

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32),
                                  tf.TensorSpec((), tf.bool)])
    def call(images, training=False):
        if writes is not None:
            tf.io.write_file(str(writes), "the hub graph ran")
        features = tf.nn.conv2d(images, kernel, 1, "SAME")
        batch_mean = tf.reduce_mean(features, axis=(0, 1, 2))
        features = features - tf.cond(training, lambda: batch_mean, lambda: moving_mean)
        return tf.reduce_mean(tf.nn.relu(features), axis=(1, 2))

    root = tf.train.Checkpoint()
    root.variables = [kernel, moving_mean]
    root.trainable_variables = [kernel]
    root.__call__ = call
    tf.saved_model.save(root, str(path))
    return path


class _PlainModule(tf.Module):
    def __init__(self):
        self.kernel = tf.Variable(tf.random.stateless_normal((3, 4), (5, 6)), name="kernel")

    @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32)])
    def __call__(self, inputs):
        return inputs @ self.kernel


def save_plain_module(path):
    """A plain `tf.Module` SavedModel (no `variables` list): (batch, 3) -> (batch, 4)."""
    tf.saved_model.save(_PlainModule(), str(path))
    return path


def save_magenta_stand_in(path):
    """The call signature of Magenta's arbitrary-image-stylization-v1-256 hub model.

    (content (1, H, W, 3), style (1, 256, 256, 3)), float32 in [0, 1] -> [stylized
    (1, H', W', 3)]: here the mean of the photo and the style's mean colour. The style
    must be 256 x 256, the size Magenta recommends. Like the real model, sides that
    are not multiples of 4 come back rounded up to one (here by repeating the edge).
    """

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32),
                                  tf.TensorSpec((None, 256, 256, 3), tf.float32)])
    def call(content, style):
        mixed = 0.5 * content + 0.5 * tf.reduce_mean(style, axis=(1, 2), keepdims=True)
        height, width = tf.shape(content)[1], tf.shape(content)[2]
        padding = [[0, 0], [0, (-height) % 4], [0, (-width) % 4], [0, 0]]
        return [tf.pad(mixed, padding, mode="SYMMETRIC")]

    root = tf.train.Checkpoint()
    root.__call__ = call
    tf.saved_model.save(root, str(path))
    return path
