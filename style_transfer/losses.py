"""Perceptual losses (Gatys et al. 2016; Johnson et al. 2016) measured by a fixed VGG network.

    content(y, x) = mean (phi_j(y) - phi_j(x))^2                  one layer j
    style(y, s)   = sum_l w_l mean (G(phi_l(y)) - G(phi_l(s)))^2   several layers l
    G(F)          = F^T F / (H W)    (F: the H W x C feature matrix; optionally / C too)
    tv(y)         = mean |y[i+1, j] - y[i, j]|^2 + mean |y[i, j+1] - y[i, j]|^2

The style Gram targets G(phi_l(s)) depend only on the style images: `PerceptualLoss`
computes them once, stacks them per layer as (num_styles, C, C) and gathers one per
sample by style id, so every sample of a batch can be trained on its own style.
"""

import dataclasses
import os
import sys

import keras
import numpy as np
from keras import ops

from style_transfer import images
from style_transfer.downloads import download_failure
from style_transfer.errors import BadInput

VGG_NETWORKS = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}

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
    "WARNING: the loss network has RANDOM weights (--vgg-weights random). It trains and "
    "runs, but stylizations are far worse than with ImageNet weights; use it for tests "
    "and smoke runs only."
)


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Everything that defines the training loss, stored in the model's `training_config`.

    The defaults are Magenta's `image_stylization` (Dumoulin et al. 2017, the
    `vgg_16/conv*` end points of its `train.py` flags): VGG-16 with average
    pooling; content at the output of the third block (relu3_3) with weight 1;
    style at the outputs of blocks 1-4 (relu1_2, relu2_2, relu3_3, relu4_3)
    with weight 1e-4 each; Gram matrices divided by H W (not by C); both
    losses the mean of squared differences; no total variation.
    pytorch/examples' fast_neural_style uses content relu2_2 and Gram / (C H W)
    with weights 1e5 and 1e10 on sums; set `content_layer` and
    `gram_divides_channels` to follow it instead.

    One default differs from Magenta on purpose: `style_size`. Magenta computes
    the Gram targets from each style image at its own size
    (`image_stylization_create_dataset.py`); here the style image is first
    resized to 256 px on its long side, the size of the training crops, so
    that its Gram statistics describe strokes at the scale the network paints
    at whatever the file's resolution, and a 4000 px painting does not need
    gigabytes of VGG activations. Set `style_size` to the image's long side to
    compute them as Magenta does.

    Args:
        vgg: `"vgg16"` or `"vgg19"` (`keras.applications`).
        vgg_weights: `"imagenet"` (downloaded once and cached by Keras),
            `"random"` (same architecture, seeded untrained weights: for tests;
            far lower quality), or the path of a local weights file (.h5).
        pooling: `"avg"` (Magenta) or `"max"` (the original VGG).
        content_layer: Keras VGG layer name of the content features.
        style_layers: Keras VGG layer names of the style features.
        content_weight: Weight of the content loss.
        style_layer_weights: One weight per style layer.
        tv_weight: Weight of the total variation loss (0 disables it).
        gram_divides_channels: Divide Gram matrices by C as well as H W.
        style_size: Long side, in pixels, to which style images are resized
            before their Gram targets are computed (see above).
        random_seed: Seed of the `"random"` weights.
    """

    vgg: str = "vgg16"
    vgg_weights: str = "imagenet"
    pooling: str = "avg"
    content_layer: str = "block3_conv3"
    style_layers: tuple = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")
    content_weight: float = 1.0
    style_layer_weights: tuple = (1e-4, 1e-4, 1e-4, 1e-4)
    tv_weight: float = 0.0
    gram_divides_channels: bool = False
    style_size: int = 256
    random_seed: int = 0

    def __post_init__(self):
        # Lists from JSON become tuples, so that configs compare and hash.
        object.__setattr__(self, "style_layers", tuple(self.style_layers))
        object.__setattr__(
            self, "style_layer_weights", tuple(float(w) for w in self.style_layer_weights)
        )
        if self.vgg not in VGG_NETWORKS:
            raise BadInput(f"vgg must be one of {sorted(VGG_NETWORKS)}; received {self.vgg!r}.")
        if self.pooling not in ("avg", "max"):
            raise BadInput(f"pooling must be 'avg' or 'max'; received {self.pooling!r}.")
        if not self.style_layers:
            raise BadInput("style_layers must name at least one VGG layer.")
        if len(self.style_layer_weights) != len(self.style_layers):
            raise BadInput(
                f"style_layer_weights has {len(self.style_layer_weights)} weights for "
                f"{len(self.style_layers)} style layers."
            )
        for name in ("content_weight", "tv_weight"):
            if not getattr(self, name) >= 0:
                raise BadInput(f"{name} must be >= 0; received {getattr(self, name)!r}.")
        if min(self.style_layer_weights) < 0:
            raise BadInput(
                f"style weights must be >= 0; received {list(self.style_layer_weights)}."
            )
        if not (isinstance(self.style_size, int) and self.style_size >= 16):
            raise BadInput(f"style_size must be an integer >= 16; received {self.style_size!r}.")

    def with_style_weight(self, weight):
        """The same config with every style layer weighted `weight`."""
        return dataclasses.replace(
            self, style_layer_weights=(float(weight),) * len(self.style_layers)
        )

    def to_dict(self):
        """A JSON-serializable dict; `LossConfig.from_dict` reverses it."""
        config = dataclasses.asdict(self)
        config["style_layers"] = list(self.style_layers)
        config["style_layer_weights"] = list(self.style_layer_weights)
        return config

    @classmethod
    def from_dict(cls, config):
        return cls(**config)


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
    if not os.path.isfile(path):
        raise BadInput(
            f"VGG weights file {config.vgg_weights!r} does not exist (pass 'imagenet', "
            f"'random' or the path of a .h5 weights file)."
        )
    return path


def _vgg_with_weights(config):
    constructor = VGG_NETWORKS[config.vgg]
    path = vgg_weights_path(config)
    vgg = constructor(include_top=False, weights=None)
    if path is None:
        print(RANDOM_WEIGHTS_WARNING, file=sys.stderr)
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
            f"pass --vgg-weights random (low quality, for trials) or --vgg-weights PATH to a "
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

    Args:
        style_images: One float image (H, W, 3) in [0, 1] per style, any size;
            each is resized to `config.style_size` on its long side.
        config: A `LossConfig`.

    Call arguments:
        content_images: The photos (batch, H, W, 3) in [0, 1].
        stylized_images: The network's outputs for them (batch, H, W, 3).
        style_ids: Integer style of each sample (batch,).

    Returns:
        A dict of per-sample losses (batch,): `"total"`, `"content"`, `"style"`,
        `"tv"` (each already weighted; total = content + style + tv).
    """

    def __init__(self, style_images, config=LossConfig()):
        if len(style_images) == 0:
            raise BadInput("at least one style image is needed.")
        self.config = config
        self.network = build_loss_network(config)
        self.gram_targets = self._compute_gram_targets(style_images)

    @property
    def num_styles(self):
        return self.gram_targets[self.config.style_layers[0]].shape[0]

    def _compute_gram_targets(self, style_images):
        """{style layer: (num_styles, C, C)}; one style at a time, each at its own size."""
        per_style = []
        for image in style_images:
            image = images.resize_long_side(image, self.config.style_size)
            features = self.network(preprocess_for_vgg(image[None]))
            per_style.append({
                name: ops.convert_to_numpy(self._gram(features[name]))[0]
                for name in self.config.style_layers
            })
        return {
            name: ops.convert_to_tensor(np.stack([grams[name] for grams in per_style]))
            for name in self.config.style_layers
        }

    def _gram(self, features):
        return gram_matrix(features, self.config.gram_divides_channels)

    def __call__(self, content_images, stylized_images, style_ids):
        config = self.config
        # Two VGG passes, not one over the concatenated batch: the backward pass then
        # runs over the stylized half only. Measured on a 2-core CPU (256 px, batch 4)
        # the training step is about 1.4x faster this way.
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
        style_ids = ops.cast(style_ids, "int32")
        style = ops.zeros_like(content)
        for name, weight in zip(config.style_layers, config.style_layer_weights):
            target = ops.take(self.gram_targets[name], style_ids, axis=0)
            difference = self._gram(features[name]) - target
            style = style + weight * ops.mean(ops.square(difference), axis=(1, 2))
        if config.tv_weight > 0:
            tv = config.tv_weight * total_variation(stylized_images)
        else:
            tv = ops.zeros_like(content)
        return {"total": content + style + tv, "content": content, "style": style, "tv": tv}
