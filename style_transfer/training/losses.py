"""Perceptual losses (Gatys et al. 2016; Johnson et al. 2016) measured by a fixed VGG network.

    content(y, x) = mean (phi_j(y) - phi_j(x))^2                  one layer j
    style(y, s)   = sum_l w_l mean (G(phi_l(y)) - G(phi_l(s)))^2   several layers l
    G(F)          = F^T F / (H W)    (F: the H W x C feature matrix; optionally / C too)
    tv(y)         = mean |y[i+1, j] - y[i, j]|^2 + mean |y[i, j+1] - y[i, j]|^2

The style Gram targets G(phi_l(s)) depend only on the style images: `PerceptualLoss`
either computes them once, stacks them per layer as (num_styles, C, C) and gathers one
per sample by style id, or computes them per sample from the sample's own style image;
either way every sample of a batch can be trained on its own style. The settings of
the loss are a `LossConfig` (`style_transfer.training.config`, imported here too).
"""

import os
import re
import warnings

import keras
import numpy as np
from keras import ops

from style_transfer.base import images
from style_transfer.base.downloads import download_failure
from style_transfer.base.errors import BadInput, RandomWeightsWarning
from style_transfer.base.files import not_a_regular_file
from style_transfer.training.config import LossConfig

_VGG_CONSTRUCTORS = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}

# The ImageNet weights that `keras.applications` downloads (no classifier head),
# fetched here so that a failed download becomes a clear one-line error.
_IMAGENET_WEIGHTS = {
    "vgg16": (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
    "vgg19": (
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "253f8cb515780f3b799900260a226db6",
    ),
}

# The Keras VGG weights come from Caffe: BGR input, 0..255, minus the ImageNet mean.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)

RANDOM_WEIGHTS_WARNING = (
    "the loss network has RANDOM weights (vgg_weights='random'): it trains and runs, but "
    "stylizations are far worse than with ImageNet weights; use it for tests and smoke runs "
    "only."
)


def preprocess_for_vgg(images):
    """[0, 1] RGB images -> what the Keras (Caffe) VGG weights expect: BGR, x255, mean removed."""
    bgr = ops.flip(ops.cast(images, "float32"), axis=-1) * 255.0
    return bgr - ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype="float32")


def gram_matrix(features, divide_channels=False):
    """Gram matrices (batch, C, C) = F^T F / (H W) of features (batch, H, W, C).

    With `divide_channels`, divided by C as well (pytorch/examples).
    """
    features = ops.cast(features, "float32")
    height, width, channels = features.shape[1], features.shape[2], features.shape[3]
    if height is None or width is None:
        height, width = ops.shape(features)[1], ops.shape(features)[2]
    flat = ops.reshape(features, (ops.shape(features)[0], -1, channels))
    gram = ops.matmul(ops.transpose(flat, (0, 2, 1)), flat)
    denominator = ops.cast(height * width * (channels if divide_channels else 1), "float32")
    return gram / denominator


def total_variation(images):
    """Per-sample total variation (batch,): mean squared difference of neighbouring pixels."""
    images = ops.cast(images, "float32")
    vertical = ops.mean(ops.square(images[:, 1:] - images[:, :-1]), axis=(1, 2, 3))
    horizontal = ops.mean(ops.square(images[:, :, 1:] - images[:, :, :-1]), axis=(1, 2, 3))
    return vertical + horizontal


def smallest_side_px(config):
    """The shortest side, in pixels, of an image in which VGG reaches every layer `config`
    uses: a layer of block N follows N - 1 poolings, each halving the side (rounding
    down), so a thinner image leaves nothing to convolve."""
    blocks = [int(match.group(1)) for name in (config.content_layer, *config.style_layers)
              if (match := re.fullmatch(r"block(\d+)_\w+", name))]
    return 2 ** (max(blocks, default=1) - 1)


def build_loss_network(config):
    """The fixed feature extractor: VGG up to the deepest layer `config` uses.

    Returns:
        A non-trainable `keras.Model` mapping preprocessed images (batch, H, W, 3)
        to a dict {layer name: features} for the content and style layers.

    Raises:
        BadInput: a layer name VGG does not have, a weights file that is
            missing or does not fit, or ImageNet weights that cannot be downloaded.
    """
    vgg = _vgg_with_weights(config)
    layer_names = [layer.name for layer in vgg.layers]
    wanted = [config.content_layer, *config.style_layers]
    unknown = [name for name in wanted if name not in layer_names]
    if unknown:
        convs = [name for name in layer_names if "conv" in name]
        raise BadInput(
            f"{config.vgg} has no layer {unknown[0]!r}; its convolution layers are "
            f"{', '.join(convs)}."
        )
    # Rebuild the graph up to the deepest layer needed, sharing VGG's layers (and so
    # its weights), with average pooling in place of max pooling if asked.
    deepest = max(layer_names.index(name) for name in wanted)
    inputs = keras.Input((None, None, 3), name="vgg_input")
    x = inputs
    outputs = {}
    for layer in vgg.layers[1 : deepest + 1]:
        if isinstance(layer, keras.layers.MaxPooling2D) and config.pooling == "avg":
            x = keras.layers.AveragePooling2D(
                layer.pool_size, layer.strides, padding=layer.padding, name=layer.name
            )(x)
        else:
            x = layer(x)
        if layer.name in wanted:
            outputs[layer.name] = x
    network = keras.Model(inputs, outputs, name=f"{config.vgg}_{config.pooling}_features")
    network.trainable = False
    return network


def vgg_weights_path(config):
    """The local file of the loss network's weights (`None` for random weights).

    ImageNet weights are downloaded on first use and cached by Keras
    (~/.keras/models).

    Raises:
        BadInput: the download fails, or a given file does not exist.
    """
    if config.vgg_weights == "random":
        return None
    if config.vgg_weights == "imagenet":
        return _download_imagenet_weights(config.vgg)
    path = os.path.expanduser(config.vgg_weights)
    problem = not_a_regular_file(path)
    if problem:
        raise BadInput(
            f"VGG weights file {config.vgg_weights!r}: {problem} (pass 'imagenet', "
            f"'random' or the path of a .h5 weights file)."
        )
    return path


def _vgg_with_weights(config):
    constructor = _VGG_CONSTRUCTORS[config.vgg]
    path = vgg_weights_path(config)
    vgg = constructor(include_top=False, weights=None)
    if path is None:
        warnings.warn(RANDOM_WEIGHTS_WARNING, RandomWeightsWarning, stacklevel=3)
        _seed_weights(vgg, config.random_seed)
        return vgg
    try:
        vgg.load_weights(path)
    except Exception as error:  # h5py and Keras raise many types for a wrong file.
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        raise BadInput(
            f"could not load {config.vgg} weights (no top) from {path}: "
            f"{type(error).__name__}: {first_line}"
        ) from None
    return vgg


def _download_imagenet_weights(vgg):
    file_name, url, file_hash = _IMAGENET_WEIGHTS[vgg]
    try:
        return keras.utils.get_file(file_name, url, cache_subdir="models", file_hash=file_hash)
    except Exception as error:  # get_file raises a bare Exception for network failures.
        raise BadInput(
            f"the ImageNet weights of {vgg} could not be downloaded ({download_failure(error)}); "
            f"pass `vgg_weights` random (low quality, for trials) or `vgg_weights` PATH to a "
            f"local {file_name}."
        ) from None


def _seed_weights(vgg, seed):
    """Glorot-uniform kernels and zero biases from `seed`, whatever the global random state."""
    for index, layer in enumerate(vgg.layers):
        if isinstance(layer, keras.layers.Conv2D):
            initializer = keras.initializers.GlorotUniform(seed=seed * 1000 + index)
            layer.kernel.assign(initializer(layer.kernel.shape))
            layer.bias.assign(ops.zeros(layer.bias.shape))


class PerceptualLoss:
    """Content, style and total variation losses of stylized images, per sample.

    The Gram targets of each sample come from one of two places:
    - a table: `style_images` given, their Gram matrices are computed once and
      stacked per layer as (num_styles, C, C); a sample's style is its row,
      picked by an integer style id (multi-style training, Dumoulin et al.);
    - the sample's own style image, (batch, S, S, 3) float in [0, 1], whose
      Gram matrices are computed in the same call (arbitrary styles, Ghiasi et
      al.), so a folder of style images needs no table.

    Args:
        style_images: One float image (H, W, 3) in [0, 1] per style of the
            table, any size; each is resized to `config.style_size` on its
            long side. None: no table, styles are passed as images.
        config: A `LossConfig`.

    Call arguments:
        content_images: The photos (batch, H, W, 3) in [0, 1].
        stylized_images: The network's outputs for them (batch, H, W, 3).
        styles: Integer style ids (batch,), rows of the table; or float style
            images (batch, S, S, 3) in [0, 1].

    Returns:
        A dict of per-sample losses (batch,): `"total"`, `"content"`, `"style"`,
        `"tv"` (each already weighted; total = content + style + tv).
    """

    def __init__(self, style_images=None, config=LossConfig()):
        if style_images is not None and len(style_images) == 0:
            raise BadInput("at least one style image is needed.")
        self.config = config
        self.network = build_loss_network(config)
        self.gram_table = None if style_images is None else self._gram_table(style_images)

    @property
    def num_styles(self):
        """Rows of the table (None without one)."""
        if self.gram_table is None:
            return None
        return self.gram_table[self.config.style_layers[0]].shape[0]

    def _gram_table(self, style_images):
        """{style layer: (num_styles, C, C)}; one style at a time, each at its own size."""
        per_style = []
        for image in style_images:
            image = images.resize_long_side(image, self.config.style_size)
            per_style.append({
                name: ops.convert_to_numpy(gram)[0]
                for name, gram in self.gram_matrices(image[None]).items()
            })
        return {
            name: ops.convert_to_tensor(np.stack([grams[name] for grams in per_style]))
            for name in self.config.style_layers
        }

    def gram_matrices(self, style_images):
        """{style layer: (batch, C, C)}: the Gram matrices of images (batch, S, S, 3) in [0, 1]."""
        features = self.network(preprocess_for_vgg(style_images))
        return {name: self._gram(features[name]) for name in self.config.style_layers}

    def _gram(self, features):
        return gram_matrix(features, self.config.gram_divides_channels)

    def style_targets(self, styles):
        """{style layer: (batch, C, C)}: table rows for style ids, or the style images' Grams."""
        styles = ops.convert_to_tensor(styles)
        if "int" in keras.backend.standardize_dtype(styles.dtype):
            if self.gram_table is None:
                raise ValueError("style ids need a table: pass style_images to PerceptualLoss.")
            styles = ops.cast(styles, "int32")
            return {name: ops.take(table, styles, axis=0) for name, table in self.gram_table.items()}
        return {name: ops.stop_gradient(gram)
                for name, gram in self.gram_matrices(ops.cast(styles, "float32")).items()}

    def __call__(self, content_images, stylized_images, styles):
        config = self.config
        targets = self.style_targets(styles)
        # Two VGG passes, not one over the concatenated batch: the backward pass then
        # runs over the stylized half only, which makes the training step faster
        # (BENCHMARKS.md, "Training speed").
        photo_features = ops.stop_gradient(ops.cast(
            self.network(preprocess_for_vgg(content_images))[config.content_layer], "float32"
        ))
        # Losses in float32 even when the networks compute in (b)float16.
        features = {
            name: ops.cast(value, "float32")
            for name, value in self.network(preprocess_for_vgg(stylized_images)).items()
        }
        content = config.content_weight * ops.mean(
            ops.square(features[config.content_layer] - photo_features), axis=(1, 2, 3)
        )
        style = ops.zeros_like(content)
        for name, weight in zip(config.style_layers, config.style_layer_weights):
            difference = self._gram(features[name]) - targets[name]
            style = style + weight * ops.mean(ops.square(difference), axis=(1, 2))
        if config.tv_weight > 0:
            tv = config.tv_weight * total_variation(stylized_images)
        else:
            tv = ops.zeros_like(content)
        return {"total": content + style + tv, "content": content, "style": style, "tv": tv}
