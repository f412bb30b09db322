"""Training on two logical CPUs (`--distribute mirrored --cpu-replicas 2`) and in mixed precision.

    python benchmarks/bench_distribute.py            # the full run (about 5 minutes on 2 busy cores)
    python benchmarks/bench_distribute.py --quick    # tiny sizes, 2 repetitions: a smoke test

Three training steps of `style_transfer.training.step.TrainingStep`, each on the same
network (seed 0, two styles), the same loss (Magenta's VGG-16 layers, random weights:
the arithmetic of ImageNet's) and the same global batches (`distribution.batches`
from the shared content photos):

    one device, float32                  the baseline
    2 logical CPUs (mirrored), float32   `MirroredStrategy` over the CPU split in two
    one device, mixed_bfloat16           `--mixed-precision` on a CPU

The steps run interleaved (one step of each per round, `timing.time_interleaved`),
so a busy phase of the shared machine falls on all three. They also train: every
variant takes the same number of steps from the same weights on the same batches,
and the table gives the mean loss over the last steps and the largest relative
difference of its per-step loss from the float32 one-device run.

On a CPU the two logical devices share the same cores: no speed-up is expected,
only the overhead of running the replicas and adding their gradients. On a GPU,
mixed precision uses float16 with loss scaling instead (not measured here).

Prints a markdown table and writes RESULTS_DIR/distribute.json.
"""

import argparse
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # Run as a file: make `benchmarks` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import preamble  # noqa: E402  (first: before TensorFlow is imported)

STYLE_NAMES = ("mosaic.jpg", "udnie.jpg")
REPLICAS = 2
LAST_STEPS = 10

FULL = {"image_size": 128, "batch_size": 4, "alpha": 1.0, "repetitions": 30, "warmup": 3}
QUICK = {"image_size": 32, "batch_size": 2, "alpha": 0.25, "repetitions": 2, "warmup": 1}


def training_step(strategy, settings, mixed_precision, content_dir, style_images):
    """A fresh `TrainingStep` (seed 0) under `strategy`, and its endless batches."""
    import keras

    from style_transfer.models.network import StyleTransferNetwork
    from style_transfer.training import distribution
    from style_transfer.training.config import LossConfig, TrainConfig
    from style_transfer.training.losses import PerceptualLoss
    from style_transfer.training.multi_style import load_style
    from style_transfer.training.step import TrainingStep

    loss_config = LossConfig(vgg_weights="random", style_size=settings["image_size"])
    config = TrainConfig(content_dir=content_dir, style_images=style_images,
                         image_size=settings["image_size"], batch_size=settings["batch_size"],
                         alpha=settings["alpha"], loss=loss_config, seed=0)
    styles = [load_style(path, loss_config) for path in style_images]
    with strategy.scope(), distribution.dtype_policy(mixed_precision):
        loss = PerceptualLoss(styles, loss_config)
        keras.utils.set_random_seed(0)
        model = StyleTransferNetwork(len(styles), alpha=settings["alpha"])
        model.build()
        step = TrainingStep(model, loss, lambda ids: (ids, ids), num_styles=len(styles),
                            learning_rate=1e-3)
    return step, distribution.batches(strategy, config, 0, len(styles))


def recording(step, batches, losses):
    """Runs one step on the next batch and appends its mean total loss."""

    def run():
        _, result = step(*next(batches))
        losses.append(float(np.mean(result["total"].numpy())))

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repetitions")
    preamble.add_data_dir_argument(parser)
    preamble.add_results_dir_argument(parser, "distribute.json (every step's time and loss)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    content_dir, styles_dir = preamble.data_folders(parser, args)
    style_images = [styles_dir / name for name in STYLE_NAMES]

    from style_transfer.base.errors import RandomWeightsWarning
    from style_transfer.training import distribution

    warnings.simplefilter("ignore", RandomWeightsWarning)  # Random VGG weights on purpose.
    devices = distribution.split_cpu(REPLICAS)  # Before TensorFlow starts.
    from benchmarks.machine import print_machine
    from benchmarks.timing import summarize, time_interleaved

    variants = {
        "one device, float32": (tf.distribute.get_strategy(), False),
        f"{REPLICAS} logical CPUs (mirrored), float32": (
            tf.distribute.MirroredStrategy(devices), False),
        "one device, mixed_bfloat16": (tf.distribute.get_strategy(), True),
    }
    losses = {name: [] for name in variants}
    steps = {}
    for name, (strategy, mixed_precision) in variants.items():
        step, batches = training_step(strategy, settings, mixed_precision, content_dir,
                                      style_images)
        steps[name] = recording(step, batches, losses[name])
    samples_ms = time_interleaved(steps, settings["repetitions"], settings["warmup"])

    baseline = next(iter(variants))
    reference = np.array(losses[baseline])
    rows = []
    for name in variants:
        summary = summarize(samples_ms[name])
        history = np.array(losses[name])
        relative = np.abs(history - reference) / np.abs(reference)
        rows.append({
            "variant": name, **summary,
            "steps_per_s": 1e3 / summary["median_ms"],
            "time_ratio": summary["median_ms"] / summarize(samples_ms[baseline])["median_ms"],
            "steps_trained": len(history),
            "mean_loss_last_steps": float(history[-LAST_STEPS:].mean()),
            "relative_loss_difference": {"step_1": float(relative[0]),
                                         "median": float(np.median(relative)),
                                         "max": float(np.max(relative))},
            "losses": history.tolist(),
        })

    print_machine()
    print(f"\n## training step: {settings['image_size']} px, global batch "
          f"{settings['batch_size']}, alpha {settings['alpha']}, 2 styles, VGG-16 loss "
          f"(median of {settings['repetitions']} interleaved steps after "
          f"{settings['warmup']} warm-up)\n")
    print(f"| variant | median ms | q1-q3 ms | steps/s | time vs one device float32 | "
          f"steps trained | mean loss, last {LAST_STEPS} steps | loss vs one device "
          f"float32, relative: step 1 / median step / largest |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        difference = row["relative_loss_difference"]
        print(f"| {row['variant']} | {row['median_ms']:.0f} | {row['q1_ms']:.0f}-"
              f"{row['q3_ms']:.0f} | {row['steps_per_s']:.2f} | {row['time_ratio']:.2f}x | "
              f"{row['steps_trained']} | {row['mean_loss_last_steps']:.4g} | "
              f"{difference['step_1']:.1e} / {difference['median']:.1e} / "
              f"{difference['max']:.1e} |")
    preamble.write_json(preamble.results_folder(args) / "distribute.json",
                        {"settings": settings, "rows": rows})


if __name__ == "__main__":
    main()
