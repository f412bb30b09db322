"""The style network as plain TensorFlow ops, for the runtimes that paint outside TensorFlow.

`portable_function(network)` builds, from the weights of a `StyleTransferNetwork`,
a `tf.function` that computes the network's pictures with a small set of
operations every converter and runtime handles well (convolutions, means,
element-wise arithmetic, slices, depth-to-space): tf2onnx turns it into an ONNX
graph for onnxruntime, the TFLite converter into a LiteRT model that XNNPACK
runs. The Keras layers stay the reference: `style_transfer.models.export` verifies every
conversion against the Keras model before it is written.

What the function computes is the Keras network's arithmetic, rearranged for speed
and portability, not approximated:

- the weights are constants, and every style condition (a table's convex weights,
  per-pixel weight maps, an arbitrary-style model's embedding) reaches gamma and
  beta through one affine map per resolution (`Block.affine`, `Block.offset`);
- reflection padding is `tf.pad(..., "REFLECT")` (ONNX's Pad), or with
  `reflect="slices"` slices and concatenations (XNNPACK has no mirror padding);
- the upsampling convolutions run at low resolution as 2x2 phase kernels, the
  phases interleaved by depth-to-space (`network.UpsampleConvBlock`);
- a convolution with at most `network.FEW_FILTERS` filters (the RGB one) runs at half
  resolution as phase kernels between space-to-depth and depth-to-space
  (`_Graph.conv_by_phases`); channels-last, the upsampling block before it keeps its
  phases apart through its normalization and the reflection padding, so that
  neither that depth-to-space nor the space-to-depth runs (`_Graph.phased_blocks`);
- channels-last, the first convolution (from the picture's 3 channels) runs on 3
  adjacent rows side by side in the channels, a third of the taps each reading 9
  channels (`_Graph.conv_unfolded`);
- instance-norm statistics are taken one spatial axis at a time, as the Keras
  layers take them (`cbn._fused.moments`): a float32 mean over a million positions
  in one reduction drifts by 1e-2 of a grey level at 1024 px in onnxruntime and
  XNNPACK alike;
- layouts: "NHWC" (TensorFlow, LiteRT) or "NCHW" (onnxruntime's convolutions run
  channels-first; the graph is only traced, never run, in TensorFlow). Inputs and
  outputs are NHWC either way.

Non-convex style weights give NaN pixels, as in the Keras network.
"""

import dataclasses

import numpy as np

from style_transfer.base.errors import BadInput
from style_transfer.models.network import FEW_FILTERS, SIDE_MULTIPLE

LAYOUTS = ("NHWC", "NCHW")
# How the input reaches a multiple of SIDE_MULTIPLE: padded in the graph at run
# time ("dynamic": ONNX), at a fixed size ("static"), or not at all ("none": the
# caller passes sides that are multiples of 4, as a LiteRT model of any size needs).
INPUT_PADDING = ("dynamic", "static", "none")
WEIGHT_TOLERANCE = 1e-3  # as cbn.conditional_normalization.WEIGHT_TOLERANCE
# Channels-last convolutions of at most this many input channels (the picture's) run on
# UNFOLD_ROWS adjacent rows side by side in the channels (`_Graph.conv_unfolded`).
UNFOLD_CHANNELS = 4
UNFOLD_ROWS = 3




@dataclasses.dataclass(frozen=True)
class Block:
    """One convolution block of the network, as arrays.

    Attributes:
        name: The Keras layer's name ("conv1", "residual3.first", "to_rgb").
        kind: "conv" or "upsample" (nearest x2, then the convolution).
        kernel: (k, k, in, out) float32.
        strides: 1 or 2.
        activation: "relu", "sigmoid" or None.
        affine, offset: gamma and beta from the style condition c (convex
            weights or an embedding): `[gamma, beta] = c @ affine + offset`,
            shapes (S, 2C) and (2C,).
        epsilon: Added to the variance.
        scale: The block's resolution against the picture: 1, 2 or 4.
    """

    name: str
    kind: str
    kernel: np.ndarray
    strides: int
    activation: str
    affine: np.ndarray
    offset: np.ndarray
    epsilon: float
    scale: int

    @property
    def filters(self):
        return self.kernel.shape[-1]


def network_blocks(network):
    """(blocks in order, number of residual blocks) of a `StyleTransferNetwork`'s weights."""
    blocks = []

    def add(layer, name, kind, scale):
        kernel = np.asarray(layer.conv.kernel.numpy(), np.float32)
        affine, offset = _affine_map(layer.norm)
        activation = None if layer.activation is None else layer.activation.__name__
        if activation == "linear":
            activation = None
        blocks.append(Block(name, kind, kernel, layer.strides, activation, affine, offset,
                            float(layer.norm.epsilon), scale))

    add(network.contract[0], "conv1", "conv", 1)
    add(network.contract[1], "conv2", "conv", 2)
    add(network.contract[2], "conv3", "conv", 4)
    for index, residual in enumerate(network.residuals):
        add(residual.first, f"residual{index + 1}.first", "conv", 4)
        add(residual.second, f"residual{index + 1}.second", "conv", 4)
    add(network.expand[0], "upsample1", "upsample", 2)
    add(network.expand[1], "upsample2", "upsample", 1)
    add(network.to_rgb, "to_rgb", "conv", 1)
    return blocks, len(network.residuals)


def _affine_map(norm):
    """(affine (S, 2C), offset (2C,)): gamma/beta of a conditional instance norm from its
    condition, a table's convex weights or an embedding through a linear head."""
    if norm.uses_table:
        table = np.concatenate([norm.gamma.numpy(), norm.beta.numpy()], axis=-1)
        return table.astype(np.float32), np.zeros(table.shape[-1], np.float32)
    if len(norm.mlp_layers) != 1:
        raise BadInput("only a linear head from the style embedding to gamma and beta can be "
                       "exported; this network's heads have hidden layers.")
    head = norm.mlp_layers[0]
    base = np.concatenate([norm.gamma.numpy(), norm.beta.numpy()])
    return (np.asarray(head.kernel.numpy(), np.float32),
            (np.asarray(head.bias.numpy()) + base).astype(np.float32))


def style_kind(network):
    """"weights" for a table of styles, "embedding" for an arbitrary-style network."""
    return "weights" if network.embedding_dim is None else "embedding"


def portable_function(network, *, layout="NHWC", style="vector", input_padding="dynamic",
                      image_size=None, reflect="pad", batch_size=None, first_by_phases=False,
                      phased_tail=True, unfold_first=True):
    """A `tf.function(images, style) -> pictures` computing `network` (see the module doc).

    Args:
        network: A built `StyleTransferNetwork` (a table of styles, or an
            arbitrary-style network conditioned on embeddings).
        layout: "NHWC" or "NCHW" (the internal layout; inputs stay NHWC).
        style: "vector": convex weights (B, N) or embeddings (B, D); "map":
            convex weight maps (B, H, W, N) (tables only).
        input_padding: See `INPUT_PADDING`.
        image_size: (height, width) fixed in the signature, or None for any.
        reflect: "pad" (one padding op) or "slices" (slices and concatenation).
        batch_size: Fixed batch in the signature, or None for any.
        first_by_phases: Run the first 9 x 9 convolution as four phases at half
            resolution (`_Graph.conv_by_phases`): a third more multiply-adds, but 12
            input channels instead of 3, which XNNPACK's int8 kernels run 1.7x
            faster at 512 px (its float kernels 15% slower): for int8 models.
        phased_tail: Channels-last graphs with one style vector per picture hand the
            last upsampling block's four phases to the RGB convolution (which runs by
            phases) without interleaving them (`_Graph.phased_blocks`): two copies
            of the full-size activations fewer.
        unfold_first: Channels-last graphs run a convolution from few channels (the
            picture's) on 3 adjacent rows side by side (`_Graph.conv_unfolded`).

    Returns:
        The `tf.function`, with an input signature named `input_image` and
        `style_weights` / `style_weight_map` / `style_embedding`.
    """
    import tensorflow as tf

    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; received {layout!r}.")
    if input_padding not in INPUT_PADDING:
        raise ValueError(f"input_padding must be one of {INPUT_PADDING}; received "
                         f"{input_padding!r}.")
    if style not in ("vector", "map"):
        raise ValueError(f"style must be 'vector' or 'map'; received {style!r}.")
    kind = style_kind(network)
    if style == "map" and kind != "weights":
        raise BadInput("weight maps need a network with a table of styles.")
    blocks, residual_blocks = network_blocks(network)
    graph = _Graph(layout, reflect, by_phases=(blocks[0].name,) if first_by_phases else (),
                   unfold=unfold_first)
    width = blocks[0].affine.shape[0]
    height, side = (None, None) if image_size is None else image_size
    images_spec = tf.TensorSpec((batch_size, height, side, 3), tf.float32, name="input_image")
    if style == "map":
        style_spec = tf.TensorSpec((batch_size, height, side, width), tf.float32,
                                   name="style_weight_map")
    else:
        style_spec = tf.TensorSpec((batch_size, width), tf.float32,
                                   name="style_weights" if kind == "weights" else "style_embedding")

    def paint(input_image, style_condition):
        images, condition = input_image, style_condition
        if kind == "weights":
            condition = _convex_or_nan(tf, condition)
        if input_padding != "none":
            images = _pad_to_multiple(tf, images)
            if style == "map":
                condition = _pad_to_multiple(tf, condition)
        x = graph.from_nhwc(images)
        affines = _Affines(tf, graph, blocks, condition, style)
        x = graph.block(blocks[0], x, affines)
        x = graph.block(blocks[1], x, affines)
        x = graph.block(blocks[2], x, affines)
        for index in range(residual_blocks):
            first, second = blocks[3 + 2 * index], blocks[4 + 2 * index]
            x = x + graph.block(second, graph.block(first, x, affines), affines)
        tail = blocks[3 + 2 * residual_blocks:]
        index = 0
        while index < len(tail):
            block = tail[index]
            following = tail[index + 1] if index + 1 < len(tail) else None
            if (phased_tail and style == "vector" and following is not None
                    and graph.stays_in_phases(block, following)):
                # The upsampling block's four phases stay side by side in the channels
                # (space-to-depth form) through its normalization, activation and the
                # next block's padding, which convolves them by phases anyway.
                x = graph.phased_blocks(block, following, x, affines)
                index += 2
            else:
                x = graph.block(block, x, affines)
                index += 1
        pictures = graph.to_nhwc(x)
        if input_padding != "none":
            if image_size is not None:
                pictures = pictures[:, :height, :side, :]
            else:
                shape = tf.shape(input_image)
                pictures = pictures[:, : shape[1], : shape[2], :]
        return {"stylized_image": pictures}

    return tf.function(paint, input_signature=[images_spec, style_spec])


def _convex_or_nan(tf, weights):
    """Weights (..., N) where convex (within WEIGHT_TOLERANCE), NaN where not (as Keras does)."""
    total = tf.reduce_sum(weights, axis=-1, keepdims=True)
    valid = tf.logical_and(
        tf.reduce_min(weights, axis=-1, keepdims=True) >= -WEIGHT_TOLERANCE,
        tf.abs(total - 1.0) <= WEIGHT_TOLERANCE)
    return tf.where(valid, weights, tf.constant(float("nan"), tf.float32))


def _pad_to_multiple(tf, x):
    """Symmetric padding at the bottom and right to sides that are multiples of 4 (as
    `StyleTransferNetwork._pad_to_multiple`).

    At most 3 rows (columns) are added, the last ones mirrored. A side known when
    the graph is traced is padded with constant slices (nothing for a multiple of
    4: LiteRT mishandles empty slices); an unknown one at run time, by cutting the
    3 mirrored lines out with constant bounds and keeping the first `pad` of them,
    which converts to plain slices (tf.pad's symmetric mode becomes a dozen gathers
    in ONNX).
    """
    shape = tf.shape(x)
    for axis in (1, 2):
        def line(back):
            index = [slice(None)] * 4
            index[axis] = slice(-back, -back + 1 or None)
            return x[tuple(index)]

        side = x.shape[axis]
        if side is not None:
            pad = -side % SIDE_MULTIPLE
            if pad:
                x = tf.concat([x] + [line(back) for back in range(1, pad + 1)], axis)
            continue
        # (4 - side % 4) % 4 on positive numbers: tf2onnx turns a modulo of a negative
        # number into a truncating one.
        pad = (SIDE_MULTIPLE - shape[axis] % SIDE_MULTIPLE) % SIDE_MULTIPLE
        mirrored = tf.concat([line(back) for back in range(1, SIDE_MULTIPLE)], axis)
        index = [slice(None)] * 4
        index[axis] = slice(0, pad)
        x = tf.concat([x, mirrored[tuple(index)]], axis)
    return x


class _Affines:
    """gamma and beta of every block from the style condition: one matrix product for
    vectors; for weight maps one 1x1 convolution per resolution, the maps averaged
    2x2 down the resolutions as the Keras network does."""

    def __init__(self, tf, graph, blocks, condition, style):
        self.tf, self.graph, self.style = tf, graph, style
        self.columns = {}
        if style == "vector":
            matrix = np.concatenate([block.affine for block in blocks], axis=-1)
            offset = np.concatenate([block.offset for block in blocks])
            values = tf.matmul(condition, matrix) + offset
            # Shaped to broadcast once: each block slices its gamma and beta out of it.
            self.values = {None: graph.per_channel(values)}
            start = 0
            for block in blocks:
                self.columns[block.name] = (None, start, start + block.affine.shape[-1])
                start += block.affine.shape[-1]
            return
        maps = {1: graph.from_nhwc(condition)}
        maps[2] = graph.avg_pool(maps[1])
        maps[4] = graph.avg_pool(maps[2])
        self.values = {}
        for scale in (1, 2, 4):
            chosen = [block for block in blocks if block.scale == scale]
            if not chosen:
                continue
            matrix = np.concatenate([block.affine for block in chosen], axis=-1)
            self.values[scale] = graph.conv(maps[scale], matrix[None, None])
            start = 0
            for block in chosen:
                self.columns[block.name] = (scale, start, start + block.affine.shape[-1])
                start += block.affine.shape[-1]

    def gamma_beta(self, block):
        key, start, end = self.columns[block.name]
        channels = block.filters
        values = self.values[key]
        return (self.graph.channels(values, start, start + channels),
                self.graph.channels(values, start + channels, end))


class _Graph:
    """The operations of one layout."""

    def __init__(self, layout, reflect, by_phases=(), unfold=True):
        import tensorflow as tf

        self.tf = tf
        self.nchw = layout == "NCHW"
        self.reflect = reflect
        self.by_phases = set(by_phases)  # Names of blocks convolved by phases whatever their size.
        self.unfold = unfold and not self.nchw  # `conv_unfolded` for few input channels
        self.spatial = (2, 3) if self.nchw else (1, 2)

    # ----------------------------------------------------------------- layout

    def from_nhwc(self, x):
        return self.tf.transpose(x, [0, 3, 1, 2]) if self.nchw else x

    def to_nhwc(self, x):
        return self.tf.transpose(x, [0, 2, 3, 1]) if self.nchw else x

    def per_channel(self, values):
        """(B, C) -> a tensor that broadcasts over the spatial axes."""
        channels = values.shape[-1]
        shape = [-1, channels, 1, 1] if self.nchw else [-1, 1, 1, channels]
        return self.tf.reshape(values, shape)

    def channels(self, x, start, end):
        return x[:, start:end] if self.nchw else x[..., start:end]

    def window(self, x, rows, columns, channels=None):
        """x[rows, columns] (and channels): slices of the spatial axes."""
        channels = channels or slice(None)
        if self.nchw:
            return x[:, channels, rows, columns]
        return x[:, rows, columns, channels]

    def concat(self, parts, axis):
        return self.tf.concat(parts, axis)

    def conv(self, x, kernel, strides=1):
        return self.tf.nn.conv2d(x, kernel, strides, "VALID",
                                 data_format="NCHW" if self.nchw else "NHWC")

    def avg_pool(self, x):
        return self.tf.nn.avg_pool2d(x, 2, 2, "VALID",
                                     data_format="NCHW" if self.nchw else "NHWC")

    def depth_to_space(self, x):
        if self.nchw:
            x = self.tf.transpose(x, [0, 2, 3, 1])
        x = self.tf.nn.depth_to_space(x, 2)
        return self.tf.transpose(x, [0, 3, 1, 2]) if self.nchw else x

    # ---------------------------------------------------------------- padding

    def pad(self, x, amount, mode):
        """Reflection ("REFLECT") or symmetric ("SYMMETRIC") padding of both spatial axes."""
        if self.reflect == "pad":
            paddings = [[0, 0], [0, 0], [amount, amount], [amount, amount]] if self.nchw else \
                [[0, 0], [amount, amount], [amount, amount], [0, 0]]
            return self.tf.pad(x, paddings, mode=mode)
        # Slices and concatenations: row/column `first + j` for j = amount - 1 .. 0 before,
        # and the mirror image after (first = 1 for reflection, 0 for symmetric).
        first = 1 if mode == "REFLECT" else 0
        for axis in self.spatial:
            def line(index):
                parts = [slice(None)] * 4
                parts[axis] = slice(index, index + 1 or None)
                return x[tuple(parts)]

            before = [line(first + j) for j in range(amount - 1, -1, -1)]
            after = [line(-1 - first - j) for j in range(amount)]
            x = self.tf.concat(before + [x] + after, axis)
        return x

    def edge_pad(self, x):
        """Symmetric padding by one (the border line repeated), as slices: tf.pad's
        symmetric mode has no ONNX or XNNPACK counterpart."""
        for axis in self.spatial:
            first, last = [slice(None)] * 4, [slice(None)] * 4
            first[axis], last[axis] = slice(0, 1), slice(-1, None)
            x = self.tf.concat([x[tuple(first)], x, x[tuple(last)]], axis)
        return x

    # ------------------------------------------------------------------ blocks

    def block(self, block, x, affines):
        if block.kind == "upsample":
            x = self.upsample_conv(x, block.kernel)
        elif block.kernel.shape[0] > 1 and block.strides == 1 and (
                block.filters <= FEW_FILTERS or block.name in self.by_phases):
            x = self.conv_by_phases(self.pad(x, block.kernel.shape[0] // 2, "REFLECT"),
                                    block.kernel)
        elif self.unfolds(block):
            x = self.conv_unfolded(self.pad(x, block.kernel.shape[0] // 2, "REFLECT"),
                                   block.kernel)
        else:
            x = self.conv(self.pad(x, block.kernel.shape[0] // 2, "REFLECT"), block.kernel,
                          block.strides)
        return self.normalize_and_activate(block, x, affines)

    def normalize_and_activate(self, block, x, affines):
        """The end of `block`: its instance norm with the style's gamma and beta, then
        its activation."""
        gamma, beta = affines.gamma_beta(block)
        x = self.normalize(x, gamma, beta, block.epsilon, per_sample=affines.style == "vector")
        return self.activate(x, block.activation)

    def stays_in_phases(self, block, following):
        """Whether `block` (an upsampling one) can hand its phases to `following` without
        interleaving them: the next convolution runs by phases, with an even padding."""
        size = following.kernel.shape[0]
        return (not self.nchw and block.kind == "upsample" and following.kind == "conv"
                and following.strides == 1 and size > 1 and (size // 2) % 2 == 0
                and (following.filters <= FEW_FILTERS or following.name in self.by_phases))

    def phased_blocks(self, block, following, x, affines):
        """`following(block(x))` for an upsampling `block` whose output goes to a
        convolution by phases: the depth-to-space after the upsampling and the
        space-to-depth before the convolution cancel, so neither runs; the
        normalization, activation and reflection padding work on the phases."""
        x = self.upsample_conv(x, block.kernel, interleave=False)
        gamma, beta = affines.gamma_beta(block)
        x = self.normalize_phases(x, gamma, beta, block.epsilon)
        x = self.activate(x, block.activation)
        x = self.reflect_phases(x, following.kernel.shape[0] // 2)
        x = self.depth_to_space(self.conv(x, _phase_kernel(following.kernel)))
        return self.normalize_and_activate(following, x, affines)

    def activate(self, x, activation):
        if activation == "relu":
            return self.tf.nn.relu(x)
        if activation == "sigmoid":
            return self.tf.sigmoid(x)
        return x

    def normalize_phases(self, x, gamma, beta, epsilon):
        """`normalize` of the picture whose 2 x 2 phases are `x`'s four channel groups
        (space-to-depth form, NHWC): statistics over the positions and the phases."""
        tf = self.tf

        def tiled(t):
            return tf.concat([t, t, t, t], -1)

        def mean_of(t):
            means = tf.reduce_mean(tf.reduce_mean(t, 2, keepdims=True), 1, keepdims=True)
            groups = tf.split(means, 4, axis=-1)
            return tiled((groups[0] + groups[1] + groups[2] + groups[3]) * 0.25)

        return self._normalize_channels_last(x, tiled(gamma), tiled(beta), epsilon, mean_of)

    def _normalize_channels_last(self, x, gamma, beta, epsilon, mean_of):
        """The channels-last instance norm, with the statistics' `mean_of`: the variance
        through one squared difference, then `x * scale + (beta - mean * scale)` (three
        passes over `x` after its mean; LiteRT has the fused op)."""
        tf = self.tf
        mean = mean_of(x)
        variance = mean_of(tf.math.squared_difference(x, mean))
        scale = gamma * tf.math.rsqrt(variance + epsilon)
        return x * scale + (beta - mean * scale)

    def reflect_phases(self, x, amount):
        """Reflection padding by `amount` (even) of the picture whose 2 x 2 phases are
        `x`'s channel groups, in that form: `amount / 2` blocks on each side, each
        block's phases taken from the blocks that hold the reflected lines."""
        tf = self.tf
        blocks = amount // 2
        group = x.shape[-1] // 4
        for axis in (1, 2):
            def line(index, x=x, axis=axis):
                parts = [slice(None)] * 4
                parts[axis] = slice(index, index + 1 or None)
                return x[tuple(parts)]

            def padding_block(sources, axis=axis, line=line):
                # sources[phase]: the block index (negative from the end) holding that
                # phase's reflected line, and the phase it sits in there.
                pieces = []
                for row_phase in (0, 1):
                    for column_phase in (0, 1):
                        phase = row_phase if axis == 1 else column_phase
                        source, source_phase = sources[phase]
                        if axis == 1:
                            channel = 2 * source_phase + column_phase
                        else:
                            channel = 2 * row_phase + source_phase
                        pieces.append(line(source)[..., channel * group:(channel + 1) * group])
                return tf.concat(pieces, -1)

            before, after = [], []
            for j in range(blocks, 0, -1):  # block -j: full-resolution lines -2j and -2j + 1
                sources = []
                for phase in (0, 1):
                    line_index = 2 * j - phase  # the reflection of line -(2j - phase)
                    sources.append((line_index // 2, line_index % 2))
                before.append(padding_block(sources))
            for j in range(blocks):  # block n + j: lines 2n + 2j + phase, reflected
                sources = []
                for phase in (0, 1):
                    back = 2 * j + phase + 2  # the line `back` from the end (1 = last)
                    # The full-resolution line 2n - back sits in block n - ceil(back / 2).
                    sources.append((-((back + 1) // 2), (-back) % 2))
                after.append(padding_block(sources))
            x = tf.concat(before + [x] + after, axis)
        return x

    def normalize(self, x, gamma, beta, epsilon, per_sample=True):
        """Instance normalization, statistics one spatial axis at a time (see the module doc).

        Channels-last graphs take the variance through one squared difference and
        apply `x * scale + (beta - mean * scale)`, as the Keras layers do: three
        passes over `x` after its mean (LiteRT has the fused op). Channels-first
        graphs (onnxruntime) take the variance from the centred tensor and, with one
        gamma and beta per picture, apply the statistics and the affine in one pass
        as ONNX's BatchNormalization in inference mode over (1, batch x channels, H, W)
        (628 against 656 ms at 1024 px on one thread; two passes otherwise).
        """
        tf = self.tf
        first, second = self.spatial

        def mean_of(t):
            return tf.reduce_mean(tf.reduce_mean(t, second, keepdims=True), first, keepdims=True)

        if not self.nchw:
            return self._normalize_channels_last(x, gamma, beta, epsilon, mean_of)
        mean = mean_of(x)
        centred = x - mean
        # (ONNX's ReduceL2 of the rows, one read instead of a square written and read,
        # was slower in onnxruntime: 35 against 33 ms at 256 px, 624 against 598 at 1024.)
        variance = mean_of(tf.square(centred))
        if per_sample:
            # Traced only (TensorFlow's CPU kernel takes NCHW only on some builds); tf2onnx
            # writes it as BatchNormalization with these run-time statistics.
            shape = tf.shape(x)
            pictures = tf.reshape(x, [1, -1, shape[2], shape[3]])
            normalized = tf.compat.v1.nn.fused_batch_norm(
                pictures, tf.reshape(gamma, [-1]), tf.reshape(beta, [-1]),
                mean=tf.reshape(mean, [-1]), variance=tf.reshape(variance, [-1]),
                epsilon=epsilon, is_training=False, data_format="NCHW")[0]
            return tf.reshape(normalized, shape)
        # A power rather than rsqrt, which tf2onnx writes as a square root and a reciprocal.
        scale = gamma * tf.pow(variance + epsilon, -0.5)
        return centred * scale + beta

    def unfolds(self, block):
        """Whether `block`'s convolution runs unfolded (`conv_unfolded`): channels-last,
        stride 1, few input channels (the RGB picture) and a size divisible by 3."""
        size, channels = block.kernel.shape[0], block.kernel.shape[2]
        return (self.unfold and block.strides == 1 and channels <= UNFOLD_CHANNELS
                and size > UNFOLD_ROWS and size % UNFOLD_ROWS == 0)

    def conv_unfolded(self, x, kernel):
        """A k x k convolution of a picture with few channels as a (k / 3) x k one,
        dilated by 3 rows, of the picture's 3 vertically adjacent rows side by side in
        the channels (made by a 3 x 1 convolution with one-hot taps: exact copies).

        XNNPACK's convolutions loop over the kernel's taps and, within each, over the
        input channels: with 3 channels per tap most of each step is overhead. With 9
        channels and a third of the taps, the first 9 x 9 convolution of the network
        took 5-10% less time at 256 and 1024 px (LiteRT, two threads), whatever the
        extra convolution costs; unfolding 9 rows or columns, or 3 x 3 pixels, did not.
        """
        rows, channels = UNFOLD_ROWS, kernel.shape[2]
        k, filters = kernel.shape[0], kernel.shape[-1]
        copies = np.zeros((rows, 1, channels, rows * channels), np.float32)
        for row in range(rows):
            copies[row, 0, :, row * channels:(row + 1) * channels] = np.eye(channels)
        # Tap (i, dx) of the dilated kernel reads rows 3i .. 3i + 2: kernel rows 3i + row.
        unfolded = np.zeros((k // rows, k, rows * channels, filters), np.float32)
        for i in range(k // rows):
            for row in range(rows):
                unfolded[i, :, row * channels:(row + 1) * channels] = kernel[rows * i + row]
        stacked = self.conv(x, copies)
        return self.tf.nn.conv2d(stacked, unfolded, 1, "VALID", data_format="NHWC",
                                 dilations=[rows, 1])

    def conv_by_phases(self, x, kernel):
        """A k x k convolution with few filters on a picture of even sides, at half
        resolution: space-to-depth (2 x 2 blocks), one (k + 2) // 2 square convolution
        that gives the 4 output phases at once (4 x filters), depth-to-space.

        The Keras network runs such a convolution as row convolutions (k x filters
        filters); here the phases did better: onnxruntime pads a convolution's filters
        to 16, so 12 phase filters waste little where 3 (or 27 row filters) wasted most
        (2.7 against 3.5 ms at 256 px, 45 against 67 ms at 1024 px, one thread), and
        XNNPACK ran the whole 512 px network in 156 against 167 ms (int8: 98 against 114).
        """
        x = self.space_to_depth(x)
        return self.depth_to_space(self.conv(x, _phase_kernel(kernel)))

    def space_to_depth(self, x):
        if self.nchw:
            x = self.tf.transpose(x, [0, 2, 3, 1])
        x = self.tf.nn.space_to_depth(x, 2)
        return self.tf.transpose(x, [0, 3, 1, 2]) if self.nchw else x

    def upsample_conv(self, x, kernel, interleave=True):
        """conv3x3(reflect_pad(upsample_nearest_x2(x))) as four 2x2 phase kernels at low
        resolution, the phases interleaved by depth-to-space (`UpsampleConvBlock`)."""
        filters = kernel.shape[-1]
        x = self.edge_pad(x)
        phase_kernels = [_fold_taps(_fold_taps(kernel, a, 0), b, 1) for a in (0, 1) for b in (0, 1)]
        phases = self.conv(x, np.concatenate(phase_kernels, axis=-1))
        parts = []
        for a in (0, 1):
            for b in (0, 1):
                index = 2 * a + b
                parts.append(self.window(phases, slice(a, a - 1 or None), slice(b, b - 1 or None),
                                         slice(index * filters, (index + 1) * filters)))
        phases = self.concat(parts, 1 if self.nchw else 3)
        return self.depth_to_space(phases) if interleave else phases


def _fold_taps(kernel, phase, axis):
    """`network._fold_taps` on arrays: the 3 taps along `axis` folded to a phase's 2."""
    k0, k1, k2 = np.split(kernel, 3, axis=axis)
    taps = [k0, k1 + k2] if phase == 0 else [k0 + k1, k2]
    return np.concatenate(taps, axis=axis)


def _phase_kernel(kernel):
    """The (k + 2) // 2 square kernel that convolves a space-to-depth picture (2 x 2
    blocks) into the four output phases of the k x k `kernel` (`_Graph.conv_by_phases`)."""
    k, filters = kernel.shape[0], kernel.shape[-1]
    taps = (k + 2) // 2
    channels = kernel.shape[2]
    phased = np.zeros((taps, taps, 2, 2, channels, 2, 2, filters), np.float32)
    for ty in range(taps):
        for tx in range(taps):
            for p in range(2):
                for q in range(2):
                    for a in range(2):
                        for b in range(2):
                            dy, dx = 2 * ty + p - a, 2 * tx + q - b
                            if 0 <= dy < k and 0 <= dx < k:
                                phased[ty, tx, p, q, :, a, b, :] = kernel[dy, dx]
    return phased.reshape(taps, taps, 4 * channels, 4 * filters)
