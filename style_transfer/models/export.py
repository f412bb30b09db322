"""Exporting a style model: a TensorFlow SavedModel, an ONNX file or a LiteRT (TFLite) file.

Every format takes the photo and the style condition, so every style and blend
works in the exported model (the inputs are named as in Magenta's TFLite models):

    input_image       float32 (batch, height, width, 3) in [0, 1]
    style_weights     float32 (batch, num_styles), convex (>= 0, sum 1); weights
                      that are not convex give NaN pixels rather than a wrong blend
    or style_weight_map  float32 (batch, height, width, num_styles), convex per
                      pixel (`weight_maps=True`: a spatial blend)
    or style_embedding   float32 (batch, embedding_dim) (an arbitrary-style network)
    -> stylized_image  float32 (batch, height, width, 3) in [0, 1]

- SavedModel: any height and width (>= 8); a batch of one image is repeated to
  the batch of `style_weights`.
- ONNX (`export_onnx`): any batch, height and width (>= 8), for onnxruntime and
  other ONNX runtimes; the style names are in the metadata ("style_names", JSON).
- TFLite (`export_tflite`): any batch and picture size whose sides are multiples
  of 4, chosen at run time (`Interpreter.resize_tensor_input`; the LiteRT runner
  of this package pads other sizes), or one fixed size of any sides
  (`image_size`); float32, or quantized (`QUANTIZATIONS`).

The ONNX and TFLite files are made from `portable.portable_function` and
verified in their own runtime (onnxruntime; LiteRT's interpreter) before they are
written, on test pictures in several styles and blends: float exports within
`runtimes.TOLERANCE` (1e-4) of the Keras network, quantized ones at a PSNR of at
least `MIN_PSNR_DB` against it. A failed check writes nothing and says why.

Keras backends: the ONNX and TFLite files of the style network are made from its
weights (TensorFlow ops: the package depends on TensorFlow whatever the backend) and
checked against the Keras network on any of TensorFlow, JAX and PyTorch; the style
encoder on TensorFlow or PyTorch (`export_embedding_onnx`); a SavedModel on TensorFlow
only.
"""

from pathlib import Path

from style_transfer.base.errors import BadInput, first_line
from style_transfer.base.extras import import_extra
from style_transfer.base.files import atomic_path, atomic_write, check_destination

FORMATS = ("savedmodel", "onnx", "tflite")
SIGNATURE = "serving_default"
# A fixed TFLite size is optional now (any size is the default); kept for callers.
DEFAULT_TFLITE_IMAGE_SIZE = 256
MIN_IMAGE_SIZE = 8
# The largest side a fixed-size TFLite file may take.
MAX_IMAGE_SIZE = 4096
# "int8" is dynamic range quantization, or full integer with calibration photos.
QUANTIZATIONS = ("none", "float16", "int8")
MIN_PSNR_DB = {"float16": 35.0, "int8": 30.0}
# Calibration photos: at most this many, centre squares of this side.
CALIBRATION_PHOTOS = 16
CALIBRATION_SIDE_PX = 256
# What `export_file` writes of an arbitrary-style model: its style network or its encoder.
PARTS = ("network", "encoder")
# The Keras backends whose exporter converts the style encoder (`export_embedding_onnx`).
ENCODER_BACKENDS = ("tensorflow", "torch")


class Exported:
    """A written export: its `path`, the `report` of its check (`runtimes.Report`) and
    a description of the format. `str()` and `os.fspath()` give the path."""

    def __init__(self, path, report, description):
        self.path, self.report, self.description = Path(path), report, description

    def __fspath__(self):
        return str(self.path)

    def __str__(self):
        return str(self.path)

    def __repr__(self):
        return f"Exported({str(self.path)!r}, {self.description!r})"

    def summary(self):
        """One line: the format, the size on disk and the check ("TFLite, int8, dynamic
        range, 277 KB; checked: largest difference 0.11, PSNR 41.3 dB ...")."""
        size = self.path.stat().st_size
        text = f"{self.description}, {size / 1e3:,.0f} KB"
        return text if self.report is None else f"{text}; checked: {self.report.describe()}"


def check_options(format, image_size=None, quantize="none", calibration=None,
                  weight_maps=False, part="network"):
    """Refuses options that do not apply to `format` (one-line `BadInput`), before any work."""
    tflite_only = [name for name, given in (("image_size", image_size is not None),
                                            ("quantize", quantize != "none"),
                                            ("calibration", calibration is not None))
                   if given]
    if format != "tflite" and tflite_only:
        raise BadInput(f"`{tflite_only[0]}` applies to `format` tflite only.")
    if calibration is not None and quantize != "int8":
        raise BadInput("`calibration` measures the activations of full integer int8: it "
                       "needs `quantize` int8.")
    if format == "savedmodel" and (weight_maps or part != "network"):
        raise BadInput(f"`{'weight_maps' if weight_maps else 'part'}` applies to `format` "
                       f"onnx and tflite.")
    if part == "encoder" and (format != "onnx" or weight_maps):
        raise BadInput("`part` encoder writes the style encoder as ONNX (`format` onnx, "
                       "without `weight_maps`).")


def export_file(model_file, path, format, *, image_size=None, quantize="none",
                calibration=None, weight_maps=False, part="network", overwrite=False):
    """Exports the model in `model_file` (a `.keras` file) as ONNX or TFLite (`format`).

    A model of trained styles exports its network; an arbitrary-style model its
    style network on `style_embedding` (`part="network"`, ONNX or TFLite) or its
    style encoder (`part="encoder"`, ONNX). Other arguments as for `export_onnx`
    and `export_tflite`.

    Returns:
        The `Exported` file.
    """
    from style_transfer.models.loading import ARBITRARY, EXPORTED, load_model, model_kind

    check_options(format, image_size, quantize, calibration, weight_maps, part)
    if format not in ("onnx", "tflite"):
        raise BadInput(f"export_file writes onnx or tflite; received {format!r}.")
    kind = model_kind(model_file)
    if kind == EXPORTED:
        raise BadInput(f"{model_file} is an export already; export the .keras model it was "
                       f"made from (or a pretrained model, by name).")
    if part == "encoder" and kind != ARBITRARY:
        raise BadInput(f"`part` encoder exports the style encoder of an arbitrary-style "
                       f"model; {model_file} has a table of styles.")
    model = load_model(model_file)
    if part == "encoder":
        return export_embedding_onnx(model, path, overwrite=overwrite)
    if format == "onnx":
        return export_onnx(model, path, weight_maps=weight_maps, overwrite=overwrite)
    return export_tflite(model, path, image_size=image_size, quantize=quantize,
                         calibration=calibration, weight_maps=weight_maps, overwrite=overwrite)


def inference_function(model, image_size=None, batch_size=None, frozen=False):
    """A `tf.function(input_image, style_weights) -> {"stylized_image": ...}` over `model`.

    Args:
        model: A `StyleTransferNetwork`.
        image_size: Fixed square side in pixels, or `None` for any height and width.
        batch_size: Fixed batch, or `None` for any.
        frozen: Capture the weights as constants instead of variables.
    """
    import tensorflow as tf

    if frozen:
        trainable = [tf.constant(variable.numpy()) for variable in model.trainable_variables]
        non_trainable = [tf.constant(variable.numpy()) for variable in model.non_trainable_variables]

        def network(images, weights):
            return model.stateless_call(trainable, non_trainable, images, weights)[0]
    else:
        network = model

    def serve(input_image, style_weights):
        batch = tf.maximum(tf.shape(input_image)[0], tf.shape(style_weights)[0])
        input_image = tf.tile(input_image, [batch // tf.shape(input_image)[0], 1, 1, 1])
        style_weights = tf.tile(style_weights, [batch // tf.shape(style_weights)[0], 1])
        return {"stylized_image": network(input_image, style_weights)}

    return tf.function(serve, input_signature=[
        tf.TensorSpec((batch_size, image_size, image_size, 3), tf.float32, name="input_image"),
        tf.TensorSpec((batch_size, model.num_styles), tf.float32, name="style_weights"),
    ])


def export_savedmodel(model, path, overwrite=False):
    """Writes a SavedModel folder with the `serving_default` signature described above.

    Also saves `style_names` (a string tensor) so that a server can show them.
    Written to a temporary folder beside `path`, then renamed (`files.atomic_path`).
    With `overwrite`, an existing folder is replaced only if it is empty or holds
    a SavedModel (an earlier export), never a folder of other files.

    Raises:
        BadInput: a model without a table of styles (an arbitrary-style model), or a
            destination that exists (see above).
    """
    import tensorflow as tf

    if getattr(model, "num_styles", None) is None:
        raise BadInput("a SavedModel export takes a model of trained styles (made by "
                       "`style-transfer train`); export an arbitrary-style model with "
                       "export_onnx or export_tflite.")
    path = Path(path)
    check_replaceable_export(path, overwrite)
    module = tf.Module()
    module.model = model
    module.serve = inference_function(model)
    module.style_names = tf.Variable(list(model.style_names), trainable=False, name="style_names")
    with atomic_path(path, overwrite=overwrite, folder=True) as temporary:
        tf.saved_model.save(module, str(temporary), signatures={SIGNATURE: module.serve})
    return path


def check_replaceable_export(path, overwrite):
    """Refuses a SavedModel destination that exists without `overwrite`, or that is a
    folder of something other than an earlier export."""
    path = Path(path)
    check_destination(path, overwrite, folder=True)
    if path.is_dir() and any(path.iterdir()) and not (path / "saved_model.pb").is_file():
        raise BadInput(f"{path} is a folder of other files, not an earlier export; `overwrite` "
                       f"replaces only a SavedModel folder: choose another `out`.")


def export_onnx(model, path, weight_maps=False, overwrite=False):
    """Writes an ONNX file of `model`, verified in onnxruntime first (see the module doc).

    Args:
        model: A `StyleTransferNetwork`, or an `ArbitraryStyleModel` (its style
            network, conditioned on `style_embedding`; see `export_embedding_onnx`
            for its encoder).
        weight_maps: Take `style_weight_map` (a per-pixel blend) instead of
            `style_weights`.

    Raises:
        BadInput: the `onnx` extra is missing, the destination exists without
            `overwrite`, or the export does not reproduce the Keras pictures.
    """
    from style_transfer.models import runtimes

    path = Path(path)
    check_destination(path, overwrite)
    network, style = _network_and_style(model, weight_maps)
    runtimes.require("onnxruntime")
    model_proto = runtimes.onnx_model(network, style)
    content = model_proto.SerializeToString()
    report = runtimes.verify(network, runtimes.OnnxRunner(content), style)
    _check_report(report, "ONNX", path)
    with atomic_write(path, overwrite=overwrite) as file:
        file.write(content)
    return Exported(path, report, "ONNX, float32")


def export_tflite(model, path, image_size=None, overwrite=False, quantize="none",
                  calibration=None, weight_maps=False):
    """Writes a LiteRT (TFLite) file of `model`, verified in LiteRT's interpreter first.

    Args:
        model: A `StyleTransferNetwork` or an `ArbitraryStyleModel` (its style network).
        image_size: A side (square) or (height, width) fixed in the model, or
            None (default): any size whose sides are multiples of 4, chosen at
            run time.
        quantize: "none" (float32), "float16" (float16 weights) or "int8"
            (int8 weights and dynamic-range activations; with `calibration`, full
            integer: int8 activations too, their ranges measured on those photos).
        calibration: A folder of the user's photos for full integer int8.
        weight_maps: Take `style_weight_map` instead of `style_weights`.

    Raises:
        BadInput: the `litert` extra is missing, a size the format cannot hold,
            an unknown quantization, calibration without int8, an existing
            destination without `overwrite`, or an export that fails its check
            (max difference 1e-4 for float32, PSNR 35 dB for float16, 30 dB for int8).
    """
    from style_transfer.models import runtimes

    path = Path(path)
    image_size = _checked_image_size(image_size)
    if quantize not in QUANTIZATIONS:
        raise BadInput(f"unknown quantization {quantize!r}; choose one of "
                       f"{', '.join(QUANTIZATIONS)}.")
    if calibration is not None and quantize != "int8":
        raise BadInput("calibration photos are for `quantize` int8 (full integer).")
    check_destination(path, overwrite)
    network, style = _network_and_style(model, weight_maps)
    runtimes.require("litert")
    photos = None if calibration is None else calibration_photos(calibration, image_size)
    samples = None
    if photos is not None:
        samples = _calibration_samples(network, style, photos)
    mode = "int8-full" if samples is not None else quantize
    content = runtimes.tflite_model(network, style, image_size=image_size, quantize=mode,
                                    calibration=samples)
    runner = runtimes.LiteRTRunner(content)
    cases = _test_cases(network, style, image_size, photos)
    if quantize == "none":
        report = runtimes.verify(network, runner, style, cases=cases)
    else:
        report = runtimes.verify(network, runner, style, tolerance=None,
                                 min_psnr_db=MIN_PSNR_DB[quantize], cases=cases)
    description = f"TFLite, {_describe_quantization(quantize, samples)}"
    _check_report(report, description, path)
    with atomic_write(path, overwrite=overwrite) as file:
        file.write(content)
    return Exported(path, report, description)


def export_embedding_onnx(model, path, overwrite=False):
    """Writes the style encoder of an `ArbitraryStyleModel` as ONNX: `style_image`
    (batch, S, S, 3) in [0, 1] -> `style_embedding` (batch, embedding_dim), the input
    of `export_onnx`'s network; verified in onnxruntime first (1e-4 on the embedding,
    relative to its largest value).

    The style network is plain TensorFlow ops made from the weights (`portable`) on any
    backend; the encoder is the Keras model's own `embed`, converted by the backend's
    exporter: on TensorFlow by tf2onnx, on PyTorch by PyTorch's TorchScript ONNX exporter
    (`torch.onnx.export(dynamo=False)`, the one Keras's `Model.export(format="onnx")`
    takes on PyTorch for a dynamic batch; the newer exporter needs onnxscript), traced on
    a batch of two and checked on one picture, so a batch the trace fixed fails the check.
    JAX has no such exporter here (tf2onnx traces `embed` as a TensorFlow graph, which
    JAX's layers cannot take): refused.

    Raises:
        BadInput: not an arbitrary-style model, the `onnx` extra is missing, the Keras
            backend is neither TensorFlow nor PyTorch, the destination exists without
            `overwrite`, or the export does not reproduce the Keras embedding.
    """
    import keras
    import numpy as np

    from style_transfer.models import runtimes
    from style_transfer.models.arbitrary import ArbitraryStyleModel

    if not isinstance(model, ArbitraryStyleModel):
        raise BadInput("only an arbitrary-style model has a style encoder to export.")
    backend = keras.backend.backend()
    if backend not in ENCODER_BACKENDS:
        raise BadInput(f"the style encoder exports on TensorFlow or PyTorch only, and Keras "
                       f"runs on {backend!r}; set KERAS_BACKEND=tensorflow.")
    path = Path(path)
    check_destination(path, overwrite)
    runtimes.require("onnxruntime")
    size = model.style_image_size
    if backend == "torch":
        content = _torch_encoder_onnx(model, size)
    else:
        content = _tensorflow_encoder_onnx(model, size)
    onnxruntime = import_extra("onnxruntime", "onnx", "ONNX exports")
    session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
    from style_transfer.models.importers import verification_picture

    picture = verification_picture(size)[None]
    expected = keras.ops.convert_to_numpy(model.embed(picture, training=False))
    embedded = session.run(["style_embedding"], {"style_image": picture})[0]
    scale = max(float(np.abs(expected).max()), 1.0)
    difference = float(np.abs(embedded - expected).max()) / scale
    if not difference <= runtimes.TOLERANCE:
        raise BadInput(f"the ONNX export of the style encoder differs from Keras by "
                       f"{difference:.2g} (relative; at most {runtimes.TOLERANCE:g}); "
                       f"nothing was written to {path}.")
    with atomic_write(path, overwrite=overwrite) as file:
        file.write(content)
    return Exported(path, None, "ONNX style encoder, float32")


def _tensorflow_encoder_onnx(model, size):
    """The style encoder as ONNX bytes, `model.embed` traced by tf.function for tf2onnx."""
    import tensorflow as tf
    import tf2onnx

    from style_transfer.models import runtimes

    spec = tf.TensorSpec((None, size, size, 3), tf.float32, name="style_image")

    @tf.function(input_signature=[spec])
    def embed(style_image):
        return {"style_embedding": model.embed(style_image, training=False)}

    with runtimes._quiet_converter():
        model_proto, _ = tf2onnx.convert.from_function(
            embed, input_signature=[spec], opset=runtimes.ONNX_OPSET)
    return model_proto.SerializeToString()


def _torch_encoder_onnx(model, size):
    """The style encoder as ONNX bytes, `model.embed` traced by PyTorch's TorchScript ONNX
    exporter without gradients (the weights require them), any batch."""
    import io
    import warnings

    import torch

    from style_transfer.models import runtimes

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, style_image):
            return self.model.embed(style_image, training=False)

    file = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The exporter is deprecated in favour of the one that needs onnxscript; the tracer
        # warns of every shape it reads as a constant (the picture's, fixed: S x S).
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                Encoder(), (torch.zeros((2, size, size, 3)),), file, dynamo=False,
                input_names=["style_image"], output_names=["style_embedding"],
                dynamic_axes={"style_image": {0: "batch"}, "style_embedding": {0: "batch"}},
                opset_version=runtimes.ONNX_OPSET)
        except Exception as error:  # The exporter raises its own error types.
            raise BadInput(f"PyTorch's ONNX exporter failed on the style encoder "
                           f"({type(error).__name__}: {first_line(error)}).") from None
    return file.getvalue()


def _network_and_style(model, weight_maps):
    """(the style network, "vector" or "map") of a model to export."""
    from style_transfer.models.arbitrary import ArbitraryStyleModel

    network = model.transformer if isinstance(model, ArbitraryStyleModel) else model
    if weight_maps and network.embedding_dim is not None:
        raise BadInput("weight maps blend a table of styles; an arbitrary-style model is "
                       "conditioned on style embeddings.")
    return network, "map" if weight_maps else "vector"


def _checked_image_size(image_size):
    """None, or (height, width) from a side or a pair, each an integer >= MIN_IMAGE_SIZE."""
    import numpy as np

    if image_size is None:
        return None
    sides = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(sides) != 2 or not all(isinstance(side, (int, np.integer)) and not
                                  isinstance(side, bool)
                                  and MIN_IMAGE_SIZE <= side <= MAX_IMAGE_SIZE
                                  for side in sides):
        raise BadInput(f"`image_size` must be an integer from {MIN_IMAGE_SIZE} to "
                       f"{MAX_IMAGE_SIZE} (or a pair of them); received {image_size!r}.")
    return tuple(int(side) for side in sides)


def calibration_photos(folder, image_size=None, limit=CALIBRATION_PHOTOS):
    """Up to `limit` photos of `folder` as float arrays (1, H, W, 3): centre squares of
    `CALIBRATION_SIDE_PX`, or crops to `image_size` for a model of a fixed size.

    Raises:
        BadInput: the folder is missing or holds no readable photo.
    """
    import numpy as np

    from style_transfer.base import images

    paths = images.find_images(folder)
    photos = []
    for photo_path in paths:
        try:
            photo = images.load_image(photo_path)
        except (images.ImageReadError, OSError, ValueError):
            continue
        if image_size is None:
            photo = images.center_square(photo, CALIBRATION_SIDE_PX)
        else:
            photo = _cover_crop(photo, image_size)
        photos.append(photo[None].astype(np.float32))
        if len(photos) == limit:
            break
    if not photos:
        raise BadInput(f"`calibration` {folder} holds no readable photo "
                       f"({', '.join(images.IMAGE_EXTENSIONS)}).")
    return photos


def _cover_crop(photo, size):
    """`photo` resized to cover (height, width) and centre-cropped to it."""
    from style_transfer.base import images

    height, width = size
    scale = max(height / photo.shape[0], width / photo.shape[1])
    resized = images.resize(photo, (max(height, round(photo.shape[0] * scale)),
                                    max(width, round(photo.shape[1] * scale))))
    top = (resized.shape[0] - height) // 2
    left = (resized.shape[1] - width) // 2
    return resized[top:top + height, left:left + width]


def _style_conditions(network, style, shape, count):
    """`count` style conditions for pictures of `shape` (H, W): every style in turn and
    random convex blends (embeddings: random vectors)."""
    import numpy as np

    rng = np.random.default_rng(0)
    conditions = []
    for index in range(count):
        if network.embedding_dim is not None:
            condition = rng.normal(0, 1, (1, network.embedding_dim))
        else:
            n = network.num_styles
            condition = (np.eye(n)[[index % n]] if index % 2 == 0
                         else rng.dirichlet(np.full(n, 0.5))[None])
            if style == "map":
                condition = np.broadcast_to(condition[:, None, None, :], (1, *shape, n))
        conditions.append(np.ascontiguousarray(condition, np.float32))
    return conditions


def _calibration_samples(network, style, photos):
    """(photo, style condition) pairs for the converter's calibration: each photo in a
    style or a blend."""
    conditions = _style_conditions(network, style, photos[0].shape[1:3], len(photos))
    return list(zip(photos, conditions))


def _test_cases(network, style, image_size, photos):
    """The pictures an export is checked on: `runtimes.verification_cases` (at the fixed
    size of a fixed-size model), and up to 4 calibration photos in styles and blends."""
    from style_transfer.models import runtimes

    sides = ((64, 64), (52, 76)) if image_size is None else (image_size,)
    cases = runtimes.verification_cases(network, style, sides=sides)
    if photos:
        chosen = photos[:4]
        conditions = _style_conditions(network, style, chosen[0].shape[1:3], len(chosen) + 1)[1:]
        cases += list(zip(chosen, conditions))
    return cases


def _describe_quantization(quantize, samples):
    if quantize == "int8":
        return "int8, full integer" if samples is not None else "int8, dynamic range"
    return "float32" if quantize == "none" else quantize


def _check_report(report, what, path):
    if not report.passed:
        raise BadInput(f"the {what} export does not reproduce the model's pictures: "
                       f"{report.describe()}; nothing was written to {path}.")
