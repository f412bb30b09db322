"""Large photos painted layer by layer in tiles, with the whole picture's statistics.

TensorFlow's CPU convolution builds an im2col buffer of height x width x k x k x C
floats (27.6 GB for a 12-megapixel photo in one call), so a large photo cannot go
through the network in one call. Instance normalization, though, takes its mean and
variance over the whole picture, so tiles that each run the whole network paint
differently from one pass. Here the network runs one normalized layer at a time:

1. the layer's convolution is computed in tiles, each from a halo of its input (the
   receptive field of one convolution; reflection or symmetric padding where the tile
   touches the picture's edge, exactly as the network pads the whole picture), and
   the per-channel mean and variance of every tile are combined into the whole map's
   (Chan et al.'s parallel formula, in float64);
2. the layer's map is then normalized with those statistics, its gamma and beta
   applied (one per picture, or per pixel for a weight map) and its activation, tile
   by tile as the next layer reads it.

Every layer's statistics thus come from the layer below normalized with the whole
picture's statistics, in layer order, and the painting equals one pass of the network
within float32 rounding, at the seams and the picture's edges too. Tile boundaries
are in each layer's own resolution (the photo's, a half, a quarter), so they sit on
the network's 4-pixel stride grid by construction.

Memory: the maps of the layers are kept, one or two at a time (three in a residual
block), as the convolution before normalization: the layer that reads a map
normalizes and activates each tile it reads. A map at the photo's resolution larger
than `MAX_FULL_RESOLUTION_MAP_BYTES` (the first 9x9 convolution's 32 channels of a
50-megapixel photo: 6.4 GB) is not stored but computed again, tile by tile, where the
next layer reads it: less memory for a second pass of that convolution. BENCHMARKS.md,
"Large photos", gives the peak memory and time at 12 and 50 megapixels.
"""

import dataclasses
import math
import weakref

import keras
import numpy as np

from style_transfer.models.network import SIDE_MULTIPLE, UpsampleConvBlock

# Pictures of more pixels than this are painted in tiles (`stylize.run_network`).
TILE_ABOVE_PIXELS = 2048 * 2048
# The side of a tile in pixels of the photo; a layer at half or a quarter of the
# resolution takes tiles of half or a quarter of it (so it must be a multiple of 4).
TILE_PX = 512
# A map of a layer at the photo's resolution larger than this is not stored but
# computed again, tile by tile, where the next layer reads it (see the module docstring).
MAX_FULL_RESOLUTION_MAP_BYTES = 2 * 1024 ** 3


@dataclasses.dataclass
class _Layer:
    """One normalized layer of the network, as the tiles see it."""

    block: keras.layers.Layer  # a ConvBlock or an UpsampleConvBlock
    source: int  # the layer whose output it convolves (-1: the padded photo)
    scale: int  # its map is the padded photo's size / scale
    skip: int | None = None  # a residual block's input, added after normalization
    stored: bool = True  # its map is kept (else computed again where read)
    finished: bool = False  # the stored map holds its output, not its convolution


def run_tiled(network, image, condition, counter=None, tile_px=None):
    """One picture through the network layer by layer in tiles; equals one pass.

    Args:
        network: A `StyleTransferNetwork` (with a table of styles, or with
            `embedding_dim`: the network of an arbitrary-style model).
        image: The photo (H, W, 3) float32 in [0, 1].
        condition: Style weights (N,), a weight map (H, W, N), or a style
            embedding (embedding_dim,), used as given (like one call of the network).
        counter: Something with a `step()` method, called after each tile of each
            layer (`tile_count` gives the total), or `None`.
        tile_px: The side of a tile in photo pixels, a multiple of 4 (default `TILE_PX`).

    Returns:
        The painting (H, W, 3) float32 in [0, 1].
    """
    painter = _TiledPainter(network, np.asarray(image, np.float32),
                            np.asarray(condition, np.float32), _checked_tile_px(tile_px))
    return painter.paint(counter)


def tile_count(network, height, width, tile_px=None):
    """How many tiles `run_tiled` computes for a picture of height x width (all layers)."""
    tile_px = _checked_tile_px(tile_px)
    padded = _padded_size(height, width)
    total = 0
    for layer in _layers(network, padded):
        side = tile_px // layer.scale
        total += math.ceil(padded[0] // layer.scale / side) * math.ceil(
            padded[1] // layer.scale / side)
    return total


def _checked_tile_px(tile_px):
    tile_px = TILE_PX if tile_px is None else tile_px
    if not isinstance(tile_px, int) or tile_px < 16 or tile_px % SIDE_MULTIPLE:
        raise ValueError(f"tile_px must be a multiple of {SIDE_MULTIPLE} of at least 16; "
                         f"received {tile_px!r}.")
    return tile_px


def _padded_size(height, width):
    return (math.ceil(height / SIDE_MULTIPLE) * SIDE_MULTIPLE,
            math.ceil(width / SIDE_MULTIPLE) * SIDE_MULTIPLE)


def _layers(network, padded_size):
    """The network's normalized layers in order, as `StyleTransferNetwork.call` runs them,
    for a photo of `padded_size` (height, width, multiples of 4)."""
    layers = []

    def add(block, scale, skip=None):
        layers.append(_Layer(block, len(layers) - 1, scale, skip))
        return len(layers) - 1

    add(network.contract[0], 1)
    add(network.contract[1], 2)
    last = add(network.contract[2], 4)
    for residual in network.residuals:
        add(residual.first, 4)
        last = add(residual.second, 4, skip=last)
    add(network.expand[0], 2)
    add(network.expand[1], 1)
    add(network.to_rgb, 1)
    for index, layer in enumerate(layers):
        # A residual sum is kept as such, so that the next block reads one map.
        layer.finished = layer.skip is not None or index == len(layers) - 1
        map_bytes = 4 * layer.block.filters * math.prod(padded_size) // layer.scale ** 2
        layer.stored = (layer.finished or layer.scale > 1
                        or map_bytes <= MAX_FULL_RESOLUTION_MAP_BYTES
                        or any(other.skip == index for other in layers))
    return layers


def _input_span(block, start, end):
    """Rows [start, end) of a block's output read rows [first, stop) of its input, the
    padding included (first may be negative, stop beyond the input)."""
    if isinstance(block, UpsampleConvBlock):
        return start // 2 - 1, end // 2 + 1
    pad = block.kernel_size // 2
    return block.strides * start - pad, block.strides * (end - 1) + block.kernel_size - pad


def _fold(indices, length, mode):
    """Indices outside [0, length) mapped inside as numpy's padding `mode` does."""
    if mode == "reflect":
        indices = np.abs(indices)
        return np.where(indices >= length, 2 * (length - 1) - indices, indices)
    indices = np.where(indices < 0, -indices - 1, indices)
    return np.where(indices >= length, 2 * length - 1 - indices, indices)


def _take(array, rows, columns):
    """array[rows][:, columns] for index arrays; a view when both are contiguous ranges."""
    if _is_range(rows) and _is_range(columns):
        return array[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    return array[np.ix_(rows, columns)]


def _is_range(indices):
    return bool(np.all(np.diff(indices) == 1))


def _spans(length, side):
    return [(start, min(start + side, length)) for start in range(0, length, side)]


def _pixels(span):
    return np.arange(*span)


class _Moments:
    """Per-channel count, mean and sum of squared deviations, combined tile by tile."""

    def __init__(self, channels):
        self.count = 0
        self.mean = np.zeros(channels)
        self.squares = np.zeros(channels)

    def add(self, count, mean, variance):
        """Chan, Golub and LeVeque's update with one tile's mean and (biased) variance."""
        mean = np.asarray(mean, np.float64)
        total = self.count + count
        delta = mean - self.mean
        self.squares += np.asarray(variance, np.float64) * count + (
            delta * delta * (self.count * count / total))
        self.mean += delta * (count / total)
        self.count = total

    def variance(self):
        return self.squares / self.count


class _Buffers:
    """Memory for the layers' maps, reusing that of maps no longer read.

    The first write to new memory costs a page fault per page, which on the
    virtual machines of BENCHMARKS.md costs more than the writing itself. A map
    takes the smallest free buffer that holds it; when none does, the free ones
    are released before a new one is allocated (so the peak is no higher than
    without reuse).
    """

    def __init__(self):
        self.free = []
        self.owners = {}

    def take(self, shape):
        size = math.prod(shape)
        fitting = [buffer for buffer in self.free if buffer.size >= size]
        if fitting:
            buffer = min(fitting, key=lambda candidate: candidate.size)
            self.free = [other for other in self.free if other is not buffer]
        else:
            self.free = []
            buffer = np.empty(size, np.float32)
        array = buffer[:size].reshape(shape)
        self.owners[id(array)] = buffer
        return array

    def give(self, array):
        self.free.append(self.owners.pop(id(array)))


_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0, out=x),
    "linear": lambda x: x,
    "sigmoid": lambda x: np.reciprocal(np.add(np.exp(np.negative(x, out=x), out=x), 1.0, out=x),
                                       out=x),
}


class _TiledPainter:
    """One photo through the network's layers in turn (see the module docstring).

    A stored map holds its layer's convolution (before normalization): the layer
    that reads it normalizes and activates each tile it reads, in the same
    compiled call as its own convolution. Only residual sums (and the painting)
    are finished in place, once their statistics are known.
    """

    def __init__(self, network, image, condition, tile_px):
        self.image = image
        self.height, self.width = image.shape[:2]
        self.padded = _padded_size(self.height, self.width)
        self.layers = _layers(network, self.padded)
        self.tile_px = tile_px
        self.weight_map = condition if condition.ndim == 3 else None
        self.condition = condition[None]
        self.maps = {}
        self.buffers = _Buffers()
        self.statistics = {}  # layer -> (mean, 1 / sqrt(variance + epsilon)), float32
        self.affine = {}  # layer -> (scale, shift) per channel, for one condition per picture

    def paint(self, counter):
        last = len(self.layers) - 1
        last_reader = self._last_readers()
        for index, layer in enumerate(self.layers):
            self._measure(index, counter)
            if layer.finished:
                self._finish(index)
            for source in [key for key in self.maps if last_reader.get(key) == index]:
                self.buffers.give(self.maps.pop(source))
        return self.maps[last][:self.height, :self.width]

    def _last_readers(self):
        """For each stored map: the last layer whose computation reads it."""
        last_reader = {}
        for index in range(len(self.layers)):
            for source in self._stored_sources(index):
                last_reader[source] = index
        return last_reader

    def _stored_sources(self, index):
        layer = self.layers[index]
        sources = {layer.skip} if layer.skip is not None else set()
        if layer.source >= 0 and not self.layers[layer.source].stored:
            return sources | self._stored_sources(layer.source)
        return sources | ({layer.source} if layer.source >= 0 else set())

    def _size(self, index):
        scale = self.layers[index].scale if index >= 0 else 1
        return self.padded[0] // scale, self.padded[1] // scale

    def _tiles(self, index):
        side = self.tile_px // self.layers[index].scale
        height, width = self._size(index)
        return [(rows, columns) for rows in _spans(height, side) for columns in _spans(width, side)]

    # ------------------------------------------------------------------ passes

    def _measure(self, index, counter):
        """The layer's convolution over every tile: its statistics, and its map if stored."""
        layer = self.layers[index]
        channels = layer.block.filters
        moments = _Moments(channels)
        if layer.stored:
            shape = self._size(index) + (channels,)
            # The painting gets memory of its own: the caller keeps it.
            self.maps[index] = (np.empty(shape, np.float32) if index == len(self.layers) - 1
                                else self.buffers.take(shape))
        for rows, columns in self._tiles(index):
            raw, mean, variance = self._convolve(index, rows, columns, moments=True)
            moments.add((rows[1] - rows[0]) * (columns[1] - columns[0]), mean.numpy(),
                        variance.numpy())
            if layer.stored:
                self.maps[index][rows[0]:rows[1], columns[0]:columns[1]] = raw.numpy()
            if counter is not None:
                counter.step()
        inverse = 1.0 / np.sqrt(moments.variance() + layer.block.norm.epsilon)
        self.statistics[index] = (moments.mean.astype(np.float32), inverse.astype(np.float32))

    def _finish(self, index):
        """A residual sum (or the painting): the map normalized, activated and the
        residual block's input added, in place."""
        layer = self.layers[index]
        target = self.maps[index]
        for rows, columns in self._tiles(index):
            values = target[rows[0]:rows[1], columns[0]:columns[1]]
            self._normalize(index, values, _pixels(rows), _pixels(columns))
            if layer.skip is not None:
                values += self._output(layer.skip, _pixels(rows), _pixels(columns))

    # -------------------------------------------------------------- one tile

    def _convolve(self, index, rows, columns, moments=False):
        """The layer's convolution over output rows x columns (spans), from its input."""
        layer = self.layers[index]
        mode = "symmetric" if isinstance(layer.block, UpsampleConvBlock) else "reflect"
        height, width = self._size(layer.source)
        row_indices = _fold(np.arange(*_input_span(layer.block, *rows)), height, mode)
        column_indices = _fold(np.arange(*_input_span(layer.block, *columns)), width, mode)
        values = self._values(layer.source, row_indices, column_indices)
        source = self.layers[layer.source] if layer.source >= 0 else None
        if source is None or source.finished:
            return _convolution(layer.block, values.shape[-1], None, moments)(values)
        # The source's normalization and activation, applied to the tile it is read.
        scale, shift = self._scale_shift(layer.source, row_indices, column_indices)
        function = _convolution(layer.block, values.shape[-1], source.block.activation, moments,
                                per_pixel=scale.ndim == 3)
        return function(values, scale, shift)

    def _values(self, index, rows, columns):
        """What a layer's stored map holds at rows x columns (index arrays), computed
        if not stored (-1: the padded photo)."""
        if index < 0:
            # The network pads the photo to a multiple of 4 symmetrically (bottom, right).
            return _take(self.image, _fold(rows, self.height, "symmetric"),
                         _fold(columns, self.width, "symmetric"))
        if self.layers[index].stored:
            return _take(self.maps[index], rows, columns)
        row_span = (int(rows.min()), int(rows.max()) + 1)
        column_span = (int(columns.min()), int(columns.max()) + 1)
        if isinstance(self.layers[index].block, UpsampleConvBlock):
            # An upsampling block computes rows and columns in pairs.
            row_span = (row_span[0] - row_span[0] % 2, row_span[1] + row_span[1] % 2)
            column_span = (column_span[0] - column_span[0] % 2,
                           column_span[1] + column_span[1] % 2)
        raw = self._convolve(index, row_span, column_span).numpy()
        return _take(raw, rows - row_span[0], columns - column_span[0])

    def _output(self, index, rows, columns):
        """A layer's output (normalized, activated) at rows x columns (index arrays)."""
        values = self._values(index, rows, columns)
        if self.layers[index].finished:
            return values
        values = np.array(values, np.float32)
        self._normalize(index, values, rows, columns)
        return values

    def _normalize(self, index, values, rows, columns):
        """gamma (values - mean) / sqrt(variance + epsilon) + beta and the activation, in
        place on `values`, the layer's convolution at rows x columns (index arrays)."""
        scale, shift = self._scale_shift(index, rows, columns)
        values *= scale
        values += shift
        with np.errstate(over="ignore"):  # sigmoid: exp(-x) = inf for x < -88 gives 0
            _ACTIVATIONS[keras.activations.serialize(self.layers[index].block.activation)](values)

    def _scale_shift(self, index, rows, columns):
        """gamma / sqrt(variance + epsilon) and beta - mean * that, the affine map that
        normalizes the layer: (C,) each, or (rows, columns, C) for a weight map."""
        if self.weight_map is None and index in self.affine:
            return self.affine[index]
        mean, inverse = self.statistics[index]
        norm = self.layers[index].block.norm
        if self.weight_map is None:
            gamma, beta = _gamma_beta(norm, self.condition)
        else:
            gamma, beta = _gamma_beta(norm, self._weights(index, rows, columns)[None])
        scale = gamma[0] * inverse
        shift = beta[0] - mean * scale
        if self.weight_map is None:
            self.affine[index] = (scale, shift)
        return scale, shift

    def _weights(self, index, rows, columns):
        """The weight map at a layer's resolution at rows x columns (index arrays): the
        network averages the padded map over 2x2 pixels per halving."""
        scale = self.layers[index].scale
        offsets = np.arange(scale)
        weights = _take(
            self.weight_map,
            _fold((rows[:, None] * scale + offsets).ravel(), self.height, "symmetric"),
            _fold((columns[:, None] * scale + offsets).ravel(), self.width, "symmetric"))
        while scale > 1:
            weights = (weights[0::2, 0::2] + weights[0::2, 1::2] + weights[1::2, 0::2]
                       + weights[1::2, 1::2]) / 4
            scale //= 2
        return weights


# Compiled once per block (per norm layer), so that every photo reuses the graphs.
_convolutions = weakref.WeakKeyDictionary()
_affines = weakref.WeakKeyDictionary()


def _convolution(block, channels, activation, moments, per_pixel=False):
    """f(padded input tile (h, w, channels)[, scale, shift]) -> the block's convolution
    (h', w', F) and, with `moments`, its per-channel mean and variance (F,) each.

    With an `activation`, the tile is first normalized: activation(tile * scale + shift),
    scale and shift per channel (channels,) or, `per_pixel`, (h, w, channels).
    """
    import tensorflow as tf

    name = None if activation is None else keras.activations.serialize(activation)
    key = (channels, name, moments, per_pixel)
    functions = _convolutions.setdefault(block, {})
    if key not in functions:
        affine = tf.TensorSpec((None, None, channels) if per_pixel else (channels,), tf.float32)
        signature = [tf.TensorSpec((None, None, channels), tf.float32)]

        def convolve(tile, scale=None, shift=None):
            if activation is not None:
                tile = activation(tile * scale + shift)
            raw = block.convolve(tile[None])[0]
            if not moments:
                return raw
            # Axis by axis, as `cbn._fused.moments`: float32 sums over one side at a time.
            mean = tf.reduce_mean(tf.reduce_mean(raw, axis=1, keepdims=True), axis=0,
                                  keepdims=True)
            variance = tf.reduce_mean(tf.reduce_mean(
                tf.math.squared_difference(raw, mean), axis=1), axis=0)
            return raw, tf.reshape(mean, [-1]), variance

        functions[key] = tf.function(
            convolve, input_signature=signature + ([affine, affine] if name else []))
    return functions[key]


def _gamma_beta(norm, condition):
    """gamma and beta of a norm layer for a condition (1, N), (1, h, w, N) or (1, D), as
    numpy arrays. Traced, as in one call of the network: weights that are not convex
    give NaN (rather than an error), which the painting then carries."""
    import tensorflow as tf

    key = (condition.ndim, condition.shape[-1])
    functions = _affines.setdefault(norm, {})
    if key not in functions:
        functions[key] = tf.function(norm.gamma_beta, input_signature=[
            tf.TensorSpec((1,) + (None,) * (condition.ndim - 2) + condition.shape[-1:],
                          tf.float32)])
    gamma, beta = functions[key](condition)
    return gamma.numpy(), beta.numpy()
