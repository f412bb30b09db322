"""Style as data augmentation: a Keras layer that paints each image of a batch in a random style.

    import keras
    from style_transfer.augment import RandomStyle

    augment = RandomStyle("android-26", strength=(0.5, 1.0), value_range=(0, 255), seed=0)
    inputs = keras.Input((224, 224, 3))
    x = augment(inputs)                            # training only: identity at inference
    x = keras.applications.MobileNetV3Small(weights=None, classes=10)(x)

    dataset = dataset.batch(32).map(lambda x, y: (augment(x), y))   # or in tf.data

Each image of a batch gets its own draw, from the layer's `seed` (Keras's
`SeedGenerator`, as Keras's random layers):
- a model with a table of styles: a convex blend of its styles (or of a chosen
  few), Dirichlet with `concentration` c (c = 0: one style at a time, the limit of
  the Dirichlet as c -> 0; c = 1: uniform over blends; large c: near the equal
  blend); a strength s, uniform in a range: s * painting + (1 - s) * photo;
- an arbitrary-style model (Ghiasi et al. 2017): the embedding of one of the
  given style images or a Dirichlet blend of them (`sampling="images"`, as
  Geirhos et al. 2019 painted Stylized-ImageNet), or a random embedding from a
  multivariate normal fitted to theirs (`sampling="normal"`, Jackson et al.
  2019); the strength moves it toward the photo's own embedding,
  s * e_style + (1 - s) * e_photo;
- optionally the photo's colours, with the painting's luminance (as
  `style_transfer.painting.photo_options.preserve_color`).

The painting network is frozen and nested in the layer: a model holding the
layer saves as one `.keras` file with the network's weights inside, and loads in
safe mode (its classes are this package's registered Keras classes) with
`keras.saving.load_model` after `import style_transfer`, on a machine without
the pretrained cache.

Backends: on TensorFlow it runs inside a model (`fit`, `predict`) and inside a
`tf.data` `map` as graph ops. On JAX and PyTorch it runs inside a model, and in
a `tf.data` `map` through `tf.numpy_function` (the network's weights are that
backend's arrays, which a TensorFlow graph cannot hold): correct and seeded, but
serialized by the Python lock, so there the layer is best placed in the model.

References: Geirhos et al., "ImageNet-trained CNNs are biased towards texture;
increasing shape bias improves accuracy and robustness", ICLR 2019,
https://arxiv.org/abs/1811.12231. Jackson et al., "Style Augmentation: Data
Augmentation via Style Randomization", CVPR Workshops 2019,
https://arxiv.org/abs/1809.05375.
"""

import sys

import keras
import numpy as np
from keras import ops

from style_transfer.base.errors import BadInput
from style_transfer.base.settings import check_seed
from style_transfer.models.arbitrary import ArbitraryStyleModel, style_embeddings
from style_transfer.models.limits import HUB_ENCODER, check_network_size
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.models.style_names import style_index
from style_transfer.painting import photo_options

SAMPLINGS = ("images", "normal")
# ITU-R BT.601 luma, as `photo_options.rgb_to_ycbcr`: keeping the photo's Cb and Cr with the
# painting's Y adds the difference of the two lumas to every channel of the photo.
_LUMA = (0.299, 0.587, 0.114)
# Added to every Gamma draw, so that a Dirichlet with a tiny concentration whose draws
# all underflow to zero gives the equal blend, not 0 / 0.
_GAMMA_FLOOR = 1e-30
# The normal fitted to few embeddings is singular: its factor comes from the covariance
# plus this much of the identity (relative to the covariance's mean variance).
_COVARIANCE_JITTER = 1e-6


@keras.saving.register_keras_serializable(package="style_transfer")
class RandomStyle(keras.layers.Layer):
    """Paints each image of a batch in a random style, during training only.

    Per image: style weights w, a strength s ~ U[low, high], and then
    `s * network(x, w) + (1 - s) * x` for a table of styles (w ~ Dirichlet(c) over
    the chosen styles, one-hot for c = 0), or `network(x, s * e + (1 - s) * e_x)` for
    an arbitrary-style model (e: a style embedding drawn as `sampling` says, e_x:
    the photo's own embedding). With `preserve_color`, the output keeps the
    photo's colours: `x + (Y(painting) - Y(x))` on every channel (BT.601 luma Y),
    clipped to the value range.

    Args:
        model: The painting network: a pretrained model's name ("android-26"), a
            `.keras` file (`style_transfer.models.loading.load_model`), or a
            loaded `StyleTransferNetwork` or `ArbitraryStyleModel`. It is
            frozen and nested in this layer (saved with it).
        styles: For a table of styles: the styles to draw from, by name or
            index (default: all of the model's).
        concentration: The Dirichlet concentration c >= 0 of the blends (of
            the styles, or of the style images' embeddings with
            `sampling="images"`); 0 draws one style at a time.
        strength: The strength s, a number or a range (low, high) drawn
            uniformly, within [0, 1] (1: the full style).
        preserve_color: Keep the photo's colours (the painting's luminance only).
        style_images: For an arbitrary-style model: the style images, as
            arrays (H, W, 3) in [0, 1] or image files; their embeddings are
            computed once and saved with the layer.
        sampling: For an arbitrary-style model: "images" (blends of the style
            images' embeddings, by `concentration`) or "normal" (a multivariate
            normal fitted to those embeddings, Jackson et al. 2019; needs at
            least two style images).
        value_range: The range of the input pixels, (0, 255) or (0, 1) as
            Keras's image layers; the output has the same range.
        seed: The seed of the draws, an integer from 0 to 2**31 - 1 (the range of Keras's
            seeds on every backend; None: a random one).
        num_style_embeddings: Set when a saved layer is loaded (how many style
            embeddings it holds); leave it None and give `style_images`.
        **kwargs: Base layer arguments (`name`, `dtype`).

    Call arguments:
        images: (batch, H, W, 3) or one image (H, W, 3), H and W >= 8.
        training: Paint (True, the default when called directly, as in a
            `tf.data` `map`) or pass the images through (False: `predict` and
            `evaluate` inside a model).

    Returns:
        The painted images in the layer's compute dtype, the input's shape.

    References: [Geirhos et al., 2019](https://arxiv.org/abs/1811.12231);
    [Jackson et al., 2019](https://arxiv.org/abs/1809.05375).
    """

    def __init__(self, model, styles=None, concentration=0.0, strength=(0.5, 1.0),
                 preserve_color=False, style_images=None, sampling="images",
                 value_range=(0, 255), seed=None, num_style_embeddings=None, **kwargs):
        super().__init__(**kwargs)
        self.network = _painting_network(model)
        self.network.trainable = False
        self.arbitrary = isinstance(self.network, ArbitraryStyleModel)
        self.concentration = _check_concentration(concentration)
        self.strength = _strength_range(strength)
        if not isinstance(preserve_color, (bool, np.bool_)):  # bool("no") is True
            raise BadInput(f"`preserve_color` must be True or False; received "
                           f"{preserve_color!r}.")
        self.preserve_color = bool(preserve_color)
        self.value_range = _check_value_range(value_range)
        if sampling not in SAMPLINGS:
            raise BadInput(f"`sampling` must be one of {', '.join(SAMPLINGS)}; received "
                           f"{sampling!r}.")
        self.sampling = sampling
        self.seed = None if seed is None else check_seed("seed", seed)
        self.generator = keras.random.SeedGenerator(self.seed)
        self._initial_embeddings = None
        if self.arbitrary:
            if styles is not None:
                raise BadInput("`styles` choose among a table of styles; an arbitrary-style "
                               "model paints with `style_images`.")
            if style_images is not None:
                self._initial_embeddings = style_embeddings(
                    self.network, [_style_image(image) for image in style_images])
                num_style_embeddings = len(self._initial_embeddings)
            if not num_style_embeddings:
                raise BadInput("an arbitrary-style model paints with `style_images`: give at "
                               "least one.")
            if sampling == "normal" and num_style_embeddings < 2:
                raise BadInput("`sampling` 'normal' fits a normal to the style images' "
                               "embeddings: give at least two `style_images`.")
            self.num_style_embeddings = int(num_style_embeddings)
            self.styles = None
        else:
            if style_images is not None:
                raise BadInput("an arbitrary-style model (made by train-arbitrary) is needed "
                               "for `style_images`; this model has a table of styles: choose "
                               "`styles`.")
            if sampling != "images":
                raise BadInput("`sampling` applies to arbitrary-style models; a table of styles "
                               "is sampled by `concentration`.")
            names = self.network.style_names
            chosen = range(len(names)) if styles is None else styles
            if isinstance(chosen, (str, int)):
                chosen = [chosen]
            self.styles = sorted({style_index(style, names) for style in chosen})
            if not self.styles:
                raise BadInput("`styles` is empty; name at least one style (or None: all).")
            self.num_style_embeddings = None

    def build(self, input_shape=None):
        if not self.network.built:
            self.network.build()
        if self.arbitrary:
            shape = (self.num_style_embeddings, self.network.embedding_dim)
            self.style_embeddings = self.add_weight(
                shape=shape, initializer="zeros", trainable=False, name="style_embeddings")
            if self._initial_embeddings is not None:
                self.style_embeddings.assign(self._initial_embeddings)
            dim = self.network.embedding_dim
            self.embedding_mean = self.add_weight(
                shape=(dim,), initializer="zeros", trainable=False, name="embedding_mean")
            self.embedding_factor = self.add_weight(
                shape=(dim, dim), initializer="zeros", trainable=False, name="embedding_factor")
            if self._initial_embeddings is not None and self.sampling == "normal":
                mean, factor = fit_normal(self._initial_embeddings)
                self.embedding_mean.assign(mean)
                self.embedding_factor.assign(factor)
            self._initial_embeddings = None
        self.built = True

    def __call__(self, images, training=None, **kwargs):
        _check_images_shape(images)
        if keras.backend.backend() != "tensorflow" and _is_graph_tensor(images):
            return self._call_eagerly_from_graph(images, training)
        if training is not None:
            kwargs["training"] = training
        return super().__call__(images, **kwargs)

    def call(self, images, training=True):
        if not training:
            return ops.cast(images, self.compute_dtype)
        single = len(images.shape) == 3
        photos = images[None] if single else images
        low, high = self.value_range
        photos = (ops.cast(photos, "float32") - low) / (high - low)
        batch = ops.shape(photos)[0]
        strength = keras.random.uniform((batch,), self.strength[0], self.strength[1],
                                        seed=self.generator)
        strength = ops.reshape(strength, (-1, 1, 1, 1))
        if self.arbitrary:
            painted = self._paint_arbitrary(photos, strength)
        else:
            weights = self._draw_weights(batch, len(self.styles))
            one_hot = np.eye(self.network.num_styles, dtype="float32")[self.styles]
            painted = self.network(photos, ops.matmul(weights, one_hot))
            painted = strength * painted + (1.0 - strength) * photos
        if self.preserve_color:
            luma = np.asarray(_LUMA, "float32")
            shift = ops.tensordot(painted, luma, 1) - ops.tensordot(photos, luma, 1)
            painted = ops.clip(photos + shift[..., None], 0.0, 1.0)
        painted = ops.stop_gradient(painted) * (high - low) + low
        painted = ops.cast(painted, self.compute_dtype)
        return painted[0] if single else painted

    def _draw_weights(self, batch, count):
        """Convex weights (batch, count): Dirichlet(concentration), or one-hot for 0."""
        if self.concentration == 0.0:
            index = keras.random.randint((batch,), 0, count, seed=self.generator)
            return ops.one_hot(index, count, dtype="float32")
        draws = keras.random.gamma((batch, count), self.concentration,
                                   seed=self.generator) + _GAMMA_FLOOR
        return draws / ops.sum(draws, axis=-1, keepdims=True)

    def _paint_arbitrary(self, photos, strength):
        batch = ops.shape(photos)[0]
        if self.sampling == "normal":
            noise = keras.random.normal((batch, self.network.embedding_dim), seed=self.generator)
            embedding = self.embedding_mean + ops.matmul(noise,
                                                         ops.transpose(self.embedding_factor))
        else:
            weights = self._draw_weights(batch, self.num_style_embeddings)
            embedding = ops.matmul(weights, self.style_embeddings)
        if self.strength != (1.0, 1.0):
            strength = ops.reshape(strength, (-1, 1))
            embedding = (strength * embedding
                         + (1.0 - strength) * self.network.embed(photos, training=False))
        return self.network.transformer(photos, embedding)

    def _call_eagerly_from_graph(self, images, training):
        """The layer in a TensorFlow graph (a `tf.data` `map`) on another backend: the
        network's weights are that backend's, so it runs eagerly in `tf.numpy_function`."""
        import tensorflow as tf

        arguments = {} if training is None else {"training": training}

        def paint(array):
            painted = super(RandomStyle, self).__call__(array, **arguments)
            return np.asarray(ops.convert_to_numpy(painted), dtype=self.compute_dtype)

        painted = tf.numpy_function(paint, [images], tf.as_dtype(self.compute_dtype),
                                    stateful=True)
        painted.set_shape(images.shape)
        return painted

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.network),
            "styles": self.styles,
            "concentration": self.concentration,
            "strength": list(self.strength),
            "preserve_color": self.preserve_color,
            "sampling": self.sampling,
            "num_style_embeddings": self.num_style_embeddings,
            "value_range": list(self.value_range),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = config.pop("model")
        if not isinstance(model, dict) or model.get("class_name") not in (
                "StyleTransferNetwork", "ArbitraryStyleModel"):
            raise BadInput("a RandomStyle layer's `model` must be a style network of this "
                           "package; the file names another.")
        check_network_size(model.get("config") or {}, "the RandomStyle layer's model")
        network = keras.saving.deserialize_keras_object(model)
        return cls(network, **config)


def fit_normal(embeddings):
    """The mean (D,) and a factor L (D, D), L L^T = the covariance, of embeddings (K, D).

    A sample is `mean + L z`, z ~ N(0, I). With fewer embeddings than dimensions
    the covariance is singular (its samples stay in the span of the embeddings'
    differences); a jitter of 1e-6 of the mean variance on its diagonal lets
    the Cholesky factor exist.
    """
    embeddings = np.asarray(embeddings, np.float64)
    mean = embeddings.mean(axis=0)
    covariance = np.atleast_2d(np.cov(embeddings, rowvar=False))
    jitter = _COVARIANCE_JITTER * max(float(np.mean(np.diag(covariance))), 1e-12)
    factor = np.linalg.cholesky(covariance + jitter * np.eye(len(covariance)))
    return mean.astype(np.float32), factor.astype(np.float32)


def _painting_network(model):
    """The style network that `model` names or is."""
    if isinstance(model, (StyleTransferNetwork, ArbitraryStyleModel)):
        network = model
    elif isinstance(model, keras.Model):
        raise BadInput(f"`model` must be a style network of this package; received a "
                       f"{type(model).__name__}.")
    else:
        from style_transfer.models.loading import load_model

        network = load_model(model)
    if isinstance(network, StyleTransferNetwork) and network.num_styles is None:
        raise BadInput("`model` is the style network of an arbitrary-style model; pass the "
                       "whole `ArbitraryStyleModel` (it embeds the style images).")
    if getattr(network, "encoder_name", None) == HUB_ENCODER:
        raise BadInput("an arbitrary-style model with a TF Hub encoder cannot be saved inside "
                       "a layer (its encoder is a TensorFlow graph named by the file); use one "
                       "with a keras.applications encoder.")
    return network


def _style_image(image):
    """A style image as (H, W, 3) float32 in [0, 1]: an array as given, or a file read."""
    if isinstance(image, np.ndarray):
        return np.asarray(image, np.float32)
    from style_transfer.base.images import load_image

    return load_image(image)


def _check_concentration(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"`concentration` must be a number >= 0; received {value!r}.") from None
    if not np.isfinite(value) or value < 0:
        raise BadInput(f"`concentration` must be a finite number >= 0 (0: one style at a "
                       f"time); received {value!r}.")
    return value


def _strength_range(strength):
    """(low, high) from a number or a pair, each checked within [0, 1]."""
    pair = (strength, strength) if np.ndim(strength) == 0 else tuple(strength)
    if len(pair) != 2:
        raise BadInput(f"`strength` must be a number or a range (low, high); received "
                       f"{strength!r}.")
    low, high = (photo_options.check_strength(value) for value in pair)
    if low > high:
        raise BadInput(f"`strength` range ({low:g}, {high:g}) must have low <= high.")
    return low, high


def _check_value_range(value_range):
    try:
        low, high = (float(value) for value in value_range)
    except (TypeError, ValueError):
        raise BadInput(f"`value_range` must be (low, high), e.g. (0, 255) or (0, 1); "
                       f"received {value_range!r}.") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise BadInput(f"`value_range` must be (low, high) with low < high; received "
                       f"{value_range!r}.")
    return low, high


def _check_images_shape(images):
    """Refuses what is not RGB images (batch, H, W, 3) or one image (H, W, 3), in one line
    (the network's own error came from deep inside it, or was an IndexError); the rank and
    the channels must be known (a `tf.data` tensor from `tf.io.decode_image` has neither)."""
    try:
        shape = tuple(images.shape) if hasattr(images, "shape") else np.shape(images)
    except ValueError:  # a TensorFlow tensor of unknown rank
        shape = None
    if shape is None or len(shape) not in (3, 4) or shape[-1] != 3:
        raise BadInput(f"RandomStyle paints RGB images (batch, height, width, 3) or one image "
                       f"(height, width, 3); received shape {shape or 'unknown'}: give "
                       f"grayscale images 3 channels and drop an alpha channel (in tf.data, "
                       f"decode with channels=3).")


def _is_graph_tensor(value):
    """Whether `value` is a tensor of a TensorFlow graph being built (e.g. a `tf.data` map)."""
    if "tensorflow" not in sys.modules:
        return False
    import tensorflow as tf

    return isinstance(value, tf.Tensor) and not tf.executing_eagerly()
