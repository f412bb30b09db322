"""The run framework that `train`, `add-style` and `train-arbitrary` share.

Each command trains one tiny run (32 px, alpha 0.25, random VGG blocks 1-2) straight
through; runs of it stopped by Ctrl-C, SIGTERM or kill -9 and then resumed must end
bit-identical to that run: every weight, every optimizer variable and the loss
history. Ctrl-C is delivered to this process right after a step's update (where it
used to leave a checkpoint labelled one step early); SIGTERM and kill -9 go to a
child process, kill -9 also in the middle of a checkpoint write.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from style_transfer.base.files import atomic_path
from style_transfer.cli import main as cli
from style_transfer.training import logs as run_logs
from style_transfer.training.logs import HISTORY_FILE, LOG_DIR
from style_transfer.training.run import (
    CHECKPOINT_FILE,
    MODEL_FILE,
    RUN_FILE,
    checkpoint_variables,
    read_checkpoint,
    restore_variables,
)
from style_transfer.training.step import TrainingStep
from tests.style_transfer.hub_stand_ins import save_feature_vector_model
from tests.style_transfer.refusals import assert_refused
from tests.style_transfer.training_inputs import FAST_LOSS_OPTIONS, write_command_inputs

REPO_ROOT = Path(__file__).resolve().parents[3]
STEPS = 8
EVERY = 3  # Checkpoints at steps 3, 6 and 8.
COMMANDS = ("train", "add-style", "train-arbitrary")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Photos, three style images (also as a folder), a 2-style model, a hub encoder."""
    root = write_command_inputs(tmp_path_factory.mktemp("inputs"))
    save_feature_vector_model(root / "encoder")
    return root


def arguments(command, inputs, run_dir, *extra):
    """The command line of a tiny run of `command` in `run_dir`; `extra` options win."""
    common = ["--content", str(inputs / "content"), "--checkpoint-every", str(EVERY),
              "--steps", str(STEPS), "--quiet"]
    if command == "train":
        specific = ["--styles", *(str(inputs / f"{name}.png")
                                  for name in ("stripes", "speckles", "checks")),
                    "--out", str(run_dir), "--image-size", "32", "--batch-size", "2",
                    "--alpha", "0.25", "--learning-rate", "5e-3", "--sample-every", str(EVERY),
                    "--seed", "3", *FAST_LOSS_OPTIONS]
    elif command == "add-style":
        specific = ["--model", str(inputs / "model.keras"), "--styles",
                    str(inputs / "checks.png"), "--out", f"{run_dir}.keras", "--run-dir",
                    str(run_dir), "--learning-rate", "5e-2", "--seed", "1"]
    else:
        specific = ["--styles", str(inputs / "style_folder"), "--out", str(run_dir),
                    "--image-size", "32", "--batch-size", "2", "--alpha", "0.25",
                    "--embedding-dim", "16", "--encoder-hub", str(inputs / "encoder"),
                    "--train-encoder", "--seed", "2", *FAST_LOSS_OPTIONS]
    return [command, *common, *specific, *extra]


@pytest.fixture(scope="module")
def straight_run(inputs, tmp_path_factory):
    """The run folder of each command trained straight through (made on first use)."""
    folders = {}

    def folder(command):
        if command not in folders:
            run_dir = tmp_path_factory.mktemp(f"straight-{command}") / "run"
            assert cli.main(arguments(command, inputs, run_dir)) == 0
            folders[command] = run_dir
        return folders[command]

    return folder


def _assert_same_run(run_dir, straight_dir):
    resumed = read_checkpoint(run_dir / CHECKPOINT_FILE)
    straight = read_checkpoint(straight_dir / CHECKPOINT_FILE)
    assert resumed.keys() == straight.keys()
    assert any(key.startswith("optimizer/") and key.endswith("_velocity") for key in straight)
    assert int(resumed["step"]) == STEPS
    different = [key for key in straight
                 if not np.array_equal(resumed[key], straight[key], equal_nan=True)]
    assert different == []
    assert (run_dir / HISTORY_FILE).read_bytes() == (straight_dir / HISTORY_FILE).read_bytes()


def _checkpoint_step(run_dir):
    return int(read_checkpoint(run_dir / CHECKPOINT_FILE)["step"])


def _partials(folder, name=""):
    """The temporaries in `folder` (of the file `name` only, if given)."""
    return [path.name for path in folder.iterdir()
            if ".partial" in path.name and path.name.startswith(f".{name}")]


# ---------------------------------------------------------------- stopping


def _signal_after_step(monkeypatch, step_number, signal_number):
    """Sends `signal_number` to this process right after the update of step `step_number`."""
    call = TrainingStep.__call__
    calls = []

    def call_then_signal(self, *arguments):
        losses = call(self, *arguments)
        calls.append(None)
        if len(calls) == step_number:
            os.kill(os.getpid(), signal_number)
        return losses

    monkeypatch.setattr(TrainingStep, "__call__", call_then_signal)


@pytest.fixture
def sigint_as_in_a_terminal():
    """Ctrl-C's usual handler: a test runner started in the background ignores SIGINT."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


# `train` stopped after a step: by SIGTERM in a process of its own (its checkpoint, exit code and
# bit-identical resume) and by Ctrl-C there (its checkpoint and lines), both below.
@pytest.mark.slow
@pytest.mark.parametrize("command, stop_at", [("add-style", 3), ("train-arbitrary", 5)])
def test_ctrl_c_after_any_step_resumes_bit_identical_to_a_straight_run(
        command, stop_at, inputs, straight_run, tmp_path, monkeypatch, sigint_as_in_a_terminal):
    run_dir = tmp_path / "run"
    _signal_after_step(monkeypatch, stop_at, signal.SIGINT)
    assert cli.main(arguments(command, inputs, run_dir)) == 128 + signal.SIGINT
    assert _checkpoint_step(run_dir) == stop_at
    monkeypatch.undo()
    assert cli.main(arguments(command, inputs, run_dir, "--resume")) == 0
    _assert_same_run(run_dir, straight_run(command))


# The children import TensorFlow (by `TrainingStep`) before `cli.main` runs: as it would,
# without the libraries no command uses.
_CHILD = """
import os, signal, sys, time
import numpy as np
from style_transfer.cli import main as cli
from style_transfer.cli.keras_backend import skip_optional_integrations
skip_optional_integrations()
from style_transfer.training.step import TrainingStep

when, what, step_number, marker = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

def act():
    if what == "pause":  # Tell the parent, then hold the run until killed.
        open(marker, "w").close()
        time.sleep(600)
    os.kill(os.getpid(), getattr(signal, what))

if when == "after-step":
    call, calls = TrainingStep.__call__, []
    def call_then_act(self, *arguments):
        losses = call(self, *arguments)
        calls.append(None)
        if len(calls) == step_number:
            act()
        return losses
    TrainingStep.__call__ = call_then_act
else:  # In a checkpoint write: the temporary file written, not yet renamed.
    savez = np.savez
    def savez_then_act(file, **arrays):
        savez(file, **arrays)
        if int(arrays["step"]) == step_number:
            file.flush()
            act()
    np.savez = savez_then_act
sys.exit(cli.main(sys.argv[5:]))
"""


def _child(when, what, step_number, command_line, marker="-"):
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "KERAS_BACKEND": "tensorflow",
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, when, what, str(step_number), str(marker), *command_line],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finished(child):
    _, stderr = child.communicate(timeout=300)
    return child.returncode, stderr.decode()[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["add-style", "train-arbitrary"])
def test_kill_9_during_a_checkpoint_write_resumes_bit_identical_and_clears_the_temporary(
        command, inputs, straight_run, tmp_path):
    run_dir = tmp_path / "run"
    code, stderr = _finished(_child("in-write", "SIGKILL", 2 * EVERY,
                                    arguments(command, inputs, run_dir)))
    assert code == -signal.SIGKILL, stderr
    assert _checkpoint_step(run_dir) == EVERY
    assert _partials(run_dir)
    # What a kill while saving add-style's model (outside its run folder) leaves, and a
    # temporary of another program's file beside it.
    unfinished = [atomic_path(run_dir.parent / name)
                  for name in (f"{run_dir.name}.keras", "other.keras")]
    for manager in unfinished:
        manager.__enter__()  # Entered and never exited, as after SIGKILL.
    assert cli.main(arguments(command, inputs, run_dir, "--resume")) == 0
    assert _partials(run_dir) == []
    assert _partials(run_dir.parent, "other.keras")  # Not this run's output: kept.
    assert bool(_partials(run_dir.parent, f"{run_dir.name}.keras")) == (command != "add-style")
    _assert_same_run(run_dir, straight_run(command))


@pytest.mark.slow
def test_a_second_process_is_refused_and_kill_9_leaves_no_stale_lock(
        inputs, straight_run, tmp_path, capsys):
    run_dir, marker = tmp_path / "run", tmp_path / "paused"
    command_line = arguments("train", inputs, run_dir)
    first = _child("after-step", "pause", 5, command_line, marker)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert first.poll() is None, first.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        before = sorted(path.name for path in run_dir.iterdir())
        assert cli.main([*command_line, "--resume"]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and "in use by another training process" in error[0], error
        assert sorted(path.name for path in run_dir.iterdir()) == before
    finally:
        first.kill()
    assert _finished(first)[0] == -signal.SIGKILL
    assert _checkpoint_step(run_dir) == EVERY
    assert cli.main([*command_line, "--resume"]) == 0
    _assert_same_run(run_dir, straight_run("train"))


@pytest.mark.slow
def test_sigterm_checkpoints_after_its_step_and_resumes_bit_identical(
        inputs, straight_run, tmp_path):
    run_dir = tmp_path / "run"
    code, stderr = _finished(_child("after-step", "SIGTERM", 4,
                                    arguments("train", inputs, run_dir)))
    assert code == 128 + signal.SIGTERM, stderr
    assert _checkpoint_step(run_dir) == 4
    assert cli.main(arguments("train", inputs, run_dir, "--resume")) == 0
    _assert_same_run(run_dir, straight_run("train"))


_TWO_CTRL_C = """
import os, signal, sys
from style_transfer.cli import main as cli
from style_transfer.cli.keras_backend import skip_optional_integrations
skip_optional_integrations()
from style_transfer.training.step import TrainingStep

signal.signal(signal.SIGINT, signal.default_int_handler)  # As in a terminal.
call, calls = TrainingStep.__call__, []
def call_then_ctrl_c(self, *arguments):
    losses = call(self, *arguments)
    calls.append(None)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGINT)
    return losses
TrainingStep.__call__ = call_then_ctrl_c
code = cli.main(sys.argv[1:])
os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C again while the command winds down.
sys.exit(code)
"""


@pytest.mark.slow
def test_ctrl_c_says_so_in_one_prefixed_line_and_a_second_one_adds_nothing(inputs, tmp_path):
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "KERAS_BACKEND": "tensorflow",
                   "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "-c", _TWO_CTRL_C, *arguments("train", inputs, tmp_path / "run")],
        env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 128 + signal.SIGINT, completed.stderr[-2000:]
    assert "Traceback" not in completed.stderr, completed.stderr[-2000:]
    # The lines after the run started (TensorFlow, imported by this test's child before
    # the command line could quiet it, logs before them).
    stderr = completed.stderr[completed.stderr.index("RANDOM weights"):]
    lines = [line for line in stderr.splitlines()[1:] if line.strip()]
    assert len(lines) == 2, lines
    assert lines[0].startswith("style-transfer train: warning: stopping after the step")
    assert lines[1] == "style-transfer train: interrupted"
    assert _checkpoint_step(tmp_path / "run") == 2


# --------------------------------------------------------------- divergence


def _weights_times_after_step(monkeypatch, step_number, factor):
    """Multiplies every weight of the trained model by `factor` right after step
    `step_number` (what a huge learning rate does in one step)."""
    call = TrainingStep.__call__
    calls = []

    def call_then_scale(self, *arguments):
        losses = call(self, *arguments)
        calls.append(None)
        if len(calls) == step_number:
            for variable in self.model.trainable_variables:
                variable.assign(variable * factor)
        return losses

    monkeypatch.setattr(TrainingStep, "__call__", call_then_scale)


@pytest.mark.slow
@pytest.mark.parametrize("command, factor", [
    ("train", np.nan), ("add-style", np.nan),
    # Every weight of the network 1e30 times its size: finite, but it paints NaN.
    ("train", 1e30),
], ids=["train-nan", "add-style-nan", "train-finite-but-huge"])
def test_a_diverging_run_stops_in_one_line_and_keeps_its_last_good_checkpoint(
        command, factor, inputs, tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    _weights_times_after_step(monkeypatch, 3, factor)
    code = cli.main(arguments(command, inputs, run_dir, "--checkpoint-every", "1"))
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"style-transfer {command}: error: training diverged by step 3"), error
    assert "the last good checkpoint (step 2)" in error, error
    saved = read_checkpoint(run_dir / CHECKPOINT_FILE)
    assert int(saved["step"]) == 2
    assert all(np.all(np.isfinite(value)) for key, value in saved.items()
               if key.startswith(("model/", "optimizer/")))
    assert not (run_dir / MODEL_FILE).exists() and not Path(f"{run_dir}.keras").exists()


# --------------------------------------------------------------- bad input


@pytest.mark.parametrize("command, option, value", [
    ("train", "--learning-rate", "inf"),
    ("train", "--learning-rate", "1e30"),
    ("train", "--style-weight", "inf"),
    ("train", "--content-weight", "nan"),
    ("train", "--alpha", "inf"),
    ("train", "--alpha", "1e-300"),
    ("train", "--alpha", "1e300"),
    ("train", "--image-size", "99999999999999999999"),
    ("train", "--batch-size", "99999999999999999999"),
    ("train", "--style-size", "99999999999"),
    ("train", "--seed", "-1"),
    ("train", "--seed", str(2**31)),
    ("add-style", "--learning-rate", "inf"),
    ("add-style", "--style-weight", "inf"),
    ("train-arbitrary", "--alpha", "inf"),
    ("train-arbitrary", "--tv-weight", "inf"),
    ("train-arbitrary", "--embedding-dim", "100000"),
])
def test_non_finite_or_out_of_range_options_are_refused_before_anything_runs(
        command, option, value, inputs, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert_refused(capsys, arguments(command, inputs, run_dir, option, value), tmp_path,
                    [option, " from ", value[:30]])



@pytest.fixture
def finished_copy(straight_run, tmp_path):
    """A copy of the straight `train` run: resumable with more steps."""
    copy = tmp_path / "run"
    shutil.copytree(straight_run("train"), copy)
    return copy


def _rewrite_checkpoint(path, change):
    arrays = read_checkpoint(path)
    change(arrays)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


@pytest.mark.slow
@pytest.mark.parametrize("damage, expected", [
    (lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
     "cannot be read"),
    (lambda path: _rewrite_checkpoint(
        path, lambda arrays: arrays.pop(next(key for key in arrays if key.startswith("model/")))),
     "is missing"),
    (lambda path: _rewrite_checkpoint(
        path, lambda arrays: arrays.update({"model/extra": np.zeros(3, np.float32)})),
     "is unexpected"),
    (lambda path: _rewrite_checkpoint(
        path, lambda arrays: arrays.update({
            key: arrays[key][..., :1] for key in arrays if key.endswith("conv1/conv/kernel")})),
     "the network's float32"),
    (lambda path: _rewrite_checkpoint(
        path, lambda arrays: arrays.update({
            key: np.full_like(arrays[key], np.nan) for key in arrays
            if key.endswith("conv1/conv/kernel")})),
     "NaN or infinite values"),
    (lambda path: _rewrite_checkpoint(
        path, lambda arrays: arrays["history/step"].__setitem__(1, np.nan)),
     "one row of numbers per step"),
    (lambda path: _rewrite_checkpoint(
        path, lambda arrays: arrays.update({"history/total": np.stack(
            [arrays["history/total"]] * 2, axis=1)})),
     "one row of numbers per step"),
    (lambda path: _rewrite_checkpoint(
        path, lambda arrays: arrays.update({"history/total": arrays["history/total"].astype(
            str)})),
     "one row of numbers per step"),
], ids=["truncated", "missing-variable", "unknown-variable", "other-shape", "nan",
        "history-steps", "history-2d", "history-text"])
def test_a_damaged_or_foreign_checkpoint_is_refused_in_one_line(
        damage, expected, inputs, finished_copy, capsys):
    damage(finished_copy / CHECKPOINT_FILE)
    command_line = arguments("train", inputs, finished_copy, "--resume", "--steps", "9")
    assert_refused(capsys, command_line, finished_copy, ["checkpoint", expected])


def test_resuming_a_finished_run_whose_checkpoint_is_gone_is_refused(inputs, finished_copy,
                                                                     capsys):
    # It would train from step 0 and write its new network over the finished one.
    (finished_copy / CHECKPOINT_FILE).unlink()
    model = (finished_copy / MODEL_FILE).read_bytes()
    command_line = arguments("train", inputs, finished_copy, "--resume", "--steps", "9")
    assert_refused(capsys, command_line, finished_copy, ["finished model", "no checkpoint"])
    assert (finished_copy / MODEL_FILE).read_bytes() == model


@pytest.mark.slow
def test_resuming_after_the_content_folder_changed_is_refused(inputs, tmp_path, capsys):
    content, run_dir = tmp_path / "content", tmp_path / "run"
    shutil.copytree(inputs / "content", content)
    assert cli.main(arguments("train", inputs, run_dir, "--content", str(content),
                              "--steps", "1")) == 0
    shutil.copy(content / "photo0.png", content / "photo9.png")
    command_line = arguments("train", inputs, run_dir, "--content", str(content), "--steps",
                             "2", "--resume")
    assert_refused(capsys, command_line, run_dir, ["photos of the content folder"])


def test_a_run_folder_of_the_earlier_format_is_refused(inputs, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / RUN_FILE).write_text(json.dumps({"image_size": 32, "style_names": ["x"]}))
    np.savez(run_dir / CHECKPOINT_FILE, step=np.array(3), model_0=np.zeros(3))
    assert_refused(capsys, arguments("train", inputs, run_dir, "--resume"), run_dir,
                    ["another version"])


# ---------------------------------------------------------- checkpoints by name


class _Pair(keras.Model):
    """Two same-shape Dense layers, created (and so listed) in the given order of names."""

    def __init__(self, names):
        super().__init__(name="pair")
        self.first, self.second = (keras.layers.Dense(3, name=name) for name in names)

    def call(self, x):
        return self.first(x) + self.second(x)


def _built_step(names, seed):
    model = _Pair(names)
    model(np.zeros((1, 3), "float32"))
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.standard_normal(variable.shape).astype("float32"))
    optimizer = keras.optimizers.Adam(name="adam")
    optimizer.build(model.trainable_variables)
    return types.SimpleNamespace(model=model, optimizer=optimizer)


def test_checkpoints_match_variables_by_path_not_by_position():
    written, reader = _built_step("ab", seed=0), _built_step("ba", seed=1)
    assert [v.path for v in written.model.weights] != [v.path for v in reader.model.weights]
    written.optimizer.apply([keras.ops.ones(v.shape) for v in written.model.trainable_variables],
                            written.model.trainable_variables)
    saved = {key: keras.ops.convert_to_numpy(variable)
             for key, variable in checkpoint_variables(written).items()}
    restore_variables(checkpoint_variables(reader), saved, "test.npz")
    for variables in ("model", "optimizer"):
        expected = {v.path: keras.ops.convert_to_numpy(v)
                    for v in getattr(written, variables).variables}
        for variable in getattr(reader, variables).variables:
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable),
                                          expected[variable.path])


# ----------------------------------------------------------------- TensorBoard


@pytest.mark.slow
def test_without_the_tensorboard_package_training_warns_once_and_writes_no_logs(
        inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(run_logs, "tensorboard_installed", lambda: False)
    run_dir = tmp_path / "run"
    assert cli.main(arguments("train", inputs, run_dir, "--steps", "2")) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "tensorboard" in line]
    assert len(warnings) == 1 and "warning" in warnings[0]
    assert not (run_dir / LOG_DIR).exists()
    assert (run_dir / MODEL_FILE).is_file()


# ------------------------------------------------------------------ start-up


_LIGHT_MODULES = """
import importlib.abc, sys, types

class RefuseHeavy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError(f"imported {name}")

sys.meta_path.insert(0, RefuseHeavy())
# The package faces (style_transfer/__init__.py, commands/__init__.py) are left out: this
# checks the training commands' own modules and what they import.
for name in ("style_transfer", "style_transfer.cli.commands"):
    package = types.ModuleType(name)
    package.__path__ = [sys.argv[1] + "/" + name.replace(".", "/")]
    sys.modules[name] = package
import argparse
from style_transfer.cli.commands import add_style, train, train_arbitrary
from style_transfer.base.errors import BadInput

parser = argparse.ArgumentParser()
subparsers = parser.add_subparsers()
for command in (train, add_style, train_arbitrary):
    command.register(subparsers)
for argv in (["train", "--content", "c", "--styles", "s.png", "--out", "o", "--seed", "-1"],
             ["add-style", "--model", "m.keras", "--styles", "s.png", "--content", "c",
              "--out", "o.keras", "--cpu-replicas", "2"],
             ["train-arbitrary", "--content", "c", "--styles", "s", "--out", "o",
              "--learning-rate", "nan"]):
    try:  # A range is refused by the option's type, the rest by the config.
        args = parser.parse_args(argv)
        args.run(args)
    except BadInput as error:
        print(error)
    except SystemExit:
        print(argv[-2])
"""


def test_the_training_commands_check_their_options_without_tensorflow_or_keras():
    completed = subprocess.run([sys.executable, "-c", _LIGHT_MODULES, str(REPO_ROOT)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    refusals = completed.stdout.strip().splitlines()
    assert [line.split()[0] for line in refusals] == ["--seed", "`cpu_replicas`",
                                                      "--learning-rate"], refusals
