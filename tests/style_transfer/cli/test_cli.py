"""The command line starts without TensorFlow, Keras or matplotlib, shows every default, and is quiet.

Each subprocess here refuses imports of the heavy libraries (a `sys.meta_path`
finder that raises), so a --help or an argument error that needed them fails.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from style_transfer.base.errors import BadInput
from style_transfer.cli.commands import COMMANDS
from style_transfer.cli.main import build_parser, main
from style_transfer.cli.options import HelpFormatter
from style_transfer.models.saving import save_model
from tests.style_transfer.builders import untrained_model_with_distinct_styles

HEAVY = ("tensorflow", "keras", "matplotlib", "jax", "torch", "h5py")

# Runs `style-transfer ARGS` for each ARGS in argv[1] (JSON) with the heavy imports
# refused; prints {args joined: [exit code, stderr]}.
_WITHOUT_HEAVY_IMPORTS = """
import contextlib, importlib.abc, io, json, sys

class RefuseHeavy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in %r:
            raise ImportError(f"the command line imported {name}")

sys.meta_path.insert(0, RefuseHeavy())
from style_transfer.cli.main import main

results = {}
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
        except ImportError as error:
            code, err = "ImportError", io.StringIO(str(error))
    results[" ".join(argv)] = [code, err.getvalue()]
print(json.dumps(results))
""" % (HEAVY,)


def _without_heavy_imports(argvs):
    completed = subprocess.run([sys.executable, "-c", _WITHOUT_HEAVY_IMPORTS, json.dumps(argvs)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


HELP_ARGVS = [["--help"]] + [[name, "--help"] for name in COMMANDS]
ERROR_ARGVS = [[], ["stylze"], ["stylize", "--max-size", "x"], ["export", "--format", "png"],
               ["stylize", "--strength", "2"], ["rename-style", "--model", "m.keras"]]


@pytest.fixture(scope="module")
def light_runs():
    return _without_heavy_imports(HELP_ARGVS + ERROR_ARGVS)


def _named(argvs):
    return [pytest.param(argv, id=" ".join(argv) or "(none)") for argv in argvs]


@pytest.mark.parametrize("argv", _named(HELP_ARGVS))
def test_help_needs_no_heavy_library(light_runs, argv):
    code, stderr = light_runs[" ".join(argv)]
    assert code == 0, stderr


@pytest.mark.parametrize("argv", _named(ERROR_ARGVS))
def test_an_argument_error_needs_no_heavy_library_and_is_one_line(light_runs, argv):
    code, stderr = light_runs[" ".join(argv)]
    assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr


def test_importing_the_package_imports_no_heavy_library():
    completed = subprocess.run(
        [sys.executable, "-c", "import sys, style_transfer; "
         f"print([name for name in {HEAVY!r} if name in sys.modules])"],
        capture_output=True, text=True, timeout=120)
    assert completed.stdout.strip() == "[]", completed.stderr[-2000:]


def _options(command):
    parser = build_parser(command).commands[command]
    return parser, [action for action in parser._actions if action.option_strings]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_has_help_and_its_default_is_shown_once(command):
    parser, options = _options(command)
    assert parser.formatter_class is HelpFormatter
    text = parser.format_help()
    for action in options:
        assert action.help, f"{action.option_strings[0]} has no help"
        formatted = HelpFormatter("x")._get_help_string(action)
        if action.default not in (None, False) and not action.required and action.nargs != 0:
            assert "%(default)s" in formatted, action.option_strings[0]
        assert formatted.count("default:") <= 1, f"{action.option_strings[0]}: {formatted}"
    assert "(default: None)" not in text and "(default: False)" not in text


def test_the_summary_of_export_names_every_format():
    summary = COMMANDS["export"][1]
    formats = next(action for action in _options("export")[1] if action.dest == "format")
    names = {"savedmodel": "SavedModel", "onnx": "ONNX", "tflite": "TFLite"}
    assert set(formats.choices) == set(names)
    for choice in formats.choices:
        assert names[choice] in summary, summary


def test_the_help_of_video_offers_one_style():
    from style_transfer.painting.config import VideoConfig

    style = next(action for action in _options("video")[1] if action.dest == "style")
    assert "repeat" not in style.help and "one picture per style" not in style.help
    with pytest.raises(BadInput, match="one `style`"):
        VideoConfig(style=("wave", "udnie"))


def test_the_help_of_serve_says_that_model_repeats():
    model = next(action for action in _options("serve")[1] if action.dest == "model")
    assert "repeat" in model.help, model.help


# The command line's `main` in a process of its own; then, on the standard output, which of
# the libraries that TensorFlow and Keras import when installed were imported, and which of
# those installed import afterwards.
_REAL_RUN = """
import importlib, importlib.util, json, sys
from style_transfer.cli.keras_backend import OPTIONAL_INTEGRATIONS
from style_transfer.cli.main import main
code = main(sys.argv[1:])
names = OPTIONAL_INTEGRATIONS + ("jax",)
imported = [name for name in names if sys.modules.get(name) is not None]
installed = [name for name in names if importlib.util.find_spec(name) is not None]
for name in installed:
    importlib.import_module(name)
print(json.dumps({"imported": imported, "installed": installed}))
sys.exit(code)
"""


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quiet")
    save_model(untrained_model_with_distinct_styles(), folder / "styles.keras")
    pixels = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "photo.png")

    def run(*extra):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("TF_CPP", "KERAS_BACKEND"))}
        return subprocess.run(
            [sys.executable, "-c", _REAL_RUN, "stylize", "--model",
             str(folder / "styles.keras"), str(folder / "photo.png"), "--style", "wave",
             "--overwrite", "--out", str(folder / "out.png"), *extra],
            capture_output=True, text=True, timeout=300, env=env)

    return run


@pytest.fixture(scope="module")
def quiet_run(real_run):
    return real_run()


@pytest.mark.slow
def test_a_real_command_prints_no_library_log_lines(quiet_run):
    assert quiet_run.returncode == 0, quiet_run.stderr[-2000:]
    assert quiet_run.stderr == ""


@pytest.mark.slow
def test_a_command_imports_tensorflow_without_the_libraries_it_does_not_use(quiet_run):
    """scikit-learn, pandas, matplotlib and (on TensorFlow) JAX: Keras and TensorFlow import
    them when installed; a command holds them off while they import, and they import as
    usual afterwards (this test's own imports, after the command)."""
    assert quiet_run.returncode == 0, quiet_run.stderr[-2000:]
    report = json.loads(quiet_run.stdout.strip().splitlines()[-1])
    assert report["imported"] == []
    if not report["installed"]:
        pytest.skip("none of them is installed here")


@pytest.mark.slow
def test_verbose_shows_the_library_log_lines(real_run):
    completed = real_run("--verbose")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "absl" in completed.stderr or "tensorflow" in completed.stderr.lower()


def test_settings_in_messages_are_shown_as_the_commands_options():
    from style_transfer.cli.main import as_options

    stylize = build_parser("stylize").commands["stylize"]
    assert as_options("`max_size` must be positive; `overwrite`.", stylize) == (
        "--max-size must be positive; --overwrite.")
    # A sub-command's options (`pretrained get --overwrite`); a setting no option sets: plain.
    pretrained = build_parser("pretrained").commands["pretrained"]
    assert as_options("replacing it takes `overwrite`; give `style_names`.", pretrained) == (
        "replacing it takes --overwrite; give style_names.")


def test_refusals_of_settings_name_the_options_in_good_english():
    from types import SimpleNamespace

    from style_transfer.cli.main import as_options
    from style_transfer.painting.config import PaintConfig
    from style_transfer.training.config import TrainConfig

    with pytest.raises(BadInput) as refused:
        TrainConfig(content_dir="photos", style_images=("wave.png",), cpu_replicas=2)
    assert as_options(str(refused.value), build_parser("train").commands["train"]) == (
        "--cpu-replicas splits one CPU for --distribute mirrored; received --distribute none.")
    with pytest.raises(BadInput) as refused:
        PaintConfig(style_images=("wave.png",)).check_model(SimpleNamespace(style_names=["a"]))
    assert as_options(str(refused.value), build_parser("stylize").commands["stylize"]) == (
        "an arbitrary-style model (made by train-arbitrary) is needed for --style-image; this "
        "model has a table of styles: choose a --style or a --blend.")


def test_the_help_of_rename_style_gives_the_longest_name():
    from style_transfer.models.style_names import MAX_STYLE_NAME_LENGTH

    to = next(action for action in _options("rename-style")[1] if action.dest == "new_name")
    assert f"1 to {MAX_STYLE_NAME_LENGTH} characters" in to.help


def test_every_command_and_sub_command_describes_itself_in_its_help():
    for command in COMMANDS:
        parser = build_parser(command).commands[command]
        assert parser.description, command
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub_parser in action.choices.items():
                    assert sub_parser.description, f"{command} {name}"


@pytest.mark.parametrize("runtime", ["onnxruntime", "litert"])
def test_xla_with_a_runtime_other_than_tensorflow_is_refused(runtime):
    from style_transfer.painting.config import PaintConfig

    for allowed in (None, "auto", "tensorflow"):
        assert PaintConfig(xla=True, runtime=allowed).xla
    with pytest.raises(BadInput, match=f"`xla` compiles the network for TensorFlow; `runtime` "
                                       f"{runtime} paints without it"):
        PaintConfig(xla=True, runtime=runtime)


def _commands_with_a_seed():
    commands = []
    for name in COMMANDS:
        actions = build_parser(name).commands[name]._actions
        if any("--seed" in action.option_strings for action in actions):
            commands.append(name)
    return commands


@pytest.mark.slow  # a Python process
def test_every_seed_option_takes_0_to_2_31_minus_1_and_refuses_the_rest_in_one_line():
    commands = _commands_with_a_seed()
    assert {"train", "train-arbitrary", "add-style", "stylize-dataset", "demo"} <= set(commands)
    seeds = ["9223372036854775808", "2147483648", "-1", "1e3"]
    runs = _without_heavy_imports([[name, "--seed", seed] for name in commands
                                   for seed in seeds])
    for name in commands:
        for seed in seeds:
            code, error = runs[f"{name} --seed {seed}"]
            assert code == 2 and len(error.splitlines()) == 1, (name, seed, error)
            assert error.startswith(f"style-transfer {name}: error: argument --seed: expected a "
                                    f"whole number"), error
            if seed != "1e3":
                assert "from 0 to 2147483647" in error, error


# The arguments each command that runs on TensorFlow only needs to get past argparse.
TENSORFLOW_ARGVS = [
    ["train", "--content", "c", "--styles", "s.png", "--out", "run"],
    ["train-arbitrary", "--content", "c", "--styles", "s", "--out", "run"],
    ["add-style", "--model", "m.keras", "--styles", "s.png", "--content", "c", "--out", "n.keras"],
    ["export", "--model", "m.keras", "--format", "savedmodel", "--out", "saved"],
    ["stylize-dataset", "photos", "--out", "out"],
    ["demo", "--train", "--out", "demo"],
]


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("argv", _named(TENSORFLOW_ARGVS))
def test_a_command_on_tensorflow_only_refuses_another_keras_backend_in_one_line(
        capsys, monkeypatch, tmp_path, argv, backend):
    # They stopped deep in their work with a traceback (tf.data, tf2onnx, SavedModel).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_BACKEND", backend)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"KERAS_BACKEND is {backend!r}" in err and "KERAS_BACKEND=tensorflow" in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("export_format", ["onnx", "tflite"])
def test_onnx_and_tflite_exports_take_jax_and_pytorch(capsys, monkeypatch, tmp_path,
                                                      export_format, backend):
    # PyTorch was refused: the check's reference pictures ended in a traceback ("Can't call
    # numpy() on Tensor that requires grad"). The exports themselves on PyTorch:
    # tests/style_transfer/models/test_export_on_backends.py.
    argv = ["export", "--model", str(tmp_path / "m.keras"), "--format", export_format,
            "--out", str(tmp_path / f"m.{export_format}")]
    monkeypatch.setenv("KERAS_BACKEND", backend)
    assert main(argv) == 2  # past the backend, to the model that is not there
    err = capsys.readouterr().err
    assert "KERAS_BACKEND" not in err and "m.keras" in err, err
    assert list(tmp_path.iterdir()) == []


def test_an_onnx_export_refuses_a_backend_it_does_not_run_on_naming_those_it_does(
        capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_BACKEND", "numpy")
    assert main(["export", "--model", str(tmp_path / "m.keras"), "--format", "onnx",
                 "--out", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err == (
        "style-transfer export: error: export --format onnx runs on TensorFlow, JAX or PyTorch "
        "only, and KERAS_BACKEND is 'numpy'; unset KERAS_BACKEND or set "
        "KERAS_BACKEND=tensorflow.\n")


def test_the_style_encoder_export_refuses_jax_but_takes_pytorch(capsys, monkeypatch, tmp_path):
    # On JAX tf2onnx's trace of the encoder ended in a traceback (a symbolic tf.Tensor given
    # to JAX's layers); PyTorch exports it with its own exporter.
    argv = ["export", "--model", str(tmp_path / "m.keras"), "--format", "onnx", "--part",
            "encoder", "--out", str(tmp_path / "encoder.onnx")]
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "style-transfer export: error: export --part encoder runs on TensorFlow or PyTorch only, "
        "and KERAS_BACKEND is 'jax'; unset KERAS_BACKEND or set KERAS_BACKEND=tensorflow.\n")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert main(argv) == 2  # past the backend, to the model that is not there
    err = capsys.readouterr().err
    assert "KERAS_BACKEND" not in err and "m.keras" in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("backend", ["tensorflw", "openvino"])
def test_a_keras_backend_that_is_misspelt_or_not_installed_is_one_line(
        capsys, monkeypatch, tmp_path, backend):
    if backend == "openvino" and importlib.util.find_spec("openvino") is not None:
        pytest.skip("openvino is installed")
    monkeypatch.setenv("KERAS_BACKEND", backend)
    assert main(["stylize", str(tmp_path / "photo.png"), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "KERAS_BACKEND" in err, err


def test_sigterm_stops_a_command_as_ctrl_c_does_and_leaves_no_temporary_files(tmp_path):
    # Python's default for SIGTERM ended the process at once: standard input's copy (here),
    # a video's temporary output, stayed behind.
    import signal
    import time

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary)}
    child = subprocess.Popen(
        [sys.executable, "-m", "style_transfer.cli.main", "stylize", "-", "--style", "0",
         "--out", str(tmp_path / "out.png")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        child.stdin.write(b"\x89PNG")  # a photo still arriving on standard input
        child.stdin.flush()
        deadline = time.monotonic() + 60
        while not any(temporary.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(temporary.iterdir()), "the command made no temporary folder"
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 128 + signal.SIGTERM, stderr.decode()[-2000:]
    assert stderr.decode().strip() == "style-transfer stylize: interrupted"
    assert list(temporary.iterdir()) == [] and not (tmp_path / "out.png").exists()
