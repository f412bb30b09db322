"""The style transfer network of Dumoulin et al. (2017): one feed-forward net, N styles.

    images (B, H, W, 3) in [0, 1], styles (ids, weights or weight maps)
      -> 9x9 conv 32 -> 3x3 conv 64 /2 -> 3x3 conv 128 /2
      -> 5 residual blocks (two 3x3 convs 128)
      -> nearest x2 + 3x3 conv 64 -> nearest x2 + 3x3 conv 32 -> 9x9 conv 3
      -> sigmoid: images (B, H, W, 3) in [0, 1]

Every convolution is reflection-padded and followed by a conditional instance
normalization (so the convolutions carry no bias); only the gamma/beta tables
of those normalizations depend on the style. The widths above are Magenta's
(`Architecture()`, the default); an `Architecture` names others, such as the
slim network of TensorFlow's Android stylize demo, and `alpha` scales every width.
"""

import dataclasses

import keras
from keras import ops

from cbn import ConditionalInstanceNormalization
from style_transfer.base.errors import BadInput
from style_transfer.models import limits
from style_transfer.models.style_names import check_style_names

# Input sides are padded up to a multiple of this (two stride-2 convolutions).
SIDE_MULTIPLE = 4
MIN_SIDE_PX = 8
# Convolutions with at most this many filters run as row convolutions (see ConvBlock).
FEW_FILTERS = 4


@dataclasses.dataclass(frozen=True)
class Architecture:
    """The widths of a style transfer network's layers (before `alpha` scales them).

    The layer plan is fixed (a 9x9 convolution, two stride-2 3x3 convolutions,
    residual blocks, two nearest x2 upsamplings each followed by a 3x3
    convolution, a 9x9 convolution to RGB); the architecture says how wide each
    layer is and how many residual blocks there are. The defaults are Magenta's
    standard network (Dumoulin et al. 2017); `ARCHITECTURES` names the presets.

    Args:
        contract: Filters of the three contracting convolutions.
        residual_blocks: Number of residual blocks.
        residual_filters: Filters of each residual block's two convolutions;
            the identity shortcut needs it equal to the last contracting width.
        expand: Filters of the two upsampling convolutions.
    """

    contract: tuple = (32, 64, 128)
    residual_blocks: int = 5
    residual_filters: int = 128
    expand: tuple = (64, 32)

    def __post_init__(self):
        # Lists from JSON become tuples, so that architectures compare equal.
        for name in ("contract", "expand"):
            if isinstance(getattr(self, name), (list, tuple)):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        # Widths and blocks within what any model needs (a file may ask for millions).
        limits.check_architecture(dataclasses.asdict(self))
        if self.residual_filters != self.contract[-1]:
            raise BadInput(
                f"architecture residual_filters ({self.residual_filters}) must equal the last "
                f"contracting width ({self.contract[-1]}): the residual blocks add their "
                f"input to their output."
            )

    def to_dict(self):
        """A JSON-serializable dict; `Architecture(**d)` reverses it."""
        return {"contract": list(self.contract), "residual_blocks": self.residual_blocks,
                "residual_filters": self.residual_filters, "expand": list(self.expand)}

    def describe(self):
        """A short description: "32-64-128, 5x128 residual, 64-32"."""
        return (f"{'-'.join(map(str, self.contract))}, {self.residual_blocks}x"
                f"{self.residual_filters} residual, {'-'.join(map(str, self.expand))}")


ARCHITECTURES = {
    # Dumoulin et al. 2017 / Magenta image_stylization: 1.67M shared weights.
    "magenta": Architecture(),
    # TensorFlow's Android stylize demo (26 styles): 140,364 shared weights, 990 per style.
    "android-slim": Architecture(contract=(32, 32, 32), residual_blocks=6,
                                 residual_filters=32, expand=(8, 4)),
}


def as_architecture(architecture):
    """An `Architecture` from an `Architecture`, a preset name, a dict, or `None` (Magenta's)."""
    if architecture is None:
        return ARCHITECTURES["magenta"]
    if isinstance(architecture, Architecture):
        return architecture
    if isinstance(architecture, str):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {architecture!r}; the presets are "
                             f"{', '.join(ARCHITECTURES)}.")
        return ARCHITECTURES[architecture]
    if isinstance(architecture, dict):
        return Architecture(**architecture)
    raise ValueError(f"architecture must be an Architecture, a preset name or a dict; "
                     f"received {architecture!r}.")


def _reflect_pad(x, pad):
    return ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="reflect")


@keras.saving.register_keras_serializable(package="style_transfer")
class ConvBlock(keras.layers.Layer):
    """Reflection padding, convolution, conditional instance norm, activation.

    Reflection padding instead of zeros avoids border artifacts (Johnson et al. 2016).
    """

    def __init__(self, filters, kernel_size, strides=1, num_styles=None,
                 embedding_dim=None, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.num_styles = num_styles
        self.embedding_dim = embedding_dim
        self.activation = keras.activations.get(activation)
        self.conv = keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding="valid", use_bias=False,
            dtype=self.dtype_policy, name="conv",
        )
        # A style table, or (arbitrary styles) a linear head from the style embedding.
        self.norm = ConditionalInstanceNormalization(
            num_conditions=num_styles,
            mlp_units=None if embedding_dim is None else (),
            dtype=self.dtype_policy,
            name="norm",
        )

    def build(self, x_shape, styles_shape=None):
        # From shapes alone (no call on a dummy picture): loading a model stays cheap.
        self.conv.build((None, None, None, x_shape[-1]))
        self.norm.build((None, None, None, self.filters), styles_shape)

    def call(self, x, styles):
        x = self.convolve(_reflect_pad(x, self.kernel_size // 2))
        return self.activation(self.norm(x, styles))

    def convolve(self, padded):
        """The block's convolution of a picture already padded by `kernel_size // 2` on
        every side ('valid'): what `call` normalizes. Large photos run it tile by tile
        (`style_transfer.painting.tiling`)."""
        if self.filters <= FEW_FILTERS and self.kernel_size > 1 and self.strides == 1:
            return self._convolve_by_rows(padded)
        return self.conv(padded)

    def _convolve_by_rows(self, x):
        """`self.conv(x)` for a k x k kernel with few filters, as k row convolutions.

        A convolution with F filters is a matrix product with F columns: with
        F = 3 (the RGB output) it runs at a fraction of the machine's rate. One
        1 x k convolution with k * F filters (kernel row dy gives filters
        dy * F ... dy * F + F - 1) computes every kernel row at once; summing its
        row-shifted slices gives the same sum of products, several times faster
        for the 9x9 RGB convolution (BENCHMARKS.md, "Stylize speed and memory").
        """
        if not self.conv.built:
            self.conv.build(x.shape)
        k, f = self.kernel_size, self.filters
        kernel = ops.cast(self.conv.kernel, x.dtype)  # (k, k, in, f) -> (1, k, in, k * f)
        rows_kernel = ops.reshape(ops.transpose(kernel, (1, 2, 0, 3)), (1, k, -1, k * f))
        rows = ops.conv(x, rows_kernel, padding="valid")
        # Constant slice bounds (negative ends) keep the static shape in a traced graph.
        outputs = rows[:, : 1 - k, :, :f]
        for dy in range(1, k):
            outputs = outputs + rows[:, dy : dy + 1 - k or None, :, dy * f : (dy + 1) * f]
        return outputs

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "num_styles": self.num_styles,
            "embedding_dim": self.embedding_dim,
            "activation": keras.activations.serialize(self.activation),
        }


@keras.saving.register_keras_serializable(package="style_transfer")
class ResidualBlock(keras.layers.Layer):
    """Two 3x3 conv blocks and an identity shortcut (He et al. 2016), as in Johnson et al."""

    def __init__(self, filters, num_styles=None, embedding_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.num_styles = num_styles
        self.embedding_dim = embedding_dim
        conditioning = {"num_styles": num_styles, "embedding_dim": embedding_dim}
        self.first = ConvBlock(filters, 3, **conditioning, dtype=self.dtype_policy,
                               name="first")
        self.second = ConvBlock(filters, 3, **conditioning, activation=None,
                                dtype=self.dtype_policy, name="second")

    def build(self, x_shape, styles_shape=None):
        self.first.build(x_shape, styles_shape)
        self.second.build((None, None, None, self.filters), styles_shape)

    def call(self, x, styles):
        return x + self.second(self.first(x, styles), styles)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "num_styles": self.num_styles, "embedding_dim": self.embedding_dim}


@keras.saving.register_keras_serializable(package="style_transfer")
class UpsampleConvBlock(ConvBlock):
    """Nearest-neighbour x2 upsampling then a 3x3 conv block: no checkerboard artifacts.

    Computed without materializing the upsampled picture: output pixel
    (2i + a, 2j + b) of the 3x3 convolution only sees a 2x2 neighbourhood of
    the low-resolution input, so four 2x2 kernels made of sums of the 3x3
    kernel's taps (one per phase a, b) give the same result with 16 instead of
    36 multiply-adds per input pixel and channel pair. The weights are the
    3x3 kernel of `self.conv`, exactly as in upsample-then-convolve.

    Reference: Odena et al., "Deconvolution and Checkerboard Artifacts", Distill 2016.
    """

    def build(self, x_shape, styles_shape=None):
        if self.kernel_size != 3 or self.strides != 1:
            raise ValueError(
                "UpsampleConvBlock supports 3x3 stride-1 convolutions; received "
                f"kernel_size={self.kernel_size}, strides={self.strides}."
            )
        super().build(x_shape, styles_shape)

    def call(self, x, styles):
        return self.activation(self.norm(self.upsample_conv(x), styles))

    def upsample_conv(self, x):
        """`conv3x3(reflect_pad(upsample_nearest_x2(x), 1))`, from `x` itself."""
        # Reflection padding of the upsampled picture repeats the low-resolution
        # border pixel: symmetric padding of x by one.
        return self.convolve(ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="symmetric"))

    def convolve(self, x):
        """`upsample_conv` of a low-resolution picture already padded by one on every
        side: (batch, h + 2, w + 2, C) -> (batch, 2h, 2w, filters)."""
        kernel = ops.cast(self.conv.kernel, x.dtype)
        phase_kernels = [
            _fold_taps(_fold_taps(kernel, a, axis=0), b, axis=1) for a in (0, 1) for b in (0, 1)
        ]
        # One 2x2 convolution computes every phase: (batch, h + 1, w + 1, 4 * filters).
        phases = ops.conv(x, ops.concatenate(phase_kernels, axis=-1), padding="valid")
        f = self.filters

        def phase(a, b):
            # Rows a .. a + h - 1 of h + 1 (constant bounds keep static shapes when traced).
            index = 2 * a + b
            return phases[:, a : a - 1 or None, b : b - 1 or None, index * f : (index + 1) * f]

        def interleave(left, right, axis):
            # (..., n, ...) twice -> (..., 2n, ...), alternating along `axis`.
            stacked = ops.stack([left, right], axis=axis + 1)
            shape = ops.shape(left)
            new_shape = [shape[0], shape[1], shape[2], f]
            new_shape[axis] = 2 * shape[axis]
            return ops.reshape(stacked, new_shape)

        top = interleave(phase(0, 0), phase(0, 1), axis=2)
        bottom = interleave(phase(1, 0), phase(1, 1), axis=2)
        return interleave(top, bottom, axis=1)


def _fold_taps(kernel, phase, axis):
    """The 3 taps of a 3x3 kernel along `axis` folded to the 2 that one phase sees.

    After nearest x2 upsampling, output row 2i (phase 0) sees input rows
    (i - 1, i, i) and row 2i + 1 (phase 1) rows (i, i, i + 1): taps (k0, k1 + k2)
    on rows (i - 1, i), and (k0 + k1, k2) on rows (i, i + 1).
    """
    k0, k1, k2 = ops.unstack(kernel, axis=axis)
    taps = [k0, k1 + k2] if phase == 0 else [k0 + k1, k2]
    return ops.stack(taps, axis=axis)


@keras.saving.register_keras_serializable(package="style_transfer")
class StyleTransferNetwork(keras.Model):
    """One feed-forward network that paints a photo in any of `num_styles` styles.

    Args:
        num_styles: Number of styles (rows of every gamma/beta table).
        embedding_dim: Instead of `num_styles`: the length of a style
            embedding from which linear heads predict every gamma/beta
            (arbitrary styles, Ghiasi et al. 2017).
        alpha: Width multiplier of every layer of `architecture`; with
            Magenta's architecture 1.0 is the standard network (1.67M shared
            weights), 0.25-0.5 trains fast on a CPU.
        style_names: One name per style (defaults to "style_0", ...).
        training_config: JSON-serializable record of how the model was
            trained (image size, loss network, loss weights, ...), saved with it.
        architecture: The layer widths: an `Architecture`, the name of a
            preset in `ARCHITECTURES` ("magenta", "android-slim") or its dict;
            default Magenta's standard network.

    Call arguments:
        images: Float images (batch, H, W, 3) in [0, 1], any H and W >= 8;
            sides that are not multiples of 4 are padded and cropped back.
        styles: Integer style ids (batch,), convex weights (batch, num_styles),
            or convex weight maps (batch, H, W, num_styles) for a blend that
            varies across the picture; with `embedding_dim`, style embeddings
            (batch, embedding_dim).

    Returns:
        Stylized images (batch, H, W, 3) in [0, 1], float32.

    Reference: [Dumoulin et al., 2017](https://arxiv.org/abs/1610.07629).
    """

    def __init__(self, num_styles=None, alpha=1.0, style_names=None, training_config=None,
                 embedding_dim=None, architecture=None, **kwargs):
        super().__init__(**kwargs)
        if (num_styles is None) == (embedding_dim is None):
            raise ValueError(
                "give exactly one of num_styles (a table of styles) and embedding_dim "
                f"(arbitrary styles); received num_styles={num_styles!r}, "
                f"embedding_dim={embedding_dim!r}."
            )
        for name, value in (("num_styles", num_styles), ("embedding_dim", embedding_dim)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer; received {value!r}.")
        if not alpha > 0:
            raise ValueError(f"alpha must be positive; received {alpha!r}.")
        if num_styles is None:
            style_names = []
        elif not style_names:
            style_names = [f"style_{index}" for index in range(num_styles)]
        if num_styles is not None and len(style_names) != num_styles:
            raise ValueError(
                f"style_names has {len(style_names)} names for {num_styles} styles."
            )
        style_names = list(style_names)
        self.num_styles = num_styles
        self.embedding_dim = embedding_dim
        self.alpha = float(alpha)
        self.architecture = as_architecture(architecture)
        self.style_names = style_names
        self.training_config = dict(training_config or {})

        def width(channels):
            return max(1, int(round(channels * self.alpha)))

        def block(cls, *args, **block_kwargs):
            return cls(*args, num_styles=num_styles, embedding_dim=embedding_dim,
                       dtype=self.dtype_policy, **block_kwargs)

        plan = self.architecture
        self.contract = [
            block(ConvBlock, width(plan.contract[0]), 9, name="conv1"),
            block(ConvBlock, width(plan.contract[1]), 3, strides=2, name="conv2"),
            block(ConvBlock, width(plan.contract[2]), 3, strides=2, name="conv3"),
        ]
        self.residuals = [
            block(ResidualBlock, width(plan.residual_filters), name=f"residual{index + 1}")
            for index in range(plan.residual_blocks)
        ]
        self.expand = [
            block(UpsampleConvBlock, width(plan.expand[0]), 3, name="upsample1"),
            block(UpsampleConvBlock, width(plan.expand[1]), 3, name="upsample2"),
        ]
        self.to_rgb = block(ConvBlock, 3, 9, activation="sigmoid", name="to_rgb")

    def build(self, images_shape=None, styles_shape=None):
        # Every block from its input's channels, in the order a call would build them (the
        # same random draws), whatever form of style condition is used later (the tables
        # do not depend on it): no picture is painted, so loading a file stays cheap.
        styles_shape = (None,) if self.embedding_dim is None else (None, self.embedding_dim)
        channels = 3
        for block in (*self.contract, *self.residuals, *self.expand, self.to_rgb):
            block.build((None, None, None, channels), styles_shape)
            channels = block.filters
        self.built = True

    def call(self, images, styles):
        images = ops.convert_to_tensor(images)
        styles = ops.convert_to_tensor(styles)
        height, width = ops.shape(images)[1], ops.shape(images)[2]
        self._check_image_size(images.shape)
        x = self._pad_to_multiple(images)
        # Weight maps follow the picture through every resolution; a 2x2 average of
        # convex weights is still convex.
        per_pixel = len(styles.shape) == 4 and self.embedding_dim is None
        full = self._pad_to_multiple(styles) if per_pixel else styles
        half = ops.average_pool(full, 2, 2) if per_pixel else styles
        quarter = ops.average_pool(half, 2, 2) if per_pixel else styles

        x = self.contract[0](x, full)
        x = self.contract[1](x, half)
        x = self.contract[2](x, quarter)
        for residual in self.residuals:
            x = residual(x, quarter)
        x = self.expand[0](x, half)
        x = self.expand[1](x, full)
        x = self.to_rgb(x, full)
        return ops.cast(x[:, :height, :width, :], "float32")

    def _check_image_size(self, shape):
        if len(shape) != 4 or shape[-1] != 3:
            raise ValueError(
                f"images must have shape (batch, height, width, 3); received {tuple(shape)}."
            )
        for side in shape[1:3]:
            if side is not None and side < MIN_SIDE_PX:
                raise ValueError(
                    f"images must be at least {MIN_SIDE_PX}x{MIN_SIDE_PX} pixels; received "
                    f"{shape[1]}x{shape[2]}."
                )

    @staticmethod
    def _pad_to_multiple(x):
        height, width = ops.shape(x)[1], ops.shape(x)[2]
        # Sides known to be multiples already need no pad: Keras's PyTorch backend refuses
        # a non-constant pad that is zero on every side of a 4-D tensor.
        if isinstance(height, int) and isinstance(width, int) and not (
                height % SIDE_MULTIPLE or width % SIDE_MULTIPLE):
            return x
        pad_h = (-height) % SIDE_MULTIPLE
        pad_w = (-width) % SIDE_MULTIPLE
        if keras.backend.backend() == "torch":
            # Keras's PyTorch backend pads "symmetric" as "replicate" (the last line repeated),
            # which differs from a mirror from the second line on: the last lines, flipped.
            # (Its sides are known there: PyTorch runs eagerly.)
            if pad_h:
                x = ops.concatenate([x, ops.flip(x[:, height - pad_h:], axis=1)], axis=1)
            if pad_w:
                x = ops.concatenate([x, ops.flip(x[:, :, width - pad_w:], axis=2)], axis=2)
            return x
        return ops.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="symmetric")

    @classmethod
    def from_config(cls, config):
        """The network of a config (a model file's): its sizes are checked against
        `limits` and its style names as names given on the command line are, before
        anything is built."""
        limits.check_network_size(config)
        if config.get("style_names"):
            check_style_names(config["style_names"])
        return super().from_config(config)

    def get_config(self):
        return {
            "name": self.name,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "num_styles": self.num_styles,
            "embedding_dim": self.embedding_dim,
            "alpha": self.alpha,
            "architecture": self.architecture.to_dict(),
            "style_names": list(self.style_names),
            "training_config": self.training_config,
        }
