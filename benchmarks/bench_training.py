"""Training step time: this project against pytorch/examples, options, conditioning, input pipeline.

    python benchmarks/bench_training.py            # the full run (about 25 minutes on 2 busy cores)
    python benchmarks/bench_training.py --quick    # 32 px, 1 repetition: a smoke test
    python benchmarks/bench_training.py --parts speed,data

Parts (all by default):

- speed: one training step (forward and backward through the transformer and
  VGG-16 up to relu4_3, an Adam update) at 256 px, batch 4 and 8, alpha 1.0:
  `style_transfer.training.step.TrainingStep` with a `PerceptualLoss` set up like
  pytorch/examples (max pooling, content relu2_2, Gram / (C H W)) against
  `benchmarks/torch_training_step.TorchTrainingStep`, with as many PyTorch
  threads as TensorFlow's intra-op pool, in one process, in interleaved rounds.
- options: at 256 px, batch 4: XLA (`jit_compile=True`), a `mixed_bfloat16`
  network and loss network, and the step fed by `data.content_dataset` (decoded
  on the fly, prefetched) instead of a constant batch. All start from the same
  weights and see the same batches, so the losses of their steps are compared
  with float32's (relative difference).
- conditioning: 1 style against 32 styles (128 px, batch 4), interleaved; the
  ratio is the median over rounds of N=32 / N=1 time in the same round.
- data: batches per second of iterating `data.content_dataset` over a folder of
  photos (256 px, batch 4): decoded on the fly, cached in memory, and one
  constant batch, against the training step rate measured in `speed`.

Both networks and losses have random weights (seeded): no ImageNet weights are
downloaded, and speed does not depend on the values. Prints markdown tables and
writes the raw times to RESULTS_DIR/training.json.
"""

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import preamble  # noqa: E402

# PyTorch's OpenMP threads busy-wait between parallel regions; on a machine shared with
# other jobs that made its step 5-15x slower (they spin while the thread they wait
# for is descheduled). Passive waiting is the fair setting there; on a quiet machine
# pass OMP_WAIT_POLICY=ACTIVE to measure PyTorch's default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

STYLE_IMAGE = "mosaic.jpg"  # pytorch/examples' own style, in --data-dir's styles/
PARTS = ("speed", "options", "conditioning", "data")

FULL = {
    "size_px": 256, "batch_sizes": (4, 8), "warmup": 1, "repetitions": 3,
    "options_size_px": 256, "options_repetitions": 2, "with_xla": True,
    "conditioning_size_px": 128, "conditioning_repetitions": 7,
    "many_styles": 32, "data_batches": 40,
}
QUICK = {
    "size_px": 32, "batch_sizes": (2,), "warmup": 1, "repetitions": 1,
    "options_size_px": 32, "options_repetitions": 1, "with_xla": False,
    "conditioning_size_px": 32, "conditioning_repetitions": 1,
    "many_styles": 4, "data_batches": 3,
}


def loss_config_like_pytorch_examples(style_size):
    """pytorch/examples' loss on VGG-16 (random weights, seed 0): same layers, same formulas."""
    from style_transfer.training.config import LossConfig

    return LossConfig(
        vgg="vgg16", vgg_weights="random", pooling="max", content_layer="block2_conv2",
        style_layers=("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"),
        content_weight=1e5, style_layer_weights=(1e10,) * 4, gram_divides_channels=True,
        style_size=style_size, random_seed=0,
    )


def style_pixels(config, size_px):
    from style_transfer.base import images

    return images.load_image(config["style_dir"] / STYLE_IMAGE, max_size=size_px)


def content_batch(config, size_px, batch_size):
    """One batch of real photo crops (batch, S, S, 3) in [0, 1], the same for every step."""
    from style_transfer.training import data

    dataset = data.content_dataset(config["content_dir"], size_px, batch_size, seed=0,
                                   cache=True)
    return next(iter(dataset)).numpy()


def keras_training_step(style, num_styles, size_px, dtype_policy="float32", jit_compile=False,
                        initial_weights=None):
    """A `TrainingStep` on a fresh network (seed 0) and its loss; returns (step, model)."""
    import keras

    from style_transfer.models.network import StyleTransferNetwork
    from style_transfer.training.losses import PerceptualLoss, build_loss_network
    from style_transfer.training.step import TrainingStep

    config = loss_config_like_pytorch_examples(size_px)
    loss = PerceptualLoss([style] * num_styles, config)
    keras.config.set_dtype_policy(dtype_policy)
    try:
        keras.utils.set_random_seed(0)
        model = StyleTransferNetwork(num_styles, alpha=1.0)
        model.build()
        if dtype_policy != "float32":
            # PerceptualLoss adds a content loss in the features' dtype to a float32
            # style loss, which fails for bfloat16 features: hand it float32 features
            # of a loss network that computes in `dtype_policy` (same seeded weights).
            loss.network = _Float32Features(build_loss_network(config))
    finally:
        keras.config.set_dtype_policy("float32")
    if initial_weights is not None:
        model.set_weights(initial_weights)
    step = TrainingStep(model, loss, lambda style_ids: (style_ids, style_ids),
                        num_styles=num_styles, learning_rate=1e-3, jit_compile=jit_compile)
    return step, model


class _Float32Features:
    """A loss network whose feature maps are cast to float32."""

    def __init__(self, network):
        self.network = network

    def __call__(self, images):
        import keras

        return {name: keras.ops.cast(features, "float32")
                for name, features in self.network(images).items()}


def recording(step, batches, style_ids, losses):
    """A callable running `step` on the next of `batches`, appending the mean total loss."""

    def run():
        _, result = step(next(batches), style_ids)
        losses.append(float(np.mean(result["total"].numpy())))

    return run


def constant(batch):
    while True:
        yield batch


def tensorflow_threads():
    import tensorflow as tf

    configured = tf.config.threading.get_intra_op_parallelism_threads()
    return configured or os.cpu_count()


def summary_row(name, samples_ms, extra=""):
    from benchmarks.timing import summarize

    stats = summarize(samples_ms)
    return (f"| {name} | {stats['median_ms'] / 1e3:.2f} | {stats['min_ms'] / 1e3:.2f}-"
            f"{stats['max_ms'] / 1e3:.2f} | {extra} |")


def run_speed(config, results):
    import torch

    from benchmarks.timing import time_interleaved
    from benchmarks.torch_training_step import TorchTrainingStep

    size = config["size_px"]
    threads = tensorflow_threads()
    torch.set_num_threads(threads)
    print(f"\n### Training step, this project (TensorFlow) against pytorch/examples (PyTorch), "
          f"{size} px, alpha 1.0\n")
    print(f"TensorFlow intra-op threads {threads}, torch.set_num_threads({threads}); "
          f"{config['warmup']} warm-up + {config['repetitions']} timed steps each, interleaved; "
          f"seconds per step, median and min-max.\n")
    print("| step | batch | s per step (median) | min-max s | images per s | "
          "PyTorch / ours time |")
    print("| --- | --- | ---: | --- | ---: | ---: |")
    results["speed"] = {}
    for batch_size in config["batch_sizes"]:
        batch = content_batch(config, size, batch_size)
        ours, _ = keras_training_step(style_pixels(config, size), 1, size)
        ids = np.zeros(batch_size, "int32")
        reference = TorchTrainingStep(style_pixels(config, size), batch_size)
        torch_batch = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous() * 255.0
        losses = {"ours": [], "pytorch": []}
        samples = time_interleaved({
            "ours": recording(ours, constant(batch), ids, losses["ours"]),
            "pytorch": lambda: losses["pytorch"].append(reference(torch_batch)),
        }, config["repetitions"], config["warmup"])
        ours_s = np.median(samples["ours"]) / 1e3
        torch_s = np.median(samples["pytorch"]) / 1e3
        paired = np.divide(samples["pytorch"], samples["ours"])
        for name, label in (("ours", "this project"), ("pytorch", "pytorch/examples")):
            median_s = np.median(samples[name]) / 1e3
            ratio = (f"**{torch_s / ours_s:.2f}** (per round {paired.min():.2f}-"
                     f"{paired.max():.2f})" if name == "ours" else "")
            print(f"| {label} | {batch_size} | {median_s:.2f} | "
                  f"{min(samples[name]) / 1e3:.2f}-{max(samples[name]) / 1e3:.2f} | "
                  f"{batch_size / median_s:.2f} | {ratio} |")
        results["speed"][batch_size] = {"samples_ms": samples, "losses": losses}
        del ours, reference


def run_options(config, results):
    """Float32 against XLA, mixed bfloat16 and a dataset-fed step, from the same weights."""
    from benchmarks.timing import time_interleaved
    from style_transfer.training import data

    size, batch_size = config["options_size_px"], config["batch_sizes"][0]
    batch = content_batch(config, size, batch_size)
    ids = np.zeros(batch_size, "int32")
    style = style_pixels(config, size)
    baseline, model = keras_training_step(style, 1, size)
    weights = model.get_weights()
    variants = {"float32 (default)": baseline}
    compile_s = {}
    if config["with_xla"]:
        variants["XLA (jit_compile=True)"], _ = keras_training_step(
            style, 1, size, jit_compile=True, initial_weights=weights)
    variants["mixed_bfloat16"], _ = keras_training_step(
        style, 1, size, dtype_policy="mixed_bfloat16", initial_weights=weights)
    variants["float32, fed by content_dataset"], _ = keras_training_step(
        style, 1, size, initial_weights=weights)
    feeds = {name: constant(batch) for name in variants}
    feeds["float32, fed by content_dataset"] = iter(
        data.content_dataset(config["content_dir"], size, batch_size, seed=0, cache=False))
    losses = {name: [] for name in variants}
    steps = {}
    for name, step in variants.items():
        run = recording(step, feeds[name], ids, losses[name])

        def first_call_timed(run=run, name=name):
            start = time.perf_counter()
            run()
            compile_s.setdefault(name, time.perf_counter() - start)

        steps[name] = first_call_timed
    samples = time_interleaved(steps, config["options_repetitions"], config["warmup"])
    print(f"\n### Training step options, {size} px, batch {batch_size}, alpha 1.0\n")
    print(f"{config['warmup']} warm-up + {config['options_repetitions']} timed steps each, "
          f"interleaved. Every variant starts from the same weights and (except the "
          f"dataset-fed one) sees "
          f"the same batch, so its loss at each step is compared with float32's.\n")
    print("| option | s per step (median) | min-max s | first step s (compiles) | "
          "max relative loss difference vs float32 |")
    print("| --- | ---: | --- | ---: | ---: |")
    reference = np.array(losses["float32 (default)"])
    results["options"] = {}
    for name in variants:
        if name.endswith("content_dataset"):
            difference = "n/a (other batches)"
        else:
            relative = np.abs(np.array(losses[name]) - reference) / np.abs(reference)
            difference = f"{relative.max():.2%}"
        stats_row = summary_row(name, samples[name], f"{compile_s[name]:.1f} | {difference}")
        print(stats_row)
        results["options"][name] = {"samples_ms": samples[name], "losses": losses[name],
                                    "first_step_s": compile_s[name]}


def run_conditioning(config, results):
    from benchmarks.timing import time_interleaved
    from style_transfer.training.step import draw_style_ids

    size, batch_size, many = config["conditioning_size_px"], 4, config["many_styles"]
    batch = content_batch(config, size, batch_size)
    steps = {}
    for num_styles in (1, many):
        step, _ = keras_training_step(style_pixels(config, size), num_styles, size)
        ids = draw_style_ids(0, 0, batch_size, num_styles).numpy()
        steps[num_styles] = recording(step, constant(batch), ids, [])
    samples = time_interleaved(steps, config["conditioning_repetitions"], config["warmup"])
    paired = np.divide(samples[many], samples[1])
    q1, median, q3 = np.percentile(paired, [25, 50, 75])
    print(f"\n### Conditioning cost: 1 style against {many} styles, {size} px, batch "
          f"{batch_size}\n")
    print(f"{config['warmup']} warm-up + {config['conditioning_repetitions']} timed steps "
          f"each, interleaved; ratio = median over rounds of N={many} / N=1 time "
          f"in the same round (IQR).\n")
    print("| styles N | s per step (median) | min-max s | ratio to N=1 |")
    print("| --- | ---: | --- | ---: |")
    print(summary_row("1", samples[1], ""))
    print(summary_row(str(many), samples[many], f"**{median:.3f}** ({q1:.3f}-{q3:.3f})"))
    results["conditioning"] = {"samples_ms": {str(k): v for k, v in samples.items()},
                               "ratio_median": float(median)}


def batches_per_second(dataset, batches, warmup=3):
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator).numpy()
    return batches / (time.perf_counter() - start)


def run_data(config, results):
    import tensorflow as tf

    from style_transfer.training import data

    size, batch_size = config["size_px"], config["batch_sizes"][0]
    num_photos = len([p for p in config["content_dir"].iterdir() if p.is_file()])
    sources = {
        "decoded on the fly (cache=False)": data.content_dataset(
            config["content_dir"], size, batch_size, seed=0, cache=False),
        "cached in memory (cache=True)": data.content_dataset(
            config["content_dir"], size, batch_size, seed=0, cache=True),
        "one constant batch": tf.data.Dataset.from_tensors(
            tf.constant(content_batch(config, size, batch_size))).repeat().prefetch(2),
    }
    step_s = None
    if "speed" in results and batch_size in results["speed"]:
        step_s = np.median(results["speed"][batch_size]["samples_ms"]["ours"]) / 1e3
    content_dir = config["content_dir"]
    print(f"\n### Input pipeline, {content_dir} ({num_photos} photos), {size} px, batch "
          f"{batch_size}\n")
    print(f"{config['data_batches']} batches timed after 3 warm-up batches, iterating the "
          f"dataset alone (no training).\n")
    print("| source | batches per s | headroom over the training step rate |")
    print("| --- | ---: | ---: |")
    results["data"] = {}
    for name, dataset in sources.items():
        rate = batches_per_second(dataset, config["data_batches"])
        headroom = f"{rate * step_s:.0f}x" if step_s else "n/a (run the speed part)"
        print(f"| {name} | {rate:.1f} | {headroom} |")
        results["data"][name] = rate
    if step_s:
        print(f"| training step (this project, speed part) | {1 / step_s:.3f} | 1x |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="32 px, 1 repetition (smoke test)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default {','.join(PARTS)})")
    preamble.add_data_dir_argument(parser)
    preamble.add_results_dir_argument(parser, "training.json")
    parser.add_argument("--options-size", type=int, default=None, metavar="PX",
                        help="image side of the options part (default 256; --quick: 32)")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}.")
    content_dir, style_dir = preamble.data_folders(parser, args)
    config = {**(QUICK if args.quick else FULL), "content_dir": content_dir,
              "style_dir": style_dir}
    if args.options_size:
        config["options_size_px"] = args.options_size

    from benchmarks.machine import print_machine

    print_machine("machine (training benchmark)")
    print("- weights: random (VGG-16 seed 0, transformer seed 0); no ImageNet weights")
    results = {"config": config}
    runners = {"speed": run_speed, "options": run_options,
               "conditioning": run_conditioning, "data": run_data}
    for part in PARTS:
        if part in parts:
            runners[part](config, results)
            print(f"(load average after {part}: {os.getloadavg()[0]:.2f})", flush=True)
    preamble.write_json(preamble.results_folder(args) / "training.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
