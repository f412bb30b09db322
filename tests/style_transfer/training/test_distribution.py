"""Training under `tf.distribute`: R replicas compute the updates of one device.

A distributed run (two logical CPUs with `mirrored`, or two worker processes on
127.0.0.1 with `multi-worker`) starts in a child process, since TensorFlow fixes
its devices when it starts; the one-device run it is compared with trains in this
process. Both train on the same samples and styles with the same global batch, so
they may differ only by float summation order (each replica sums its own half of
the batch; the gradients are then added).

What that order changes, and so the tolerances (measured on these tiny runs):
  - the losses of step 1 (same weights, same samples): about 1e-7 relative;
  - the gradients of step 1: instance normalization's backward pass subtracts
    means, so a rounding difference in one kernel comes out about 1e-3 relative
    (the one-device step compiled by tf.function and the same gradient computed
    eagerly differ by 6e-4 already);
  - the weights: Adam divides each gradient element by its own magnitude, so an
    element whose gradient is rounding noise (the beta of a normalization that
    the next instance norm cancels) moves by +-lr either way: element-wise the
    weights differ by up to 2 lr after a step (for ~0.3% of them; 1% differ by
    more than 0.3 lr after 3 steps), so they are not compared element by element;
  - the gradients of later steps are taken at those weights: Adam's first
    moments (running means of the gradients, all variables together) differ
    by about 2e-2 relative after 2 steps and 8e-2 after 3, compared with 0.15.
    A run that dropped a replica's gradient, or scaled the loss by the
    per-replica batch, is off by 50-100%;
  - the losses of later steps: about 2e-5 relative, compared with 1e-3.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from style_transfer.cli import main as cli
from style_transfer.training.run import CHECKPOINT_FILE, MODEL_FILE, read_checkpoint
from tests.style_transfer.refusals import assert_refused
from tests.style_transfer.training_inputs import FAST_LOSS_OPTIONS, write_command_inputs

STEPS = 2
FIRST_STEP_LOSS_RTOL = 1e-5
LOSS_RTOL = 1e-3
MOMENTUM_RTOL = 0.15
CHILD_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_command_inputs(tmp_path_factory.mktemp("inputs"))


def arguments(command, inputs, run_dir, *extra, steps=STEPS):
    """A tiny run of `command` in `run_dir` (global batch 4); `extra` options win."""
    common = ["--content", str(inputs / "content"), "--steps", str(steps), "--batch-size",
              "4", "--quiet"]
    if command == "train":
        specific = ["--styles", str(inputs / "stripes.png"), str(inputs / "speckles.png"),
                    "--out", str(run_dir), "--image-size", "32", "--alpha", "0.25",
                    "--sample-every", "0", "--seed", "3", *FAST_LOSS_OPTIONS]
    elif command == "add-style":
        specific = ["--model", str(inputs / "model.keras"), "--styles",
                    str(inputs / "checks.png"), "--out", f"{run_dir}.keras", "--run-dir",
                    str(run_dir), "--learning-rate", "1e-2", "--seed", "1"]
    else:
        specific = ["--styles", str(inputs / "style_folder"), "--out", str(run_dir),
                    "--image-size", "32", "--alpha", "0.25", "--embedding-dim", "16",
                    "--encoder-weights", "random", "--seed", "2", *FAST_LOSS_OPTIONS]
    return [command, *common, *specific, *extra]


def run_child(command_line, env=None):
    """Starts `style-transfer COMMAND_LINE` in a new process (its own TensorFlow)."""
    return subprocess.Popen([sys.executable, "-m", "style_transfer.cli.main", *command_line],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(child):
    stdout, stderr = child.communicate(timeout=CHILD_TIMEOUT_S)
    return child.returncode, stdout, stderr


def assert_same_training(run_dir, reference_dir, steps=STEPS):
    """Two run folders trained the same samples to `steps` up to summation order."""
    run, reference = (read_checkpoint(Path(folder) / CHECKPOINT_FILE)
                      for folder in (run_dir, reference_dir))
    assert run.keys() == reference.keys()
    assert int(run["step"]) == int(reference["step"]) == steps
    for key, value in reference.items():
        assert (run[key].shape, run[key].dtype) == (value.shape, value.dtype), key
    np.testing.assert_allclose(run["history/total"][0], reference["history/total"][0],
                               rtol=FIRST_STEP_LOSS_RTOL)
    for column in ("total", "content", "style"):
        np.testing.assert_allclose(run[f"history/{column}"], reference[f"history/{column}"],
                                   rtol=LOSS_RTOL)
    momenta = sorted(key for key in reference if key.endswith("_momentum"))
    assert momenta
    moment, expected = (np.concatenate([values[key].ravel() for key in momenta])
                        for values in (run, reference))
    assert np.linalg.norm(moment - expected) <= MOMENTUM_RTOL * np.linalg.norm(expected)


@pytest.fixture(scope="module")
def one_device(inputs, tmp_path_factory):
    """The run folder of each command on one device, trained to `steps` (made on first use)."""
    folders = {}

    def folder(command, steps=STEPS):
        if (command, steps) not in folders:
            run_dir = tmp_path_factory.mktemp(f"one-{command}") / "run"
            assert cli.main(arguments(command, inputs, run_dir, steps=steps)) == 0
            folders[command, steps] = run_dir
        return folders[command, steps]

    return folder


MIRRORED_COMMANDS = ("train", "add-style", "train-arbitrary")
# The commands one after the other in one process (TensorFlow's logical CPUs are fixed once
# per process; `split_cpu` takes the same split again), which starts TensorFlow once.
_RUN_EACH = ("import json, sys\n"
             "from style_transfer.cli import main as cli\n"
             "for command_line in json.loads(sys.argv[1]):\n"
             "    code = cli.main(command_line)\n"
             "    if code:\n"
             "        sys.exit(f'{command_line[0]}: exit code {code}')\n")


@pytest.fixture(scope="module")
def mirrored(inputs, tmp_path_factory):
    """The run folder of each command on two logical CPUs (all made on first use, one
    after the other in one process, as a notebook would: a second MirroredStrategy on the
    same devices failed in its first all-reduce with "Shape mismatch in the collective
    instance")."""
    folders = {command: tmp_path_factory.mktemp(f"mirrored-{command}") / "run"
               for command in MIRRORED_COMMANDS}
    made = []

    def folder(command):
        if not made:
            command_lines = [arguments(each, inputs, folders[each], "--distribute", "mirrored",
                                       "--cpu-replicas", "2") for each in MIRRORED_COMMANDS]
            child = subprocess.Popen(
                [sys.executable, "-c", _RUN_EACH, json.dumps(command_lines)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            code, _, stderr = finish(child)
            assert code == 0, stderr[-3000:]
            made.append(True)
        return folders[command]

    return folder


@pytest.mark.slow
@pytest.mark.parametrize("command", MIRRORED_COMMANDS)
def test_two_logical_cpus_train_as_one_device(command, one_device, mirrored):
    assert_same_training(mirrored(command), one_device(command))


@pytest.mark.slow
def test_a_run_from_two_devices_resumes_on_one(mirrored, one_device, tmp_path, inputs):
    run_dir = tmp_path / "run"
    shutil.copytree(mirrored("train"), run_dir)

    assert cli.main(arguments("train", inputs, run_dir, "--resume", steps=STEPS + 1)) == 0

    assert_same_training(run_dir, one_device("train", steps=STEPS + 1), steps=STEPS + 1)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


@pytest.fixture(scope="module")
def killed_cluster(inputs, tmp_path_factory):
    """Two workers on 127.0.0.1 training a long run; the second is killed (SIGKILL) once the
    chief has written a checkpoint. Returns the chief's (exit code, stderr) and folders."""
    root = tmp_path_factory.mktemp("cluster")
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    # The second worker's folder stands for a machine without shared storage.
    run_dirs = [root / "chief", root / "worker"]
    children = [
        run_child(arguments("train", inputs, run_dir, "--distribute", "multi-worker",
                            "--checkpoint-every", str(STEPS), steps=1000),
                  env={"TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                                "task": {"type": "worker", "index": index}})})
        for index, run_dir in enumerate(run_dirs)
    ]
    checkpoint = run_dirs[0] / CHECKPOINT_FILE
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while not checkpoint.exists() and children[0].poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    children[1].kill()
    children[1].communicate()
    code, _, stderr = finish(children[0])
    return code, stderr, run_dirs


@pytest.mark.slow
def test_two_workers_train_as_one_device(killed_cluster, one_device):
    _, _, (chief_dir, _) = killed_cluster
    steps = int(read_checkpoint(chief_dir / CHECKPOINT_FILE)["step"])

    assert_same_training(chief_dir, one_device("train", steps=steps), steps=steps)


@pytest.mark.slow
def test_only_the_chief_writes(killed_cluster):
    _, _, (chief_dir, worker_dir) = killed_cluster

    assert (chief_dir / CHECKPOINT_FILE).is_file()
    assert not worker_dir.exists()


@pytest.mark.slow
def test_a_killed_worker_stops_the_run_with_one_line(killed_cluster):
    code, stderr, _ = killed_cluster

    ours = [line for line in stderr.splitlines() if line.startswith("style-transfer")]
    assert code == 2, stderr
    assert [line for line in ours if "error" in line] == ours[-1:], stderr
    assert "another worker of the cluster is gone" in ours[-1]
    assert "--resume" in ours[-1]


@pytest.mark.slow
def test_a_run_whose_worker_was_killed_resumes_from_its_checkpoint(
        killed_cluster, one_device, inputs, tmp_path):
    _, _, (chief_dir, _) = killed_cluster
    run_dir = tmp_path / "run"
    shutil.copytree(chief_dir, run_dir)
    steps = int(read_checkpoint(run_dir / CHECKPOINT_FILE)["step"]) + 1

    assert cli.main(arguments("train", inputs, run_dir, "--resume", "--checkpoint-every",
                              str(STEPS), steps=steps)) == 0

    assert_same_training(run_dir, one_device("train", steps=steps), steps=steps)


@pytest.mark.slow
def test_workers_that_resume_from_different_checkpoints_are_refused(
        killed_cluster, inputs, tmp_path):
    _, _, (chief_dir, _) = killed_cluster
    run_dirs = [tmp_path / "chief", tmp_path / "unshared"]
    shutil.copytree(chief_dir, run_dirs[0])
    steps = int(read_checkpoint(chief_dir / CHECKPOINT_FILE)["step"]) + 2
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    children = [
        run_child(arguments("train", inputs, run_dir, "--distribute", "multi-worker",
                            "--resume", steps=steps),
                  env={"TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                                "task": {"type": "worker", "index": index}})})
        for index, run_dir in enumerate(run_dirs)
    ]
    results = [finish(child) for child in children]

    for code, _, stderr in results:
        ours = [line for line in stderr.splitlines() if line.startswith("style-transfer")]
        assert code == 2, stderr
        assert "resume from different steps" in ours[-1], stderr


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("tf_config, expected", [
    (None, ["TF_CONFIG", "not set"]),
    ("{not json", ["TF_CONFIG", "not JSON"]),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}}', ["TF_CONFIG", "\"task\""]),
    ('{"cluster": {"worker": "127.0.0.1:1"}, "task": {"type": "worker", "index": 0}}',
     ["cluster['worker']", "host:port"]),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}',
     ["task index 1"]),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "ps", "index": 0}}',
     ["task type 'ps'"]),
])
def test_multi_worker_refuses_a_missing_or_malformed_tf_config(
        tf_config, expected, inputs, tmp_path, monkeypatch, capsys):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    assert_refused(capsys, arguments("train", inputs, tmp_path / "run", "--distribute",
                                     "multi-worker"), tmp_path / "run", expected)


@pytest.mark.parametrize("options, expected", [
    (["--distribute", "mirrored", "--cpu-replicas", "0"], ["--cpu-replicas", "from 1 to 64"]),
    (["--cpu-replicas", "2"], ["--cpu-replicas splits one CPU", "--distribute mirrored"]),
])
def test_bad_cpu_replicas_are_refused(options, expected, inputs, tmp_path, capsys):
    assert_refused(capsys, arguments("train", inputs, tmp_path / "run", *options),
                   tmp_path / "run", expected)


def test_cpu_replicas_are_refused_where_tensorflow_uses_gpus(
        inputs, tmp_path, monkeypatch, capsys):
    import tensorflow as tf

    physical = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: (
        [tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")] if kind == "GPU"
        else physical(kind)))
    assert_refused(capsys, arguments("train", inputs, tmp_path / "run", "--distribute",
                                     "mirrored", "--cpu-replicas", "2"),
                   tmp_path / "run", ["--cpu-replicas", "GPUs"])


@pytest.mark.slow
def test_a_batch_that_does_not_split_over_the_replicas_is_refused(inputs, tmp_path):
    code, _, stderr = finish(run_child(arguments(
        "train", inputs, tmp_path / "run", "--distribute", "mirrored", "--cpu-replicas", "2",
        "--batch-size", "3")))

    ours = [line for line in stderr.splitlines() if line.startswith("style-transfer")]
    assert code == 2
    assert len(ours) == 1 and ours[0].startswith("style-transfer train: error: --batch-size 3"), \
        stderr
    assert "multiple of 2" in ours[0]
    assert not (tmp_path / "run").exists()


def test_a_hub_encoder_is_refused_under_a_strategy(inputs, tmp_path):
    import tensorflow as tf
    from hub_stand_ins import save_feature_vector_model

    from style_transfer.base.errors import BadInput
    from style_transfer.training.arbitrary import train_arbitrary
    from style_transfer.training.config import ArbitraryConfig

    config = ArbitraryConfig(content_dir=inputs / "content", style_dir=inputs / "style_folder",
                             encoder="hub", hub_handle=str(save_feature_vector_model(
                                 tmp_path / "encoder")), steps=1)
    with pytest.raises(BadInput, match="TF Hub encoder"):
        train_arbitrary(config, tmp_path / "run",
                        strategy=tf.distribute.MirroredStrategy(["/cpu:0"]))
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_run_started_before_the_distribute_settings_existed_resumes(
        one_device, inputs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(one_device("train"), run_dir)
    settings = json.loads((run_dir / "run.json").read_text())
    for name in ("distribute", "cpu_replicas", "mixed_precision"):
        del settings["config"][name]
    (run_dir / "run.json").write_text(json.dumps(settings))

    assert cli.main(arguments("train", inputs, run_dir, "--resume", steps=STEPS + 1)) == 0


# ------------------------------------------------------------ mixed precision


@pytest.mark.slow
def test_mixed_precision_trains_in_bfloat16_on_a_cpu_with_float32_variables(
        one_device, inputs, tmp_path):
    run_dir = tmp_path / "run"

    assert cli.main(arguments("train", inputs, run_dir, "--mixed-precision")) == 0

    from style_transfer.models.loading import load_style_model

    assert load_style_model(run_dir / MODEL_FILE).dtype_policy.name == "mixed_bfloat16"
    mixed, full = (read_checkpoint(folder / CHECKPOINT_FILE)
                   for folder in (run_dir, one_device("train")))
    assert {key: value.dtype for key, value in mixed.items()} == {
        key: value.dtype for key, value in full.items()}
    # bfloat16 keeps 8 significant bits (relative rounding 4e-3 per operation): close to
    # the float32 run, and not it (a run computing in float32 gives its losses exactly).
    np.testing.assert_allclose(mixed["history/total"], full["history/total"], rtol=2e-2)
    assert not np.array_equal(mixed["history/total"], full["history/total"])


@pytest.mark.slow
def test_a_float16_network_trains_with_loss_scaling():
    import keras
    from training_inputs import FAST_LOSS

    from style_transfer.models.network import StyleTransferNetwork
    from style_transfer.training.losses import PerceptualLoss
    from style_transfer.training.step import TrainingStep

    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        model = StyleTransferNetwork(2, alpha=0.25)
        model.build()
        loss = PerceptualLoss(config=FAST_LOSS)
    finally:
        keras.config.set_dtype_policy("float32")
    step = TrainingStep(model, loss, lambda ids: (ids, _grey_styles(ids)), num_styles=2,
                        learning_rate=1e-3)
    before = [keras.ops.convert_to_numpy(variable) for variable in model.trainable_variables]
    photos = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")

    _, losses = step(photos, np.array([0, 1]))

    assert isinstance(step.optimizer, keras.optimizers.LossScaleOptimizer)
    assert losses["total"].dtype == "float32" and np.all(np.isfinite(losses["total"]))
    after = [keras.ops.convert_to_numpy(variable) for variable in model.trainable_variables]
    assert all(value.dtype == np.float32 for value in after)
    assert any(not np.array_equal(old, new) for old, new in zip(before, after))


def _grey_styles(ids):
    """A grey style image per sample (the loss without a table takes style images)."""
    import tensorflow as tf

    return tf.fill((tf.shape(ids)[0], 32, 32, 3), 0.5)


# ---------------------------------------------------------------------- XLA


# Lowering the whole step (the network, VGG, the optimizer) to HLO takes 10-16 s.
@pytest.mark.slow
@pytest.mark.parametrize("jit_compile", [True, False])
def test_jit_compile_makes_the_training_step_an_xla_program(jit_compile):
    import keras
    from training_inputs import FAST_LOSS

    from style_transfer.models.network import StyleTransferNetwork
    from style_transfer.training.losses import PerceptualLoss
    from style_transfer.training.step import TrainingStep

    keras.utils.set_random_seed(0)
    model = StyleTransferNetwork(2, alpha=0.25)
    model.build()
    step = TrainingStep(model, PerceptualLoss(config=FAST_LOSS),
                        lambda ids: (ids, _grey_styles(ids)), num_styles=2,
                        learning_rate=1e-3, jit_compile=jit_compile)
    photos = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    ids = np.array([0, 1])
    # Only a function compiled by XLA has an XLA program (HLO) of its whole step.
    if jit_compile:
        hlo = step._step.experimental_get_compiler_ir(photos, ids)(stage="hlo")
        assert "convolution" in hlo
    else:
        with pytest.raises(ValueError, match="jit_compile"):
            step._step.experimental_get_compiler_ir(photos, ids)
