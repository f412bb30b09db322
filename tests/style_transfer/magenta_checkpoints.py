"""Synthetic Magenta checkpoints, and Magenta's transformer rewritten in plain TensorFlow ops.

The real checkpoints cannot be downloaded here, so the tests write checkpoints
with `tf.compat.v1.train.Saver` under exactly the variable names and shapes of
Magenta's `image_stylization` (V1 format, as Magenta publishes them), with
seeded random weights, optimizer slots and a loss-network variable beside them.

`magenta_transform` is an independent reading of Magenta's `model.transform`
(`image_stylization/model.py`) with `ops.weighted_instance_norm`: mirror
padding, VALID convolutions without bias, instance norm with epsilon 1e-5,
`resize_nearest_neighbor` before the expanding convolutions, sigmoid output.
It reads the weights from the checkpoint by name, not through this package.
"""

import numpy as np
import tensorflow as tf

EPSILON = 1e-5


def magenta_shapes(num_styles, alpha=1.0, residual_blocks=5):
    """{variable name: shape} of Magenta's transformer (`int(alpha * width)` as model.py)."""
    c1, c2, c3 = (int(alpha * width) for width in (32, 64, 128))
    e1, e2 = int(alpha * 64), int(alpha * 32)
    convolutions = {
        "transformer/contract/conv1": (9, 3, c1),
        "transformer/contract/conv2": (3, c1, c2),
        "transformer/contract/conv3": (3, c2, c3),
        **{f"transformer/residual/residual{j}/conv{c}": (3, c3, c3)
           for j in range(1, residual_blocks + 1) for c in (1, 2)},
        "transformer/expand/conv1/conv": (3, c3, e1),
        "transformer/expand/conv2/conv": (3, e1, e2),
        "transformer/expand/conv3/conv": (9, e2, 3),
    }
    shapes = {}
    for scope, (size, inputs, outputs) in convolutions.items():
        shapes[f"{scope}/weights"] = (size, size, inputs, outputs)
        shapes[f"{scope}/InstanceNorm/beta"] = (num_styles, outputs)
        shapes[f"{scope}/InstanceNorm/gamma"] = (num_styles, outputs)
    return shapes


def random_tensors(shapes, seed=0):
    """Seeded weights that keep the pictures away from the sigmoid's flat ends."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in shapes.items():
        if name.endswith("weights"):
            fan_in = np.prod(shape[:3])
            value = rng.normal(size=shape) / np.sqrt(fan_in)
        elif name.endswith("gamma"):
            value = 1.0 + 0.3 * rng.normal(size=shape)
        else:
            value = 0.3 * rng.normal(size=shape)
        tensors[name] = value.astype("float32")
    return tensors


def write_checkpoint(path, tensors, extras=True, version=1):
    """Writes `tensors` as a TF1 checkpoint at `path`, as Magenta's training would.

    With `extras`, Adam slots of two variables, a VGG-16 variable and the global
    step are saved too (a published checkpoint holds such variables).
    """
    tensors = dict(tensors)
    if extras:
        for name in ("transformer/contract/conv1/weights",
                     "transformer/contract/conv1/InstanceNorm/gamma"):
            tensors[f"{name}/Adam"] = np.zeros_like(tensors[name])
            tensors[f"{name}/Adam_1"] = np.zeros_like(tensors[name])
        tensors["vgg_16/conv1/conv1_1/weights"] = np.ones((3, 3, 3, 64), "float32")
        tensors["global_step"] = np.int64(40000)
    write_version = (tf.compat.v1.train.SaverDef.V1 if version == 1
                     else tf.compat.v1.train.SaverDef.V2)
    with tf.Graph().as_default():
        variables = [tf.compat.v1.Variable(value, name=name) for name, value in tensors.items()]
        saver = tf.compat.v1.train.Saver(variables, write_version=write_version)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(path), write_meta_graph=False, write_state=False)
    return path


def magenta_transform(images, tensors, style_weights):
    """Magenta's transformer on `images` (B, H, W, 3) with convex `style_weights` (B, N)."""
    images = tf.constant(images, tf.float32)
    style_weights = tf.constant(style_weights, tf.float32)

    def instance_norm(x, scope):
        mean, variance = tf.nn.moments(x, [1, 2], keepdims=True)
        gamma = tf.matmul(style_weights, tensors[f"{scope}/InstanceNorm/gamma"])
        beta = tf.matmul(style_weights, tensors[f"{scope}/InstanceNorm/beta"])
        return tf.nn.batch_normalization(x, mean, variance, beta[:, None, None, :],
                                         gamma[:, None, None, :], EPSILON)

    def conv2d(x, scope, kernel_size, stride, activation=tf.nn.relu):
        padding = kernel_size // 2
        x = tf.pad(x, [[0, 0], [padding, padding], [padding, padding], [0, 0]], mode="REFLECT")
        x = tf.nn.conv2d(x, tensors[f"{scope}/weights"], stride, "VALID")
        x = instance_norm(x, scope)
        return activation(x) if activation is not None else x

    def upsampling(x, scope, kernel_size, stride, activation=tf.nn.relu):
        height, width = tf.shape(x)[1], tf.shape(x)[2]
        x = tf.compat.v1.image.resize_nearest_neighbor(x, [stride * height, stride * width])
        return conv2d(x, f"{scope}/conv", kernel_size, 1, activation)

    h = conv2d(images, "transformer/contract/conv1", 9, 1)
    h = conv2d(h, "transformer/contract/conv2", 3, 2)
    h = conv2d(h, "transformer/contract/conv3", 3, 2)
    block = 1
    while f"transformer/residual/residual{block}/conv1/weights" in tensors:
        scope = f"transformer/residual/residual{block}"
        h = h + conv2d(conv2d(h, f"{scope}/conv1", 3, 1), f"{scope}/conv2", 3, 1, None)
        block += 1
    h = upsampling(h, "transformer/expand/conv1", 3, 2)
    h = upsampling(h, "transformer/expand/conv2", 3, 2)
    return upsampling(h, "transformer/expand/conv3", 9, 1, tf.nn.sigmoid).numpy()
