"""A sweep of bad inputs and faults across every command and the layers, as a hostile user tries them.

Each case runs for real: the command line in this process (`cli.main`), with
the operating system made to fail where a case needs a fault that a test
cannot cause for real (permission denied as root, a read-only or full file
system). Every case must end in exit code 2 with one line on the standard error
that names the problem (a layer: a one-line ValueError), and leave its work
folder exactly as it was: no input changed, no output or temporary written.

    python -m tests.style_transfer.cli.bad_input_sweep    # runs every case, writes docs/bad_inputs.md

`test_bad_input_sweep.py` asserts the same cases.
"""

import builtins
import contextlib
import dataclasses
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

REPOSITORY = Path(__file__).resolve().parents[3]
TABLE = REPOSITORY / "docs" / "bad_inputs.md"
W = "W"  # Stands for the case's work folder in argv, and in the table's messages.
ASSETS = "ASSETS"  # Stands for the shared assets (the hub models) in the table's messages.
STYLES = ["wave", "scream", "udnie"]
TRAINING = ["--steps", "1", "--batch-size", "1", "--image-size", "16", "--vgg-weights",
            "random", "--style-size", "16", "--quiet"]  # If a case is not refused: a short run.
# Every command of `style_transfer.cli.commands.COMMANDS` (a test checks that they agree).
COMMAND_NAMES = ("demo", "stylize", "stylize-dataset", "video", "serve", "pretrained", "train",
                 "train-arbitrary", "export", "add-style", "remove-style", "rename-style")
CASE_TIMEOUT_S = 300


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input: a command line (or a layer call) and the words its error must hold."""

    name: str
    argv: tuple = ()
    expect: str = ""
    prepare: object = None  # function(work folder): sets up what the case needs
    fault: object = None  # function(work folder) -> context manager: an OS fault
    call: object = None  # layer cases: a function that must raise ValueError
    shown: str = None  # what the table shows as the input, if not the command line

    @property
    def command(self):
        return "layers" if self.call else (self.argv[0] if self.argv else "")

    @property
    def prefix(self):
        """How the error line starts: "style-transfer stylize:", or "style-transfer:" for
        an error of the top-level parser (no command, or none that exists)."""
        if self.command in COMMAND_NAMES:
            return f"style-transfer {self.command}:"
        return "style-transfer:"


@dataclasses.dataclass
class Result:
    exit: object  # the exit code, or the exception type of a layer case
    stderr: str
    changes: list  # paths added, removed or changed in the work folder

    @property
    def lines(self):
        return [line for line in self.stderr.splitlines() if line.strip()]

    def problems(self, case):
        """What is wrong with this result (empty: the case behaves as it must)."""
        found = []
        if case.call:
            if self.exit not in ("ValueError", "BadInput"):
                found.append(f"raised {self.exit}, not ValueError")
        elif self.exit != 2:
            found.append(f"exit code {self.exit}, not 2")
        if len(self.lines) != 1:
            found.append(f"{len(self.lines)} lines on the standard error, not 1")
        elif not case.call and not self.lines[0].startswith(case.prefix):
            found.append("not a style-transfer error line")
        if "Traceback" in self.stderr:
            found.append("a traceback")
        if case.expect.lower() not in self.stderr.lower():
            found.append(f"the message does not say {case.expect!r}")
        if ".partial" in self.stderr:
            found.append("the message names a temporary file")
        if self.changes:
            found.append(f"the work folder changed: {', '.join(self.changes[:3])}")
        return found


# ------------------------------------------------------------------ OS faults


def _under(path, folder):
    try:
        return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))
    except TypeError:  # A file descriptor, not a path.
        return False


def _error(code, path):
    return OSError(code, os.strerror(code), str(path))


@contextlib.contextmanager
def _patched(module, name, replacement):
    original = getattr(module, name)
    setattr(module, name, replacement(original))
    try:
        yield
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def refuses_reading(target, code=errno.EACCES):
    """The OS refuses to open or list `target` and anything under it."""

    def guard(original):
        def call(path, *args, **kwargs):
            if not isinstance(path, int) and _under(path, target):
                raise _error(code, path)
            return original(path, *args, **kwargs)
        return call

    with _patched(builtins, "open", guard), _patched(os, "open", guard), \
            _patched(os, "scandir", guard):
        yield


@contextlib.contextmanager
def refuses_writing(target, code):
    """The OS refuses to create anything in `target` or below (read-only, no permission)."""

    def guard(original):
        path_first = original is os.mkdir  # mkstemp and mkdtemp take the folder as dir=.

        def call(*args, **kwargs):
            where = args[0] if path_first else kwargs.get("dir")
            if where is not None and _under(where, target):
                raise _error(code, where)
            return original(*args, **kwargs)
        return call

    with _patched(tempfile, "mkstemp", guard), _patched(tempfile, "mkdtemp", guard), \
            _patched(os, "mkdir", guard):
        yield


@contextlib.contextmanager
def environment(name, value):
    """The environment variable `name` set to `value` (a cluster's TF_CONFIG)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


@contextlib.contextmanager
def disk_full():
    """Every fsync fails with "No space left on device" (as a full disk reports it)."""

    def guard(original):
        def call(descriptor):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return call

    with _patched(os, "fsync", guard):
        yield


@contextlib.contextmanager
def missing_module(name):
    """`import name` fails as for a package that is not installed."""
    saved = {key: module for key, module in sys.modules.items()
             if key == name or key.startswith(name + ".")}
    for key in saved:
        del sys.modules[key]
    sys.modules[name] = None
    try:
        yield
    finally:
        del sys.modules[name]
        sys.modules.update(saved)


# ------------------------------------------------------------------ the assets


def write_assets(folder):
    """Everything the cases read: models, photos, masks, folders, hub stand-ins."""
    import keras

    from style_transfer.models.arbitrary import create_arbitrary_model
    from style_transfer.models.saving import save_model
    from tests.style_transfer.builders import untrained_model_with_distinct_styles
    from tests.style_transfer.hub_stand_ins import save_feature_vector_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def picture(path, width=24, height=20):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)

    picture(folder / "photo.png")
    picture(folder / "style.png")
    picture(folder / "tiny.png", 5, 5)
    for index in range(3):
        picture(folder / "content" / f"c{index}.png", 32, 32)
    picture(folder / "album" / "a" / "photo.png")
    picture(folder / "album" / "b" / "photo.png")
    picture(folder / "pair" / "photo.jpg")
    picture(folder / "pair" / "photo.png")
    (folder / "empty").mkdir()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    Image.fromarray(np.array([[0, 1, 2]] * 3, np.uint8)).save(folder / "labels.png")
    Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(folder / "colour.png")

    model = untrained_model_with_distinct_styles()
    save_model(model, folder / "styles.keras")
    model.weights[0].assign(np.full(model.weights[0].shape, np.nan, np.float32))
    save_model(model, folder / "diverged.keras")
    overflowing = untrained_model_with_distinct_styles()
    for variable in overflowing.weights:
        if variable.path.endswith("gamma"):
            variable.assign(np.full(variable.shape, 3e38, np.float32))
    save_model(overflowing, folder / "overflowing.keras")
    dense = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    dense.save(folder / "dense.keras")
    (folder / "text.keras").write_text("a text file named like a model")
    (folder / "junk.keras").write_bytes(b"PK\x03\x04" + bytes(100))
    _write_huge_config(folder / "styles.keras", folder / "huge.keras")
    _write_zip_bomb(folder / "bomb.keras")

    hub = folder / "hub"
    save_feature_vector_model(hub / "encoder")
    marker = hub / "the_hub_graph_ran.txt"
    save_feature_vector_model(hub / "hostile", writes=marker)
    arbitrary = create_arbitrary_model(encoder="hub", hub_handle=str(hub / "hostile"),
                                       embedding_dim=4, alpha=0.25, style_image_size=16)
    save_model(arbitrary, folder / "arbitrary.keras")
    marker.unlink()  # Building the model ran the graph once; no case may run it again.
    from tests.style_transfer.builders import with_config, write_clip

    write_clip(folder / "clip.mp4", num_frames=3, sound=False)
    write_clip(folder / "small.mp4", num_frames=2, size=(6, 6), sound=False)
    with_config(folder / "styles.keras", folder / "blocks.keras",
                lambda config: config["architecture"].update(residual_blocks=200_000))
    with_config(folder / "styles.keras", folder / "names.keras",
                lambda config: config.update(style_names=["wave", "\x1b[31mred\x1b[0m",
                                                           "udnie"]))
    _write_deep_config(folder / "styles.keras", folder / "deep.keras", 50_000)
    return folder



def _write_deep_config(source, destination, depth):
    """The model with lists nested `depth` levels deep in its config.json."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(destination, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "config.json":
                text = data.decode()
                data = (text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}").encode()
            copy.writestr(item, data)


def _write_huge_config(source, destination):
    """The model with a config asking for 10^9 styles (Keras would allocate them first)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(destination, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["num_styles"] = 10**9
                data = json.dumps(config).encode()
            copy.writestr(item, data)


def _write_zip_bomb(path):
    """A small archive whose directory declares members of 3 GiB each."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("a", b"x")
        archive.writestr("b", b"x")
    data = bytearray(buffer.getvalue())
    # The central directory's uncompressed size (offset 24 of each entry) claims 3 GiB.
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        if data[start + 46:start + 47] in (b"a", b"b"):
            data[start + 24:start + 28] = (3 * 1024**3).to_bytes(4, "little")
        start += 4
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------ the cases


def _layer(factory):
    """A layer case: building and calling the layer `factory()` makes, eagerly."""

    def call():
        layer, inputs, condition = factory()
        layer(inputs, condition)

    return call


def _cbn(**arguments):
    def factory():
        from cbn import ConditionalBatchNormalization

        return (ConditionalBatchNormalization(**arguments), np.zeros((2, 4, 4, 3), np.float32),
                np.array([0, 1], np.int32))

    return _layer(factory)


def _cbn_condition(condition):
    def factory():
        from cbn import ConditionalBatchNormalization

        return (ConditionalBatchNormalization(num_conditions=3),
                np.zeros((2, 4, 4, 3), np.float32), condition)

    return _layer(factory)


def _empty_training_batch():
    from cbn import ConditionalBatchNormalization

    ConditionalBatchNormalization(num_conditions=3)(
        np.zeros((0, 4, 4, 3), np.float32), np.zeros(0, np.int32), training=True)


def _make_fifo(work, name="pipe.keras"):
    os.mkfifo(work / name)


def _fifo(name):
    return lambda work: _make_fifo(work, name)


def _make_folder(name):
    def prepare(work):
        (work / name).mkdir()
    return prepare


def _make_file(name, data=b"a file"):
    def prepare(work):
        (work / name).write_bytes(data)
    return prepare


def _copy(source, destination):
    def prepare(work):
        (work / destination).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(work / source, work / destination)
    return prepare


def hub_graph_ran(assets):
    """Whether the hostile hub graph that `arbitrary.keras` names has run (it writes into
    the assets, where the model file's record points)."""
    return (Path(assets) / "hub" / "the_hub_graph_ran.txt").exists()


STYLIZE = ("stylize", "--model", "W/styles.keras", "W/photo.png")
DATASET = ("stylize-dataset", "--model", "W/styles.keras", "W/content")
ARBITRARY = ("stylize", "--model", "W/arbitrary.keras", "--hub-encoder", "W/hub/encoder",
             "--style-image", "W/style.png", "W/photo.png")
EXPORT = ("export", "--model", "W/styles.keras")
VIDEO = ("video", "--model", "W/styles.keras", "--style", "wave", "--quiet")
TRAIN = ("train", "--content", "W/content", "--styles", "W/style.png")
ADD_STYLE = ("add-style", "--model", "W/styles.keras", "--styles", "W/style.png",
             "--content", "W/content")
TRAINING_DEMO = ("demo", "--train", "--quick", "--steps", "1", "--vgg-weights", "random",
                 "--quiet")

CASES = [
    # The command line itself.
    Case("no command", (), "required: COMMAND", shown="style-transfer"),
    Case("misspelt command", ("stylze",), "invalid choice"),
    Case("unknown option", (*STYLIZE, "--colour", "red"), "unrecognized arguments"),
    Case("max-size with an underscore", (*STYLIZE, "--max-size", "1_0"), "whole number"),
    Case("max-size below 8", (*STYLIZE, "--max-size", "4"), "from 8 to"),
    Case("strength above 1", (*ARBITRARY, "--strength", "1.5", "--out", "W/out"), "0 to 1"),
    Case("strength NaN", (*ARBITRARY, "--strength", "nan", "--out", "W/out"), "0 to 1"),
    Case("export without its required options", ("export",), "required"),
    # Model files.
    Case("missing model", ("stylize", "--model", "W/none.keras", "W/photo.png", "--out", "W/out"),
         "does not exist"),
    Case("model neither a file nor a pretrained name", ("stylize", "--model", "monet",
                                                        "W/photo.png", "--out", "W/out"),
         "neither a model file nor a pretrained model"),
    Case("model is /dev/zero", ("stylize", "--model", "/dev/zero", "W/photo.png", "--out",
                                "W/out"), "not a regular file"),
    Case("model is a pipe", ("stylize", "--model", "W/pipe.keras", "W/photo.png", "--out",
                             "W/out"), "not a regular file", prepare=_make_fifo),
    Case("model is a folder", ("export", "--model", "W/content", "--format", "tflite",
                               "--out", "W/m.tflite"), "is a folder"),
    Case("model is a text file", ("stylize", "--model", "W/text.keras", "W/photo.png",
                                  "--out", "W/out"), "not a zip archive"),
    Case("model is a damaged zip", ("export", "--model", "W/junk.keras", "--format",
                                    "savedmodel", "--out", "W/served"), "junk.keras"),
    Case("model of another kind", ("stylize", "--model", "W/dense.keras", "W/photo.png",
                                   "--out", "W/out"), "not a style model"),
    Case("model with NaN weights (diverged)", ("stylize", "--model", "W/diverged.keras",
                                               "W/photo.png", "--out", "W/out"), "NaN"),
    Case("model whose pictures overflow to NaN", ("stylize", "--model", "W/overflowing.keras",
                                                  "W/photo.png", "--out", "W/out"), "NaN"),
    Case("model config asking for 10^9 styles", ("stylize", "--model", "W/huge.keras",
                                                 "W/photo.png", "--out", "W/out"), "num_styles"),
    Case("zip bomb (members declare 6 GiB)", ("stylize", "--model", "W/bomb.keras",
                                              "W/photo.png", "--out", "W/out"), "unpack to"),
    Case("model not readable (permission denied)", (*STYLIZE, "--out", "W/out"),
         "Permission denied", fault=lambda work: refuses_reading(work / "styles.keras")),
    Case("model naming a hub encoder, no --hub-encoder",
         ("stylize", "--model", "W/arbitrary.keras", "--style-image", "W/style.png",
          "W/photo.png", "--out", "W/out"), "--hub-encoder"),
    # Styles, blends, masks.
    Case("unknown style", (*STYLIZE, "--style", "monet", "--out", "W/out"), "unknown style"),
    Case("style ² (a digit that is not 0-9)", (*STYLIZE, "--style", "²", "--out", "W/out"),
         "unknown style"),
    Case("style index out of range", (*STYLIZE, "--style", "3", "--out", "W/out"),
         "out of range"),
    Case("blend weight 0_5", (*STYLIZE, "--blend", "wave=0_5", "--out", "W/out"),
         "not a number"),
    Case("blend style ¹", (*STYLIZE, "--blend", "¹=1", "--out", "W/out"), "unknown style"),
    Case("blend negative weight", (*STYLIZE, "--blend", "wave=-1,scream=2", "--out", "W/out"),
         "non-negative"),
    Case("blend not summing to 1", (*STYLIZE, "--blend", "wave=0.5", "--out", "W/out"),
         "sum to 1"),
    Case("blend of zero weights", (*STYLIZE, "--blend", "wave=0,scream=0", "--normalize",
                                   "--out", "W/out"), "all be zero"),
    Case("blend NaN", (*STYLIZE, "--blend", "wave=nan", "--out", "W/out"), "finite"),
    Case("blend without =", (*STYLIZE, "--blend", "wave", "--out", "W/out"), "no '='"),
    Case("grid with a blend", (*STYLIZE, "--blend", "wave=1", "--grid", "--out", "W/g.png"),
         "cannot be combined"),
    Case("mask labels beyond the styles", (*STYLIZE, "--mask", "W/labels.png", "--mask-styles",
                                           "wave,scream", "--out", "W/out"), "do not match"),
    Case("colour mask", (*STYLIZE, "--mask", "W/colour.png", "--mask-styles", "wave,scream",
                         "--out", "W/out"), "greyscale"),
    Case("mask that is not an image", (*STYLIZE, "--mask", "W/broken.jpg", "--mask-styles",
                                       "wave,scream", "--out", "W/out"), "broken.jpg"),
    Case("mask-styles without mask", (*STYLIZE, "--mask-styles", "wave", "--out", "W/out"),
         "needs --mask"),
    # Photos.
    Case("photo that is not an image", ("stylize", "--model", "W/styles.keras", "W/broken.jpg",
                                        "--out", "W/out"), "broken.jpg"),
    Case("missing photo", ("stylize", "--model", "W/styles.keras", "W/gone.png", "--out",
                           "W/out"), "does not exist"),
    Case("photo of 5x5 pixels", ("stylize", "--model", "W/styles.keras", "W/tiny.png", "--out",
                                 "W/out"), "at least 8x8"),
    Case("photo of 5x5 pixels, arbitrary model",
         ("stylize", "--model", "W/arbitrary.keras", "--hub-encoder", "W/hub/encoder",
          "--style-image", "W/style.png", "W/tiny.png", "--out", "W/out"), "at least 8x8"),
    Case("photo not readable (permission denied)", (*STYLIZE, "--out", "W/out"),
         "Permission denied", fault=lambda work: refuses_reading(work / "photo.png")),
    Case("sub-folder not readable", ("stylize", "--model", "W/styles.keras", "W/album",
                                     "--out", "W/out"), "Permission denied",
         fault=lambda work: refuses_reading(work / "album" / "b")),
    Case("folder without images", ("stylize", "--model", "W/styles.keras", "W/empty", "--out",
                                   "W/out"), "no image found"),
    # Outputs.
    Case("output is the photo, with --overwrite", (*STYLIZE, "--style", "wave", "--out",
                                                   "W/photo.png", "--overwrite"),
         "never overwritten"),
    Case("output of one photo is another input", ("stylize", "--model", "W/styles.keras",
                                                  "W/photo.png", "W/photo__wave.png", "--style",
                                                  "wave", "--out", "W", "--overwrite"),
         "never overwritten", prepare=_copy("photo.png", "photo__wave.png")),
    Case("same photo name in two sub-folders given as files",
         ("stylize", "--model", "W/styles.keras", "W/album/a/photo.png", "W/album/b/photo.png",
          "--style", "wave", "--out", "W/out"), "would both be written"),
    Case("photo.jpg and photo.png in one folder", ("stylize", "--model", "W/styles.keras",
                                                   "W/pair", "--out", "W/out"),
         "would both be written"),
    Case("file name for several pictures", (*STYLIZE, "--out", "W/one.png"), "file name"),
    Case("existing output without --overwrite", (*STYLIZE, "--style", "wave", "--out",
                                                 "W/old.png"), "--overwrite",
         prepare=_make_file("old.png")),
    Case("output under a file", (*STYLIZE, "--out", "W/photo.png/sub"), "is a file"),
    Case("output file name that is a folder", (*STYLIZE, "--style", "wave", "--out",
                                               "W/shown.png"), "is a folder",
         prepare=_make_folder("shown.png")),
    Case("--format that contradicts --out", (*STYLIZE, "--style", "wave", "--format", "jpg",
                                             "--out", "W/x.png"), "does not match"),
    Case("read-only output folder", (*STYLIZE, "--style", "wave", "--out", "W/out/x.png"),
         "Read-only file system",
         fault=lambda work: refuses_writing(work, errno.EROFS)),
    Case("output folder not writable (permission denied)", (*STYLIZE, "--out", "W/out"),
         "Permission denied", fault=lambda work: refuses_writing(work, errno.EACCES)),
    Case("disk full while writing", (*STYLIZE, "--style", "wave", "--out", "W/out"),
         "No space left on device", fault=lambda work: disk_full()),
    # Options that do not apply.
    Case("grid with an arbitrary-style model", (*ARBITRARY, "--grid", "--out", "W/out"),
         "--grid, --contact-sheet and --xla apply to a model of trained styles"),
    Case("style name with an arbitrary-style model", (*ARBITRARY, "--style", "wave", "--out",
                                                      "W/out"), "paints with --style-image, not with --style"),
    Case("style image with a model of trained styles", (*STYLIZE, "--style-image", "W/style.png",
                                                        "--out", "W/out"),
         "is needed for --style-image"),
    Case("blend weights not one per style image", (*ARBITRARY, "--blend-weights", "0.3,0.7",
                                                   "--out", "W/out"), "one per style image"),
    Case("blend weights 0_5", (*ARBITRARY, "--blend-weights", "0_5", "--out", "W/out"),
         "not a number"),
    Case("magenta-hub with two style images",
         ("stylize", "--engine", "magenta-hub", "--style-image", "W/style.png", "--style-image",
          "W/photo.png", "W/photo.png", "--out", "W/out"), "exactly one of --style-image"),
    Case("magenta-hub without the hub extra",
         ("stylize", "--engine", "magenta-hub", "--style-image", "W/style.png", "W/photo.png",
          "--out", "W/out"), "pip install '.[hub]'",
         fault=lambda work: missing_module("tensorflow_hub")),
    Case("magenta-hub with a missing local handle",
         ("stylize", "--engine", "magenta-hub", "--hub-handle", "W/none", "--style-image",
          "W/style.png", "W/photo.png", "--out", "W/out"), "local SavedModel folder"),
    # export
    Case("export onto the input model, with --overwrite",
         (*EXPORT, "--format", "tflite", "--out", "W/styles.keras", "--overwrite"),
         "never overwritten"),
    Case("export a folder holding the input model, with --overwrite",
         ("export", "--model", "W/content/styles.keras", "--format", "savedmodel", "--out",
          "W/content", "--overwrite"), "would replace the input",
         prepare=_copy("styles.keras", "content/styles.keras")),
    Case("export a SavedModel onto a file", (*EXPORT, "--format", "savedmodel", "--out",
                                             "W/photo.png", "--overwrite"), "a file of that name"),
    Case("export a SavedModel over a folder of photos, with --overwrite",
         (*EXPORT, "--format", "savedmodel", "--out", "W/album", "--overwrite"),
         "not an earlier export"),
    Case("export TFLite onto a folder", (*EXPORT, "--format", "tflite", "--out", "W/content",
                                         "--overwrite"), "is a folder"),
    Case("export TFLite size 4", (*EXPORT, "--format", "tflite", "--image-size", "4", "--out",
                                  "W/m.tflite"), "from 8 to"),
    Case("export SavedModel with --image-size", (*EXPORT, "--format", "savedmodel",
                                                 "--image-size", "64", "--out", "W/served"),
         "tflite only"),
    Case("export into a read-only folder", (*EXPORT, "--format", "tflite", "--out",
                                            "W/m.tflite"), "Read-only file system",
         fault=lambda work: refuses_writing(work, errno.EROFS)),
    # remove-style, rename-style
    Case("rename to digits", ("rename-style", "--model", "W/styles.keras", "--style", "wave",
                              "--to", "1", "--out", "W/r.keras"), "all digits"),
    Case("rename to a name with a comma", ("rename-style", "--model", "W/styles.keras", "--style",
                                           "wave", "--to", "a,b", "--out", "W/r.keras"), "','"),
    Case("rename to a name with a line break", ("rename-style", "--model", "W/styles.keras",
                                                "--style", "wave", "--to", "a\nb", "--out",
                                                "W/r.keras"), "line break",
         shown="rename-style --to 'a<newline>b'"),
    Case("rename to an empty name", ("rename-style", "--model", "W/styles.keras", "--style",
                                     "wave", "--to", "", "--out", "W/r.keras"), "empty"),
    Case("rename to a taken name", ("rename-style", "--model", "W/styles.keras", "--style",
                                    "wave", "--to", "udnie", "--out", "W/r.keras"),
         "already has a style named"),
    Case("remove an unknown style", ("remove-style", "--model", "W/styles.keras", "--style",
                                     "monet", "--out", "W/r.keras"), "unknown style"),
    Case("remove onto the input model, with --overwrite",
         ("remove-style", "--model", "W/styles.keras", "--style", "wave", "--out",
          "W/styles.keras", "--overwrite"), "never overwritten"),
    Case("edited model not ending in .keras", ("remove-style", "--model", "W/styles.keras",
                                               "--style", "wave", "--out", "W/r.h5"), ".keras"),
    # stylize-dataset
    Case("stylize-dataset of a missing folder", ("stylize-dataset", "--model", "W/styles.keras",
                                                 "W/none", "--out", "W/out"), "does not exist"),
    Case("stylize-dataset of one photo", ("stylize-dataset", "--model", "W/styles.keras",
                                          "W/photo.png", "--out", "W/out"), "is an image"),
    Case("stylize-dataset with 0 copies", (*DATASET, "--copies", "0", "--out", "W/out"),
         "at least 1"),
    Case("stylize-dataset strength range reversed", (*DATASET, "--strength", "0.9,0.1",
                                                     "--out", "W/out"), "LOW <= HIGH"),
    Case("stylize-dataset with an unknown style", (*DATASET, "--style", "monet", "--out",
                                                   "W/out"), "unknown style"),
    Case("stylize-dataset with an arbitrary-style model",
         ("stylize-dataset", "--model", "W/arbitrary.keras", "W/content", "--out", "W/out"),
         "arbitrary-style model"),
    Case("stylize-dataset into a folder inside its input", (*DATASET, "--out",
                                                            "W/content/stylized"),
         "inside the input"),
    Case("stylize-dataset with words after INPUT", (*DATASET, "W/album", "--out", "W/out"),
         "one INPUT at a time"),
    Case("stylize-dataset without the datasets extra", (*DATASET, "--out", "W/out"),
         "pip install '.[datasets]'", fault=lambda work: missing_module("apache_beam")),
    # pretrained
    Case("pretrained get of an unknown name", ("pretrained", "get", "monet", "--out",
                                               "W/monet.keras"), "unknown pretrained model"),
    Case("pretrained get into a file that is not .keras",
         ("pretrained", "get", "android-26", "--out", "W/android.h5"), "end in .keras"),
    Case("pretrained get from a file that is not a checkpoint",
         ("pretrained", "get", "magenta-monet", "--from", "W/photo.png", "--out",
          "W/monet.keras"), "photo.png"),
    Case("pretrained without an action", ("pretrained",), "required"),
    # demo
    Case("demo without the demo extra", (*TRAINING_DEMO, "--out", "W/demo"),
         "pip install '.[demo]'", fault=lambda work: missing_module("matplotlib")),
    Case("demo over its own style inputs, with --overwrite",
         (*TRAINING_DEMO, "--out", "W/demo", "--overwrite", "--styles", "W/demo/styles/s.png"),
         "would replace the input",
         prepare=_copy("style.png", "demo/styles/s.png")),
    Case("demo into a file", (*TRAINING_DEMO, "--out", "W/photo.png"), "a file of that name"),
    Case("pretrained demo into a file", ("demo", "--out", "W/photo.png"), "a file of that name"),
    # video
    Case("video of a missing file", (*VIDEO, "--out", "W/out.mp4", "W/gone.mp4"), "gone.mp4"),
    Case("video of a still image", (*VIDEO, "--out", "W/out.mp4", "W/photo.png"), "photo.png"),
    Case("video of a model file", (*VIDEO, "--out", "W/out.mp4", "W/styles.keras"),
         "styles.keras"),
    Case("video into a GIF", (*VIDEO, "--out", "W/out.gif", "W/clip.mp4"), ".gif"),
    Case("video onto its input, with --overwrite", (*VIDEO, "--out", "W/clip.mp4", "--overwrite",
                                                    "W/clip.mp4"), "never overwritten"),
    Case("video over an existing file", (*VIDEO, "--out", "W/painted.mp4", "W/clip.mp4"),
         "already exists", prepare=_copy("clip.mp4", "painted.mp4")),
    Case("video from a file and a camera", (*VIDEO, "--out", "W/out.mp4", "--camera", "0",
                                            "W/clip.mp4"), "either"),
    Case("video with --frames and no camera", (*VIDEO, "--out", "W/out.mp4", "--frames", "3",
                                               "W/clip.mp4"), "--camera"),
    Case("video with a negative camera", ("video", "--camera", "-1", "--out", "W/out.mp4"),
         "from 0 to"),
    Case("video with an unknown style", ("video", "--model", "W/styles.keras", "--style", "monet",
                                         "--out", "W/out.mp4", "W/clip.mp4"), "monet"),
    Case("video with stabilizer weight 1", (*VIDEO, "--stabilize-weight", "1", "--out",
                                            "W/out.mp4", "W/clip.mp4"), "weight"),
    Case("video with strength 2", (*VIDEO, "--strength", "2", "--out", "W/out.mp4",
                                   "W/clip.mp4"), "strength"),
    Case("video with a batch of 0 frames", (*VIDEO, "--batch-size", "0", "--out", "W/out.mp4",
                                            "W/clip.mp4"), "--batch-size"),
    Case("video with style images and a table model",
         (*VIDEO, "--style-image", "W/style.png", "--out", "W/out.mp4", "W/clip.mp4"),
         "--style-image"),
    Case("video with a hub encoder and a table model",
         (*VIDEO, "--hub-encoder", "W/hub/encoder", "--out", "W/out.mp4", "W/clip.mp4"),
         "--hub-encoder"),
    Case("video into a read-only folder", (*VIDEO, "--out", "W/locked/out.mp4", "W/clip.mp4"),
         "Permission denied", fault=lambda work: refuses_writing(work / "locked", errno.EACCES)),
    # serve (every case is refused before the server listens)
    Case("serve on port 70000", ("serve", "--port", "70000"), "65535"),
    Case("serve on port -1", ("serve", "--port", "-1"), "from 0 to 65535"),
    Case("serve with previews of 0 px", ("serve", "--preview-size", "0"), "--preview-size"),
    Case("serve with an upload limit of NaN MiB", ("serve", "--max-upload-mib", "nan"),
         "--max-upload-mib"),
    Case("serve with no sessions", ("serve", "--max-sessions", "0"), "--max-sessions"),
    Case("serve camera frames of 8 px", ("serve", "--live-size", "8"), "--live-size"),
    Case("serve a missing model", ("serve", "--port", "0", "--model", "W/none.keras"),
         "none.keras"),
    Case("serve a text file named like a model", ("serve", "--port", "0", "--model",
                                                  "W/text.keras"), "text.keras"),
    Case("serve a model that is not a style model", ("serve", "--port", "0", "--model",
                                                     "W/dense.keras"), "dense.keras"),
    # train, train-arbitrary, add-style
    Case("train without content", ("train", "--content", "W/none", "--styles", "W/style.png",
                                   "--out", "W/run", *TRAINING), "none"),
    Case("train with a missing style image", ("train", "--content", "W/content", "--styles",
                                              "W/gone.png", "--out", "W/run", *TRAINING),
         "gone.png"),
    Case("train with a style name holding '='", (*TRAIN, "--style-names", "a=b", "--out",
                                                 "W/run", *TRAINING), "'='"),
    Case("train with a style name of digits", (*TRAIN, "--style-names", "7", "--out", "W/run",
                                               *TRAINING), "digits"),
    Case("train on a cluster without TF_CONFIG", (*TRAIN, "--out", "W/run", *TRAINING,
                                                  "--distribute", "multi-worker"), "TF_CONFIG"),
    Case("train on a cluster whose TF_CONFIG is not JSON",
         (*TRAIN, "--out", "W/run", *TRAINING, "--distribute", "multi-worker"), "not JSON",
         fault=lambda work: environment("TF_CONFIG", "{cluster: workers")),
    Case("train with a TF_CONFIG task outside its cluster",
         (*TRAIN, "--out", "W/run", *TRAINING, "--distribute", "multi-worker"), "index 2",
         fault=lambda work: environment("TF_CONFIG", json.dumps(
             {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
              "task": {"type": "worker", "index": 2}}))),
    Case("train on 0 logical CPUs", (*TRAIN, "--out", "W/run", *TRAINING, "--distribute",
                                     "mirrored", "--cpu-replicas", "0"), "--cpu-replicas"),
    Case("train on logical CPUs without mirrored", (*TRAIN, "--out", "W/run", *TRAINING,
                                                    "--cpu-replicas", "2"), "mirrored"),
    Case("train for 0 steps", ("train", "--content", "W/content", "--styles", "W/style.png",
                               "--out", "W/run", *TRAINING, "--steps", "0"), "steps"),
    Case("train with learning rate NaN", (*TRAIN, "--out", "W/run", *TRAINING,
                                          "--learning-rate", "nan"), "learning"),
    Case("train into a file", (*TRAIN, "--out", "W/photo.png", *TRAINING), "photo.png"),
    Case("train with an unreadable content sub-folder",
         ("train", "--content", "W/album", "--styles", "W/style.png", "--out", "W/run",
          *TRAINING), "Permission denied",
         fault=lambda work: refuses_reading(work / "album" / "b")),
    Case("train-arbitrary without a style folder",
         ("train-arbitrary", "--content", "W/content", "--styles", "W/none", "--out", "W/run",
          *TRAINING), "none"),
    Case("train-arbitrary with a missing hub encoder",
         ("train-arbitrary", "--content", "W/content", "--styles", "W/content", "--out", "W/run",
          "--encoder-hub", "W/no_encoder", *TRAINING), "no_encoder"),
    Case("add-style onto the input model, with --overwrite",
         (*ADD_STYLE, "--out", "W/styles.keras", "--overwrite", *TRAINING), "never overwritten"),
    Case("add-style with a style name holding ','", (*ADD_STYLE, "--style-names", "a,b",
                                                     "--out", "W/more.keras", *TRAINING),
         "','"),
    Case("add-style with model /dev/zero", ("add-style", "--model", "/dev/zero", "--styles",
                                            "W/style.png", "--content", "W/content", "--out",
                                            "W/more.keras", *TRAINING), "not a regular file"),
    # The layers.
    Case("num_conditions=True", call=_cbn(num_conditions=True), expect="num_conditions", shown="ConditionalBatchNormalization(num_conditions=True)"),
    Case("num_conditions=0", call=_cbn(num_conditions=0), expect="num_conditions",
         shown="ConditionalBatchNormalization(num_conditions=0)"),
    Case("epsilon=nan", call=_cbn(num_conditions=3, epsilon=float("nan")), expect="epsilon", shown="ConditionalBatchNormalization(epsilon=nan)"),
    Case("momentum=5", call=_cbn(num_conditions=3, momentum=5), expect="momentum",
         shown="ConditionalBatchNormalization(momentum=5)"),
    Case("id 2^32 + 1 as int64", call=_cbn_condition(np.array([0, 2**32 + 1], np.int64)),
         expect="must be in", shown="condition ids [0, 2**32 + 1] (int64), 3 conditions"),
    Case("negative id", call=_cbn_condition(np.array([0, -1], np.int32)), expect="must be in",
         shown="condition ids [0, -1], 3 conditions"),
    Case("weights not summing to 1", call=_cbn_condition(np.array([[0.5, 0.2, 0.0]] * 2,
                                                                  np.float32)),
         expect="sum", shown="condition weights [0.5, 0.2, 0] per sample"),
    # Export formats and runtimes: refused before any conversion.
    Case("export ONNX with --quantize", (*EXPORT, "--format", "onnx", "--quantize", "int8",
                                         "--out", "W/m.onnx"), "tflite only"),
    Case("export --calibration without int8", (*EXPORT, "--format", "tflite", "--calibration",
                                               "W/content", "--out", "W/m.tflite"),
         "--quantize int8"),
    Case("export int8 calibrated on a folder without photos",
         (*EXPORT, "--format", "tflite", "--quantize", "int8", "--calibration", "W/empty",
          "--out", "W/m.tflite"), "no readable photo"),
    Case("export the encoder of a table of styles", (*EXPORT, "--format", "onnx", "--part",
                                                     "encoder", "--out", "W/m.onnx"),
         "arbitrary-style"),
    Case("export ONNX without the onnx extra", (*EXPORT, "--format", "onnx", "--out",
                                                "W/m.onnx"), "pip install '.[onnx]'",
         fault=lambda work: missing_module("tf2onnx")),
    Case("stylize --runtime litert without the litert extra",
         ("stylize", "--model", "W/styles.keras", "--runtime", "litert", "W/photo.png", "--out",
          "W/out"), "pip install '.[litert]'",
         fault=lambda work: missing_module("ai_edge_litert")),
    Case("stylize with a damaged ONNX export", ("stylize", "--model", "W/junk.onnx",
                                                "W/photo.png", "--out", "W/out"),
         "onnxruntime cannot load", prepare=_copy("broken.jpg", "junk.onnx")),
    # Round three (issue 28): files that set sizes, pipes, huge numbers, names.
    Case("model with 200,000 residual blocks", ("stylize", "--model", "W/blocks.keras",
                                                "W/photo.png", "--out", "W/out"),
         "residual_blocks"),
    Case("model config nested 50,000 levels deep", ("stylize", "--model", "W/deep.keras",
                                                    "W/photo.png", "--out", "W/out"),
         "levels deep"),
    Case("model whose style names hold terminal escapes",
         ("stylize", "--model", "W/names.keras", "--styles"), "control character"),
    Case("rename to ../../x", ("rename-style", "--model", "W/styles.keras", "--style", "wave",
                               "--to", "../../x", "--out", "W/r.keras"), "'/'"),
    Case("photo is a named pipe", ("stylize", "--model", "W/styles.keras", "W/fifo.png",
                                   "--out", "W/out"), "not a regular file",
         prepare=_fifo("fifo.png")),
    Case("mask is a named pipe", (*STYLIZE, "--mask", "W/fifo.png", "--mask-styles",
                                  "wave,scream", "--out", "W/out"), "not a regular file",
         prepare=_fifo("fifo.png")),
    Case("style image is a named pipe", (*TRAIN[:-1], "W/fifo.png", "--out", "W/run",
                                         *TRAINING), "not a regular file",
         prepare=_fifo("fifo.png")),
    Case("video of a named pipe", (*VIDEO, "--out", "W/out.mp4", "W/fifo.mp4"),
         "is not a file", prepare=_fifo("fifo.mp4")),
    Case("video of 6x6 pixels", (*VIDEO, "--out", "W/out.mp4", "W/small.mp4"), "at least 8"),
    Case("train --image-size 99999999999999999999", (*TRAIN, "--out", "W/run", *TRAINING,
                                       "--image-size", "99999999999999999999"), "--image-size"),
    Case("train --batch-size 99999999999999999999", (*TRAIN, "--out", "W/run", *TRAINING,
                                       "--batch-size", "99999999999999999999"), "--batch-size"),
    Case("train --style-size 99999999999", (*TRAIN, "--out", "W/run", *TRAINING,
                                            "--style-size", "99999999999"), "--style-size"),
    Case("train --alpha 1e300", (*TRAIN, "--out", "W/run", *TRAINING, "--alpha", "1e300"),
         "--alpha"),
    Case("train --alpha 1e-300", (*TRAIN, "--out", "W/run", *TRAINING, "--alpha", "1e-300"),
         "--alpha"),
    Case("export --image-size 99999999999", (*EXPORT, "--format", "tflite", "--image-size",
                                             "99999999999", "--out", "W/m.tflite"),
         "--image-size"),
    Case("video --camera 99999999999999999999", ("video", "--camera", "99999999999999999999", "--out", "W/out.mp4"),
         "--camera"),
    Case("stylize --out x.tiff", (*STYLIZE, "--style", "wave", "--out", "W/x.tiff"), ".tiff"),
    Case("stylize --out x.gif", (*STYLIZE, "--style", "wave", "--out", "W/x.gif"), ".gif"),
    Case("--out - with standard output closed", (*STYLIZE, "--style", "wave", "--out", "-"),
         "closed", fault=lambda work: _patched(sys, "stdout", lambda original: None),
         shown="stylize ... --out - >&-"),
    Case("3 ids for a batch of 2", call=_cbn_condition(np.array([0, 1, 2], np.int32)),
         expect="batch size 3", shown="condition ids [0, 1, 2] for a batch of 2"),
    Case("float ids", call=_cbn_condition(np.array([0.0, 1.0], np.float32)),
         expect="float weights must have shape", shown="condition [0.0, 1.0] (float32)"),
    Case("bool ids", call=_cbn_condition(np.array([True, False])), expect="dtype bool",
         shown="condition [True, False]"),
    Case("NaN weights", call=_cbn_condition(np.array([[np.nan, 0.5, 0.5]] * 2, np.float32)),
         expect="NaN", shown="condition weights [nan, 0.5, 0.5] per sample"),
    Case("batch of 0 in training", call=_empty_training_batch, expect="at least one sample",
         shown="ConditionalBatchNormalization on a batch of 0, training=True"),
]


# ------------------------------------------------------------------ running


def snapshot(folder):
    """{relative path: what it is}: folders, files by content hash, links, special files."""
    state = {}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(root) / name
            relative = str(path.relative_to(folder))
            status = os.lstat(path)
            if stat.S_ISDIR(status.st_mode):
                state[relative] = "folder"
            elif stat.S_ISREG(status.st_mode):
                state[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                state[relative] = f"special {stat.S_IFMT(status.st_mode)}"
    return state


class NoAnswer(BaseException):
    """A case took too long (a BaseException: no `except Exception` of the code under test
    may take it for a bad input)."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raises `NoAnswer` in this (the main) thread after `seconds`: a case that hangs
    (opening a pipe that never gets a writer) fails instead of stopping the sweep."""

    def expire(signum, frame):
        raise NoAnswer(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(case, assets, work, timeout_s=CASE_TIMEOUT_S):
    """Runs `case` in a fresh copy of `assets` at `work`; returns its `Result`."""
    from style_transfer.cli.main import main

    shutil.copytree(assets, work)
    work = Path(work)
    if case.prepare:
        case.prepare(work)
    before = snapshot(work)
    stderr = io.StringIO()
    fault = case.fault(work) if case.fault else contextlib.nullcontext()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr), \
            time_limit(timeout_s), fault:
        if case.call:
            import keras

            # Keras would wrap the layer's own error in a report of the call's arguments.
            keras.config.disable_traceback_filtering()
            try:
                case.call()
                code = "no error"
            except (Exception, NoAnswer) as error:  # The layers raise ValueError; record whatever comes.
                code = type(error).__name__
                print(str(error), file=stderr)
            finally:
                keras.config.enable_traceback_filtering()
        else:
            argv = [_in(work, argument) for argument in case.argv]
            try:
                code = main(argv)
            except SystemExit as exit:  # argparse's errors and --help
                code = exit.code
            except NoAnswer as error:
                code = "none"
                print(str(error), file=stderr)
            except Exception:  # A bug: recorded as the user would see it.
                code = 1
                traceback.print_exc(file=stderr)
    after = snapshot(work)
    changes = sorted(path for path in before.keys() | after.keys()
                     if before.get(path) != after.get(path))
    if hub_graph_ran(assets):
        changes.append("the hub graph named by the model file ran")
        (Path(assets) / "hub" / "the_hub_graph_ran.txt").unlink()
    said = stderr.getvalue().replace(str(work), W).replace(str(assets), ASSETS)
    return Result(code, said, changes)


def _in(work, argument):
    if argument == W or argument.startswith(W + "/"):
        return str(work) + argument[len(W):]
    return argument


def _shown(case):
    if case.shown:
        return case.shown
    argv = list(case.argv)
    tiny = argv[-len(TRAINING):] == TRAINING
    if tiny:
        argv = argv[:-len(TRAINING)]
    words = ["style-transfer", *[argument if argument and " " not in argument
                                  else repr(argument) for argument in argv]]
    return " ".join(words) + (" (+ a tiny run: 1 step, 16 px, random VGG)" if tiny else "")


def table(results):
    """The markdown table of every case's result."""
    lines = [
        "| # | command | input | exit | message |",
        "| ---: | --- | --- | --- | --- |",
    ]
    for number, (case, result) in enumerate(results, start=1):
        said = result.lines
        message = " … ".join(said[:1] + said[-1:]) if len(said) > 1 else "".join(said)
        problems = result.problems(case)
        if problems:
            message += f" **(open: {'; '.join(problems)})**"
        cells = [str(number), case.command, f"`{_shown(case)}`", str(result.exit), message]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


HEADER = """# Bad inputs and faults: what each command answers

Generated by `python -m tests.style_transfer.cli.bad_input_sweep` from real runs of
every case (`tests/style_transfer/cli/bad_input_sweep.py`; `test_bad_input_sweep.py`
asserts the same cases). `W` is the case's work folder, a fresh copy of small
models, photos and folders. Each command must answer with exit code 2 and one
line on the standard error (a layer: a one-line `ValueError`) and leave the
work folder exactly as it was: no input changed, no output or temporary file
left. Faults a test cannot cause as the superuser (permission denied, a
read-only or full file system, a missing extra) are made by failing the
operating-system call (`refuses_reading`, `refuses_writing`, `disk_full`,
`missing_module`). A layer's error is shown as the layer raises it (Keras's
traceback filtering, which wraps it in a report of the call's arguments, is
off). A row marked "open" does not behave so yet.

"""


def main(argv=None):
    import argparse

    import keras

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", type=Path, default=TABLE, help="where the table goes")
    parser.add_argument("--timeout-s", type=float, default=CASE_TIMEOUT_S,
                        help="the time limit of each case")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME",
                        help="leave out this case (e.g. one that takes all the memory of a "
                        "version without its fix)")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory(prefix="bad_input_sweep_") as folder:
        assets = write_assets(Path(folder) / "assets")
        results = []
        for number, case in enumerate(CASES):
            if case.name in args.skip:
                continue
            result = run_case(case, assets, Path(folder) / f"case{number}", args.timeout_s)
            results.append((case, result))
            print(f"{case.name}: {result.exit} {result.lines[:1]}", file=sys.__stderr__)
    open_cases = sum(bool(result.problems(case)) for case, result in results)
    summary = (f"{len(results)} cases; {len(results) - open_cases} behave as they must, "
               f"{open_cases} open.\n\n")
    from style_transfer.base.files import atomic_write

    with atomic_write(args.table, "w") as file:
        file.write(HEADER + summary + table(results) + "\n")
    print(f"{summary.strip()} Written to {args.table}.")


if __name__ == "__main__":
    main()
