"""Training on several devices and machines with `tf.distribute`, and in mixed precision.

    --distribute none          the default strategy: one device
    --distribute mirrored      `MirroredStrategy`: every local GPU (or, with
                               --cpu-replicas N, N logical devices of one CPU)
    --distribute multi-worker  `MultiWorkerMirroredStrategy`: the cluster in the
                               TF_CONFIG environment variable, one process per machine

TensorFlow does the distributing: variables mirrored on every replica, gradients
summed across replicas by the Keras optimizer, collectives between machines. This
module only picks the strategy from a config, checks the set-up before any work
(one line each: a malformed TF_CONFIG, multi-worker without one, a batch that does
not split evenly, logical CPUs on a machine that uses its GPUs) and shards the input:
each worker crops only its own samples of each global batch (`batches`), and, from a
folder too large to keep decoded in memory, decodes only their photos.

Only the chief (`is_chief`) writes the run folder; the others train the same
variables and write nothing.

`--mixed-precision` builds the networks under a Keras mixed dtype policy
(`dtype_policy`): float16 on GPUs, whose tensor cores it speeds up (the training
step then scales the loss, `TrainingStep`), bfloat16 on CPUs, where float16 is
slow; bfloat16 has float32's range and needs no loss scaling. Variables, normalization statistics
and losses stay float32.
"""

import contextlib
import functools
import os

import keras
import tensorflow as tf

from style_transfer.base.errors import BadInput
from style_transfer.base.json_text import parse_json
from style_transfer.training import data
from style_transfer.training.step import draw_style_ids

TF_CONFIG = "TF_CONFIG"
# The task types of a TF_CONFIG cluster that train (an "evaluator" would not).
_TRAINING_TASKS = ("chief", "worker")


def strategy_for(config, strategy=None):
    """The `tf.distribute.Strategy` that `config` asks for, or `strategy` if given.

    Args:
        config: A run config with `distribute` and `cpu_replicas`.
        strategy: Any `tf.distribute.Strategy` (the Python API's way to pass one
            of your own); then `config.distribute` must be "none".

    Raises:
        BadInput: `strategy` together with `config.distribute`; a missing or
            malformed TF_CONFIG for "multi-worker"; `cpu_replicas` on a machine
            with GPUs, or after TensorFlow has started with another number of
            logical CPUs.
    """
    if strategy is not None:
        if not isinstance(strategy, tf.distribute.Strategy):
            raise BadInput(f"strategy must be a tf.distribute.Strategy; received "
                           f"{type(strategy).__name__}.")
        if config.distribute != "none":
            raise BadInput(f"pass either a strategy or distribute={config.distribute!r}, "
                           f"not both.")
        return strategy
    if config.distribute == "none":
        return tf.distribute.get_strategy()
    if config.distribute == "multi-worker":
        check_tf_config(os.environ.get(TF_CONFIG))
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = None if config.cpu_replicas is None else tuple(split_cpu(config.cpu_replicas))
    return _mirrored_strategy(devices)


@functools.lru_cache(maxsize=None)
def _mirrored_strategy(devices):
    """One `MirroredStrategy` per set of devices (None: every GPU) for the whole process.

    A second `MirroredStrategy` on the same devices numbers its collective operations from
    where the first one started, and its first all-reduce then meets the first run's
    cached operation of another shape ("Shape mismatch in the collective instance"): a
    second run in one process (the Python API, a notebook) reuses the first one's."""
    return tf.distribute.MirroredStrategy(None if devices is None else list(devices))


def check_tf_config(text):
    """Refuses a TF_CONFIG that `MultiWorkerMirroredStrategy` could not use.

    Expected: {"cluster": {"worker": ["host:port", ...]}, "task": {"type":
    "worker", "index": i}}, with an optional "chief" list of one address.
    """
    example = ('expected e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}')
    if not text:
        raise BadInput(f"`distribute` multi-worker reads the cluster from the {TF_CONFIG} "
                       f"environment variable, which is not set; {example}.")
    try:
        parsed = parse_json(text, TF_CONFIG)
    except BadInput as error:
        raise BadInput(f"{str(error).rstrip('.')}; {example}.") from None
    cluster = parsed.get("cluster") if isinstance(parsed, dict) else None
    task = parsed.get("task") if isinstance(parsed, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise BadInput(f"{TF_CONFIG} needs a \"cluster\" and a \"task\" object; {example}.")
    for task_type, addresses in cluster.items():
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(address, str) and ":" in address
                           for address in addresses)):
            raise BadInput(f"{TF_CONFIG}: cluster[{task_type!r}] must be a list of "
                           f"\"host:port\" addresses; received {addresses!r}.")
    if not any(task_type in cluster for task_type in _TRAINING_TASKS):
        raise BadInput(f"{TF_CONFIG}: the cluster has no \"worker\" list; {example}.")
    task_type, index = task.get("type"), task.get("index")
    if task_type not in _TRAINING_TASKS or task_type not in cluster:
        raise BadInput(f"{TF_CONFIG}: task type {task_type!r} is not one of the cluster's "
                       f"{', '.join(sorted(set(cluster) & set(_TRAINING_TASKS)))}.")
    if (isinstance(index, bool) or not isinstance(index, int)
            or not 0 <= index < len(cluster[task_type])):
        raise BadInput(f"{TF_CONFIG}: task index {index!r} is not an index of "
                       f"cluster[{task_type!r}] (0 to {len(cluster[task_type]) - 1}).")


def split_cpu(num_replicas):
    """Splits the CPU into `num_replicas` logical devices; returns their names.

    TensorFlow fixes its devices when it first uses them, so this must run before
    anything touches a tensor (the command line calls it first).
    """
    if tf.config.list_physical_devices("GPU"):
        raise BadInput("`cpu_replicas` splits the CPU, but TensorFlow uses this machine's "
                       "GPUs; use `distribute` mirrored without `cpu_replicas`, or hide the "
                       "GPUs (CUDA_VISIBLE_DEVICES=\"\").")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * num_replicas)
    except RuntimeError:
        # Already started: fine if it was split the same way.
        if len(tf.config.list_logical_devices("CPU")) != num_replicas:
            raise BadInput(f"cpu_replicas={num_replicas} must be set before TensorFlow "
                           f"starts; this process already uses "
                           f"{len(tf.config.list_logical_devices('CPU'))} logical CPUs.") from None
    return [f"/cpu:{index}" for index in range(num_replicas)]


def check_batch_split(strategy, batch_size):
    """Refuses a global batch that the strategy's replicas cannot share equally."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise BadInput(f"`batch_size` {batch_size} does not split over {replicas} replicas; "
                       f"pass a multiple of {replicas} (`batch_size` is the global batch).")


def check_same_start(strategy, start_step):
    """Refuses workers that resume from different steps: a worker that cannot see the
    chief's checkpoint would otherwise train other weights without an error."""
    steps = tf.function(lambda: strategy.gather(
        strategy.run(lambda: tf.constant([start_step], tf.int64)), axis=0))().numpy()
    if len(set(steps.tolist())) > 1:
        raise BadInput(f"the workers resume from different steps ({sorted(set(steps.tolist()))});"
                       f" every worker must see the run folder (put it on storage they share).")


def is_distributed(strategy):
    """Whether `strategy` is another than TensorFlow's default (one device, no scope)."""
    return strategy is not tf.distribute.get_strategy()


def is_chief(strategy):
    """Whether this process writes the run folder: True except on a non-chief worker."""
    return strategy.extended.should_checkpoint


def batches(strategy, config, start_step, num_styles):
    """The distributed (content images, style ids) of each step from `start_step` + 1 on.

    Sample i of step s is sample s * batch_size + i of `data.content_dataset`'s
    stream, with style `draw_style_ids(seed, s, batch_size)[i]`, whatever the number
    of replicas: each worker keeps its consecutive share of every global batch
    (before decoding), and its replicas take consecutive per-replica batches of it.
    """
    global_batch = config.batch_size

    def worker_dataset(input_context):
        per_worker = global_batch // input_context.num_input_pipelines
        per_replica = input_context.get_per_replica_batch_size(global_batch)
        first_sample = start_step * global_batch + input_context.input_pipeline_id * per_worker
        samples = data.content_dataset(
            config.content_dir, config.image_size, per_replica, seed=config.seed,
            start_sample=first_sample, keep=(per_worker, global_batch), with_sample_index=True)
        return samples.map(lambda sample_index, images: (
            images, _style_ids(sample_index, config.seed, global_batch, num_styles)))

    return iter(strategy.distribute_datasets_from_function(worker_dataset))


@contextlib.contextmanager
def dtype_policy(mixed_precision):
    """Keras's global dtype policy while the run's networks are built, then float32 again.

    Yields the policy's name: "float32", "mixed_float16" (a GPU is visible) or
    "mixed_bfloat16".
    """
    if not mixed_precision:
        yield "float32"
        return
    name = "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield name
    finally:
        keras.config.set_dtype_policy(previous)


def _style_ids(sample_index, seed, global_batch, num_styles):
    # A per-replica batch lies within one step.
    step_styles = draw_style_ids(seed, sample_index[0] // global_batch, global_batch, num_styles)
    return tf.gather(step_styles, sample_index % global_batch)
