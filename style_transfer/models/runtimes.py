"""Which engine paints: TensorFlow, or onnxruntime / LiteRT running the network converted once.

    runner = runtimes.network_runner(model, "onnxruntime")      # converted once, cached
    pictures = runner(images, weights)                          # (B, H, W, 3) in [0, 1]
    runtimes.OnnxRunner("styles.onnx")(images, weights)          # an exported file

Runtimes (`RUNTIMES`):

- "tensorflow": the Keras network's compiled graph (`stylize.compiled_network`).
- "onnxruntime": the network as ONNX (`portable.portable_function`, channels-first,
  converted by tf2onnx) in an onnxruntime CPU session. The `onnx` extra.
- "litert": the network as a LiteRT (TFLite) model run by XNNPACK. The `litert` extra.
- "auto": the fastest measured on a 2-core AVX-512 CPU (BENCHMARKS.md, "Runtimes"):
  LiteRT when its extra is installed, else onnxruntime when its extra is (`AUTO_ORDER`),
  else TensorFlow.

A model is converted once per content: the converted file is cached under
`pretrained.cache_dir()/converted/`, named by the SHA-256 of the network's
configuration and weights, of the runtime, of the kind of style input and of the
converter's version, written atomically, and verified against the Keras network
before it is cached (`verify`: every style condition within `TOLERANCE`). A
runner holds the weights the model had when it was converted: after changing a
model's weights, call `forget(model)`.

Every runner propagates NaN as the Keras network does (a NaN weight or pixel
gives NaN pictures), so the "the model painted NaN" checks fire on every runtime.
"""

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import threading
import weakref
from pathlib import Path

from style_transfer.base.errors import BadInput, first_line
from style_transfer.base.extras import import_extra
from style_transfer.base.files import not_a_regular_file
from style_transfer.models.style_names import check_style_names

RUNTIMES = ("auto", "tensorflow", "onnxruntime", "litert")
# The default of `style-transfer stylize --runtime`; the environment variable overrides it.
ENVIRONMENT_VARIABLE = "STYLE_TRANSFER_RUNTIME"
DEFAULT_RUNTIME = "auto"
# What each runtime needs beyond TensorFlow: (module, extra).
NEEDS = {
    "onnxruntime": (("onnxruntime", "onnx"), ("tf2onnx", "onnx")),
    "litert": (("ai_edge_litert.interpreter", "litert"),),
}
# A float conversion must reproduce the Keras network's pixels (in [0, 1]) this closely.
TOLERANCE = 1e-4
ONNX_OPSET = 17
# Part of every cache key, with the source of portable.py (`_graph_version`): bump it when
# the conversion changes in a way the source does not show.
GRAPH_VERSION = "portable-1"
STYLE_INPUTS = ("style_weights", "style_weight_map", "style_embedding")
# Files `style-transfer stylize --model` paints with directly.
EXPORT_SUFFIXES = {".onnx": "onnxruntime", ".tflite": "litert"}
SIDE_MULTIPLE = 4  # network.SIDE_MULTIPLE (imported lazily: this module loads without Keras)

_runners = weakref.WeakKeyDictionary()


# ------------------------------------------------------------------ choosing


def default_runtime(model=None):
    """$STYLE_TRANSFER_RUNTIME, else `DEFAULT_RUNTIME` ("auto"); "auto" for an exported
    file (`ExportedNetwork`), which paints on its own runtime."""
    if model is not None and getattr(model, "runner", None) is not None:
        return "auto"
    return os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_RUNTIME


def check_runtime(runtime):
    """`runtime` if it names a runtime, else a one-line `BadInput`."""
    if runtime not in RUNTIMES:
        raise BadInput(f"unknown runtime {runtime!r}; the runtimes are: {', '.join(RUNTIMES)}.")
    return runtime


def available(runtime):
    """Whether the modules `runtime` needs are installed (TensorFlow always is)."""
    import importlib.util

    for module, _ in NEEDS.get(runtime, ()):
        try:
            if importlib.util.find_spec(module.split(".")[0]) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


# What needs each runtime's extra, for its error message.
PURPOSES = {"onnxruntime": "The onnxruntime runtime and ONNX exports",
            "litert": "The LiteRT runtime and TFLite exports"}


def require(runtime):
    """Imports what `runtime` needs, or raises the missing extra's one-line `BadInput`
    ("The LiteRT runtime and TFLite exports need the litert extra, which is not
    installed: pip install '.[litert]' ...")."""
    for module, extra in NEEDS.get(runtime, ()):
        import_extra(module, extra, PURPOSES.get(runtime, runtime))


# What "auto" paints on: the first installed. On two quiet cores LiteRT (XNNPACK) was the
# fastest at 512 and 1024 px and level with onnxruntime at 256 px (BENCHMARKS.md, "Runtimes").
AUTO_ORDER = ("litert", "onnxruntime")


def resolve(runtime):
    """The runtime that paints for `runtime`: "auto" becomes the first of `AUTO_ORDER`
    whose extra is installed, else "tensorflow"; any other name is checked and returned."""
    runtime = check_runtime(runtime)
    if runtime != "auto":
        return runtime
    return next((name for name in AUTO_ORDER if available(name)), "tensorflow")


# ---------------------------------------------------------------- conversion


def onnx_model(network, style="vector"):
    """The ONNX model (an `onnx.ModelProto`) of `network`: inputs `input_image` (B, H, W, 3)
    and the style input (see `portable.portable_function`), output `stylized_image`;
    any batch, height and width."""
    from style_transfer.models import portable

    require("onnxruntime")
    import tf2onnx

    function = portable.portable_function(network, layout="NCHW", style=style)
    with _quiet_converter():
        model_proto, _ = tf2onnx.convert.from_function(
            function, input_signature=function.input_signature, opset=ONNX_OPSET)
    names = getattr(network, "style_names", None) or []
    entry = model_proto.metadata_props.add()
    entry.key, entry.value = "style_names", json.dumps(list(names))
    return model_proto


def tflite_model(network, style="vector", image_size=None, quantize="none", calibration=None):
    """The LiteRT (TFLite) flatbuffer of `network`, as bytes.

    Args:
        style: "vector" or "map" (see `portable.portable_function`).
        image_size: (height, width) fixed in the model (then any size, padded
            inside), or None: any size whose sides are multiples of 4, set at run
            time (`Interpreter.resize_tensor_input`), batch too.
        quantize: "none", "float16" (weights), "int8" (dynamic range: int8
            weights, float activations) or "int8-full" (integer activations too,
            calibrated on `calibration`).
        calibration: For "int8-full": a list of (images (1, H, W, 3), style
            condition (1, ...)) pairs, pictures the model will see.
    """
    import numpy as np
    import tensorflow as tf

    from style_transfer.models import portable

    # int8: the first convolution by phases, which XNNPACK's int8 kernels run faster.
    function = portable.portable_function(
        network, style=style, reflect="slices", batch_size=None,
        input_padding="none" if image_size is None else "static",
        image_size=image_size, first_by_phases=quantize in ("int8", "int8-full"))
    # With a trackable object the file gets its "serving_default" signature (named inputs
    # and output; full integer calibration needs it); with the function itself it gets none.
    # A bare tf.Module: the converter saves it as a SavedModel, which the Keras network is
    # on TensorFlow only (on JAX and PyTorch that save failed, and the file had no signature).
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], tf.Module())
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8-full":
        if not calibration:
            raise BadInput("full integer quantization needs calibration pictures.")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

        style_name = function.input_signature[1].name

        def representative():
            # By name: the converted model's inputs need not be in the signature's order.
            for images, condition in calibration:
                yield {"input_image": np.asarray(images, np.float32),
                       style_name: np.asarray(condition, np.float32)}

        converter.representative_dataset = representative
    elif quantize != "none":
        raise ValueError(f"unknown quantization {quantize!r}.")
    with _quiet_converter(), _quiet_stderr():  # The calibrator prints its settings.
        try:
            content = converter.convert()
        except Exception as error:  # The converter raises its own ConverterError.
            raise BadInput(f"the LiteRT converter failed ({type(error).__name__}: "
                           f"{first_line(error)}).") from None
    return with_tflite_metadata(content, "style_names",
                                json.dumps(list(getattr(network, "style_names", None) or [])))


def with_tflite_metadata(content, name, text):
    """A TFLite flatbuffer with the metadata entry `name` holding `text` (as ONNX's
    metadata_props hold the style names; an entry of that name is replaced), through the
    schema's object API."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    buffer = schema.BufferT()
    buffer.data = list(text.encode())
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    kept = [old for old in model.metadata or [] if old.name not in (name, name.encode())]
    model.metadata = [*kept, entry]
    builder = flatbuffers.Builder(len(content) + len(text) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tflite_metadata(content, name):
    """The text of the metadata entry `name` of a TFLite flatbuffer, or None."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(content, 0)
    for index in range(model.MetadataLength()):
        entry = model.Metadata(index)
        if entry.Name() is not None and entry.Name().decode() == name:
            return model.Buffers(entry.Buffer()).DataAsNumpy().tobytes().decode()
    return None


@contextlib.contextmanager
def _quiet_converter():
    """tf2onnx and the TFLite converter log every step at INFO/WARNING: errors only."""
    loggers = [logging.getLogger(name) for name in ("tf2onnx", "tensorflow", "absl")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


# ------------------------------------------------------------------- runners


class OnnxRunner:
    """An ONNX export (a path, bytes or an `onnx.ModelProto`) in an onnxruntime CPU session.

    `runner(images (B, H, W, 3), style (B, S) or (B, H, W, N)) -> (B, H, W, 3)` float32.
    """

    runtime = "onnxruntime"

    def __init__(self, model, threads=None):
        onnxruntime = import_extra("onnxruntime", "onnx", "onnxruntime models")
        if hasattr(model, "SerializeToString"):
            model = model.SerializeToString()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only
        if threads:
            options.intra_op_num_threads = threads
        source = model if isinstance(model, bytes) else str(model)
        try:
            self.session = onnxruntime.InferenceSession(source, options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types.
            where = "the model" if isinstance(model, bytes) else model
            raise BadInput(f"onnxruntime cannot load {where} ({type(error).__name__}: "
                           f"{first_line(error)}).") from None
        inputs = {node.name: node for node in self.session.get_inputs()}
        style_inputs = [name for name in inputs if name in STYLE_INPUTS]
        if "input_image" not in inputs or len(style_inputs) != 1 or len(inputs) != 2:
            raise BadInput(f"{source if isinstance(source, str) else 'the model'} is not a "
                           f"style network exported by this package (inputs "
                           f"{sorted(inputs)}; expected input_image and one of "
                           f"{', '.join(STYLE_INPUTS)}).")
        self.style_input = style_inputs[0]
        self.style_width = inputs[self.style_input].shape[-1]
        metadata = self.session.get_modelmeta().custom_metadata_map
        try:
            self.style_names = json.loads(metadata.get("style_names", "[]"))
        except ValueError:
            self.style_names = []

    def __call__(self, images, style):
        images, style = _checked_inputs(images, style, self.style_input, self.style_width)
        return self.session.run(["stylized_image"],
                                {"input_image": images, self.style_input: style})[0]


class LiteRTRunner:
    """A LiteRT (TFLite) export (a path or bytes) in the LiteRT interpreter (XNNPACK).

    A model of any size takes sides that are multiples of 4: others are padded
    here (symmetrically, as the Keras network pads) and cropped back. A model of
    a fixed size takes that size only. The interpreter is not thread-safe (its
    tensors are resized and filled in place): calls from several threads (the web
    page's previews and full-size pictures) take turns.
    """

    runtime = "litert"

    def __init__(self, model, threads=None):
        interpreter_module = import_extra("ai_edge_litert.interpreter", "litert",
                                          "LiteRT models")
        threads = threads or usable_cores()
        try:
            with _quiet_stderr():
                if isinstance(model, bytes):
                    self.interpreter = interpreter_module.Interpreter(model_content=model,
                                                                      num_threads=threads)
                else:
                    self.interpreter = interpreter_module.Interpreter(model_path=str(model),
                                                                      num_threads=threads)
        except (ValueError, RuntimeError) as error:
            where = "the model" if isinstance(model, bytes) else model
            raise BadInput(f"LiteRT cannot load {where} ({first_line(error)}).") from None
        details = self.interpreter.get_input_details()
        by_name = {_input_name(detail["name"]): detail for detail in details}
        style_inputs = [name for name in by_name if name in STYLE_INPUTS]
        if "input_image" not in by_name or len(style_inputs) != 1 or len(details) != 2:
            raise BadInput(f"{'the model' if isinstance(model, bytes) else model} is not a "
                           f"style network exported by this package (inputs "
                           f"{sorted(by_name)}).")
        self.style_input = style_inputs[0]
        self._image = by_name["input_image"]
        self._style = by_name[self.style_input]
        self.style_width = int(self._style["shape_signature"][-1])
        signature = self._image["shape_signature"]
        self.image_size = None if -1 in signature[1:3] else tuple(int(s) for s in signature[1:3])
        self._output = self.interpreter.get_output_details()[0]["index"]
        self._shapes = None
        self._lock = threading.Lock()
        content = model if isinstance(model, bytes) else Path(model).read_bytes()
        try:
            self.style_names = json.loads(tflite_metadata(content, "style_names") or "[]")
        except (ValueError, UnicodeDecodeError):
            self.style_names = []

    def __call__(self, images, style):
        images, style = _checked_inputs(images, style, self.style_input, self.style_width)
        height, width = images.shape[1:3]
        if self.image_size is not None:
            if (height, width) != self.image_size:
                # Width and height named: "48 x 64" read as a 48-wide photo (it is 64 wide).
                raise BadInput(f"this LiteRT model takes pictures {self.image_size[1]} pixels "
                               f"wide and {self.image_size[0]} high (it was exported for that "
                               f"size); received one {width} wide and {height} high.")
        else:
            images = _pad_to_multiple(images)
            if style.ndim == 4:
                style = _pad_to_multiple(style)
        shapes = (images.shape, style.shape)
        with self._lock:
            if shapes != self._shapes:
                with _quiet_stderr():  # The delegate announces itself on the first allocation.
                    self.interpreter.resize_tensor_input(self._image["index"], images.shape)
                    self.interpreter.resize_tensor_input(self._style["index"], style.shape)
                    self.interpreter.allocate_tensors()
                self._shapes = shapes
            self.interpreter.set_tensor(self._image["index"], images)
            self.interpreter.set_tensor(self._style["index"], style)
            self.interpreter.invoke()
            return self.interpreter.get_tensor(self._output)[:, :height, :width]


def _input_name(name):
    """"serving_default_input_image:0" -> "input_image"."""
    name = name.split(":")[0]
    for known in ("input_image",) + STYLE_INPUTS:
        if name.endswith(known):
            return known
    return name


def _checked_inputs(images, style, style_input, width):
    import numpy as np

    images = np.ascontiguousarray(images, np.float32)
    style = np.ascontiguousarray(style, np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise BadInput(f"images must have shape (batch, height, width, 3); received "
                       f"{images.shape}.")
    expected_rank = 4 if style_input == "style_weight_map" else 2
    if style.ndim != expected_rank or (width not in (None, -1) and style.shape[-1] != width):
        raise BadInput(f"this model's {style_input} input takes shape "
                       f"{'(batch, height, width, N)' if expected_rank == 4 else '(batch, N)'} "
                       f"with N = {width}; received {style.shape}.")
    if len(style) != len(images):
        raise BadInput(f"{len(images)} images but {len(style)} style conditions.")
    return images, style


def _pad_to_multiple(x):
    """Symmetric padding at the bottom and right to sides that are multiples of 4."""
    import numpy as np

    pad_h = -x.shape[1] % SIDE_MULTIPLE
    pad_w = -x.shape[2] % SIDE_MULTIPLE
    if not pad_h and not pad_w:
        return x
    return np.ascontiguousarray(np.pad(x, [(0, 0), (0, pad_h), (0, pad_w), (0, 0)],
                                       mode="symmetric"))


def usable_cores():
    """The cores this process may run on (its CPU affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@contextlib.contextmanager
def _quiet_stderr():
    """LiteRT's C++ code prints "INFO: Created TensorFlow Lite XNNPACK delegate" on the
    standard error while an interpreter is made: hidden unless TF_CPP_MIN_LOG_LEVEL
    asks for information (0)."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0"):
        yield
        return
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class ExportedNetwork:
    """An exported ONNX or LiteRT file of a table of styles, usable where `stylize` takes a
    model (`stylize`, `stylize_many`, `run_network`, the figures): it has `num_styles`
    and `style_names` (the ONNX metadata's, else "style_0", ...) and paints with its
    runner. A file exported with weight maps takes maps only, one without them
    weights only.
    """

    embedding_dim = None

    def __init__(self, path):
        path = Path(path)
        runtime = EXPORT_SUFFIXES.get(path.suffix.lower())
        if runtime is None:
            raise BadInput(f"{path} is not an exported model (.onnx or .tflite).")
        problem = not_a_regular_file(path)
        if problem is not None:  # a folder (a SavedModel named x.onnx) exists, but is none
            raise BadInput(f"cannot read exported model {path}: {problem}.")
        self.path, self.runtime = path, runtime
        self.runner = (OnnxRunner if runtime == "onnxruntime" else LiteRTRunner)(path)
        if self.runner.style_input == "style_embedding":
            raise BadInput(f"{path} is the network of an arbitrary-style model (it takes "
                           f"style embeddings); paint with the .keras model and `style_images`.")
        self.style = "map" if self.runner.style_input == "style_weight_map" else "vector"
        self.num_styles = int(self.runner.style_width)
        names = self.runner.style_names
        if not isinstance(names, list) or len(names) != self.num_styles:
            names = [f"style_{index}" for index in range(self.num_styles)]
        try:
            self.style_names = check_style_names(names)
        except BadInput as error:  # Names from the file, as a model file's are checked.
            raise BadInput(f"the style_names metadata of {path} cannot be used: "
                           f"{error}") from None

    def function(self, style):
        """The runner, for `style` "vector" or "map" if the file takes it."""
        if style != self.style:
            raise BadInput(
                f"{self.path} takes {'weight maps' if self.style == 'map' else 'one weight vector per picture'}"
                f"; {'a mask or weight map needs a file exported with weight maps (export --weight-maps, or weight_maps=True)' if style == 'map' else 'styles and blends need a file exported without weight maps'}.")
        return self.runner


def is_export(path):
    """Whether `path` names an exported model file (.onnx, .tflite)."""
    return Path(path).suffix.lower() in EXPORT_SUFFIXES


# ----------------------------------------------------- a model's cached runner


def network_runner(network, runtime, style="vector"):
    """A runner (`runner(images, style) -> pictures`) of `network` on `runtime`
    ("onnxruntime" or "litert"), converted and verified once per content (see the
    module doc), then kept for the model object.

    Raises:
        BadInput: the runtime's extra is missing, or the conversion does not
            reproduce the Keras network (nothing is cached then).
    """
    if runtime not in ("onnxruntime", "litert"):
        raise ValueError(f"network_runner runs onnxruntime or litert; received {runtime!r}.")
    require(runtime)
    runners = _runners.setdefault(network, {})
    key = (runtime, style)
    if key not in runners:
        runners[key] = _converted_runner(network, runtime, style)
    return runners[key]


def forget(network):
    """Drops the converted runners of `network` (after its weights changed)."""
    _runners.pop(network, None)


def _converted_runner(network, runtime, style):
    from style_transfer.base.files import atomic_write

    suffix = ".onnx" if runtime == "onnxruntime" else ".tflite"
    path = converted_dir() / f"{conversion_key(network, runtime, style)}{suffix}"
    runner_class = OnnxRunner if runtime == "onnxruntime" else LiteRTRunner
    if path.is_file():
        try:
            return runner_class(path)
        except BadInput:
            pass  # A damaged cache file: convert again.
    if runtime == "onnxruntime":
        content = onnx_model(network, style).SerializeToString()
    else:
        content = tflite_model(network, style)
    runner = runner_class(content)
    report = verify(network, runner, style)
    if not report.passed:
        raise BadInput(f"the {runtime} conversion of this model does not reproduce its "
                       f"pictures ({report.describe()}); paint with `runtime` tensorflow.")
    try:
        with atomic_write(path) as file:
            file.write(content)
    except BadInput:
        pass  # An unwritable cache only costs a conversion next time.
    return runner


def converted_dir():
    from style_transfer.models.pretrained import cache_dir

    return cache_dir() / "converted"


def conversion_key(network, runtime, style):
    """SHA-256 (hex) of what a conversion depends on: the network's configuration and
    weights, the runtime, the style input, the graph version and the converter."""
    import keras
    import numpy as np

    digest = hashlib.sha256()
    config = {"class": type(network).__name__, "num_styles": network.num_styles,
              "embedding_dim": network.embedding_dim, "alpha": network.alpha,
              "architecture": network.architecture.to_dict(), "runtime": runtime,
              "style": style, "graph": _graph_version(), "converter": _converter_version(runtime)}
    digest.update(json.dumps(config, sort_keys=True).encode())
    for weight in network.weights:  # In a fixed order; paths carry the model's own name.
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{value.dtype}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _graph_version():
    """`GRAPH_VERSION` and the SHA-256 of the source that builds the converted graphs: a
    changed graph never reads a file converted by another."""
    from style_transfer.models import portable

    source = Path(portable.__file__).read_bytes() + Path(__file__).read_bytes()
    return f"{GRAPH_VERSION} {hashlib.sha256(source).hexdigest()[:16]}"


def _converter_version(runtime):
    from importlib import metadata

    names = ("tf2onnx", "onnxruntime") if runtime == "onnxruntime" else ("tensorflow",)
    versions = []
    for name in names:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} -")
    return ", ".join(versions)


# -------------------------------------------------------------- verification


@dataclasses.dataclass
class Report:
    """How a converted model's pictures compare with the Keras network's.

    Attributes:
        max_abs: Largest pixel difference (pixels in [0, 1]).
        psnr_db: Peak signal-to-noise ratio against the Keras pictures (dB).
        tolerance: The largest difference accepted (None: judged by PSNR).
        min_psnr_db: The lowest PSNR accepted (None: judged by difference).
        cases: How many (picture, style condition) pairs were compared.
    """

    max_abs: float
    psnr_db: float
    tolerance: float = None
    min_psnr_db: float = None
    cases: int = 0

    @property
    def passed(self):
        if self.tolerance is not None and not self.max_abs <= self.tolerance:
            return False
        if self.min_psnr_db is not None and not self.psnr_db >= self.min_psnr_db:
            return False
        return True

    def describe(self):
        parts = [f"largest difference {self.max_abs:.2g}"]
        if self.tolerance is not None:
            parts[0] += f" (at most {self.tolerance:g})"
        psnr = "inf" if self.psnr_db == float("inf") else f"{self.psnr_db:.1f}"
        parts.append(f"PSNR {psnr} dB" + (f" (at least {self.min_psnr_db:g} dB)"
                                          if self.min_psnr_db is not None else ""))
        return f"{', '.join(parts)}, over {self.cases} pictures"


def verification_cases(network, style="vector", sides=((64, 64), (52, 76))):
    """(images (1, H, W, 3), condition) pairs: test pictures in several styles and blends.

    Tables: the first, a middle and the last style alone, all styles equally and a
    random convex blend (weight maps: a left-to-right blend of two styles, and a
    map whose halves are two styles); embeddings: three random embeddings.
    """
    import numpy as np

    from style_transfer.models.importers import verification_picture

    rng = np.random.default_rng(0)
    cases = []
    for height, width in sides:
        picture = verification_picture(max(height, width))[:height, :width][None]
        if network.embedding_dim is not None:
            conditions = [rng.normal(0, 1, (1, network.embedding_dim)).astype(np.float32)
                          for _ in range(3)]
        elif style == "map":
            n = network.num_styles
            ramp = np.linspace(0, 1, width, dtype=np.float32)[None, None, :, None]
            first, last = np.eye(n, dtype=np.float32)[0], np.eye(n, dtype=np.float32)[-1]
            blend = (1 - ramp) * first + ramp * last
            halves = np.where(np.arange(height)[None, :, None, None] < height // 2, first, last)
            conditions = [np.broadcast_to(blend, (1, height, width, n)).astype(np.float32),
                          np.broadcast_to(halves, (1, height, width, n)).astype(np.float32)]
        else:
            n = network.num_styles
            eye = np.eye(n, dtype=np.float32)
            conditions = [eye[[0]], eye[[n // 2]], eye[[n - 1]],
                          np.full((1, n), 1 / n, np.float32),
                          rng.dirichlet(np.full(n, 0.5))[None].astype(np.float32)]
        cases += [(picture.astype(np.float32), condition) for condition in conditions]
    return cases


def keras_pictures(network, images, condition):
    """The Keras network's pictures, the reference of every conversion, as a NumPy array on
    any Keras backend (`keras.ops.convert_to_numpy`: on PyTorch the network's output takes
    gradients, and `np.asarray` of it raised "Can't call numpy() on Tensor that requires
    grad")."""
    import keras

    return keras.ops.convert_to_numpy(network(images, condition))


def verify(network, runner, style="vector", tolerance=TOLERANCE, min_psnr_db=None,
           reference=None, cases=None):
    """Compares `runner` with `reference` (default: the Keras network) on `cases`
    (default: `verification_cases`). NaN where the reference has NaN counts as equal.

    Returns:
        A `Report`; `report.passed` says whether it meets `tolerance` / `min_psnr_db`.
    """
    import numpy as np

    cases = verification_cases(network, style) if cases is None else cases
    reference = reference or (lambda images, condition: keras_pictures(network, images,
                                                                       condition))
    largest, squared, count = 0.0, 0.0, 0
    for images, condition in cases:
        expected = reference(images, condition)
        painted = runner(images, condition)
        if painted.shape != expected.shape:
            raise BadInput(f"the converted model returns shape {painted.shape} for pictures "
                           f"{images.shape}; expected {expected.shape}.")
        both_nan = np.isnan(expected) & np.isnan(painted)
        difference = np.where(both_nan, 0.0, np.abs(painted.astype(np.float64) - expected))
        largest = max(largest, float(np.nan_to_num(difference, nan=np.inf).max()))
        squared += float(np.nan_to_num(np.square(difference), nan=np.inf).sum())
        count += difference.size
    mse = squared / max(count, 1)
    psnr = float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))
    return Report(largest, psnr, tolerance, min_psnr_db, len(cases))


def psnr_db(expected, painted):
    """PSNR (dB) of `painted` against `expected`, pixels in [0, 1]."""
    import numpy as np

    mse = float(np.mean(np.square(np.asarray(painted, np.float64) - expected)))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))
