"""The papers' claims, measured on a proxy set-up a CPU affords (64 px, alpha 0.25, random VGG-16).

    python benchmarks/bench_fidelity.py            # the full run (about 15 minutes on 2 quiet cores)
    python benchmarks/bench_fidelity.py --quick    # 32 px, a few steps: a smoke test

(a) One network trained on 4 styles (Dumoulin et al. 2017) against 4 single-style
    networks, at equal total steps (each single network gets 1/4 of the steps) and
    at equal steps per style (each gets as many steps as the 4-style network): the
    final style and content loss of each style on fixed evaluation photos, and the
    ratio 4-style / single.
(b) Convex blends of two styles in the 4-style network, weight 0, 0.1, ..., 1: the
    style loss against each of the two styles should move monotonically.
(c) Batch normalization (Ioffe & Szegedy 2015) on scikit-learn's digits: the sigmoid
    MLP of notebooks/01_conditional_normalization.ipynb (3 x 64 units, SGD 0.5,
    batch 64) with and without BN: iterations until the accuracy on the whole
    training set (inference mode) reaches 95%, over several seeds.

The set-up is the same for every run: content photos from ../shared/data/content
(crops for training, the centre squares for evaluation), styles wave, udnie, mosaic
and red_texture_sq from ../shared/data/styles, Magenta's loss (`LossConfig()`)
on a VGG-16 with random weights (seed 0), Adam 2e-3, batch 4, seed 0. Random VGG
features are not ImageNet features: the losses are a proxy for the paper's, and
the pictures are not good stylizations. Writes RESULTS_DIR/fidelity.json and
RESULTS_DIR/fidelity_blend.png, RESULTS_DIR/fidelity_bn_digits.png.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

from benchmarks import preamble  # noqa: E402

STYLE_FILES = ("wave.jpg", "udnie.jpg", "mosaic.jpg", "red_texture_sq.jpg")
LEARNING_RATE = 2e-3
BATCH_SIZE = 4
SEED = 0

FULL = {"image_size": 64, "alpha": 0.25, "steps": 300, "blend_steps": 11,
        "bn_seeds": (1, 2, 3, 4, 5), "bn_max_iterations": 1500}
QUICK = {"image_size": 32, "alpha": 0.25, "steps": 4, "blend_steps": 3,
         "bn_seeds": (1,), "bn_max_iterations": 30}

# notebooks/01_conditional_normalization.ipynb, part 1.
DIGITS_HIDDEN_UNITS = 64
DIGITS_HIDDEN_LAYERS = 3
DIGITS_LEARNING_RATE = 0.5
DIGITS_BATCH_SIZE = 64
TARGET_ACCURACY = 0.95


def loss_config():
    from style_transfer.training.config import LossConfig

    return LossConfig(vgg_weights="random", random_seed=0)


def train_network(style_ids_in_loss, steps, config, loss):
    """Trains a fresh network on some of `loss`'s styles; returns it.

    The loop of `training.train` (same seeded initial weights, crops and per-sample
    style draws) without its run folder, logs and checkpoints, and with one loss
    network shared by every run: the model's style i is the loss's style
    `style_ids_in_loss[i]`.
    """
    import keras
    import tensorflow as tf

    from style_transfer.models.network import StyleTransferNetwork
    from style_transfer.training import data
    from style_transfer.training.step import TrainingStep, draw_style_ids

    keras.utils.set_random_seed(SEED)
    model = StyleTransferNetwork(len(style_ids_in_loss), alpha=config["alpha"])
    model.build()
    loss_ids = tf.constant(style_ids_in_loss, tf.int32)
    step = TrainingStep(model, loss, lambda model_ids: (model_ids, tf.gather(loss_ids, model_ids)),
                        num_styles=len(style_ids_in_loss), learning_rate=LEARNING_RATE)
    batches = iter(data.content_dataset(config["content_dir"], config["image_size"], BATCH_SIZE,
                                        seed=SEED))
    for index in range(steps):
        step(next(batches), draw_style_ids(SEED, index, BATCH_SIZE, len(style_ids_in_loss)))
    return model


def evaluation_photos(content_dir, size):
    """The centre square of every content photo, `size` px: (num_photos, size, size, 3)."""
    from style_transfer.base import images

    paths = images.find_images(content_dir)
    return np.stack([images.center_square(images.load_image(path), size) for path in paths])


def evaluation_loss(style_paths):
    """The loss of every run: a `PerceptualLoss` over all the styles, loaded as
    `training.train` loads them."""
    from style_transfer.base import images
    from style_transfer.base.errors import RandomWeightsWarning
    from style_transfer.training.losses import PerceptualLoss

    config = loss_config()
    pixels = [images.load_image(path, max_size=2 * config.style_size) for path in style_paths]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)  # Said in BENCHMARKS.md.
        return PerceptualLoss(pixels, config)


def losses_of(model, condition, photos, loss, style_id):
    """Mean content and style loss of `model(photos, condition)` against style `style_id`."""
    import keras

    stylized = model(photos, condition)
    ids = np.full(len(photos), style_id, "int32")
    parts = loss(photos, stylized, ids)
    return {part: float(np.mean(keras.ops.convert_to_numpy(parts[part])))
            for part in ("content", "style")}


def run_multi_against_single(config, results):
    style_paths = [config["style_dir"] / name for name in STYLE_FILES]
    steps = config["steps"]
    loss = evaluation_loss(style_paths)
    started = time.perf_counter()
    models = {"4-style": train_network(list(range(len(style_paths))), steps, config, loss)}
    for index in range(len(style_paths)):
        models[f"single {index} equal total"] = train_network(
            [index], max(1, steps // len(style_paths)), config, loss)
        models[f"single {index} equal per style"] = train_network([index], steps, config, loss)
    training_s = time.perf_counter() - started
    photos = evaluation_photos(config["content_dir"], config["image_size"])
    rows = []
    for index, path in enumerate(style_paths):
        ids = np.full(len(photos), index, "int32")
        zeros = np.zeros(len(photos), "int32")
        row = {"style": path.stem,
               "photo": {"style": float(np.mean(np.asarray(
                   loss(photos, photos, ids)["style"])))},
               "4-style": losses_of(models["4-style"], ids, photos, loss, index),
               "equal total": losses_of(models[f"single {index} equal total"], zeros, photos,
                                        loss, index),
               "equal per style": losses_of(models[f"single {index} equal per style"], zeros,
                                            photos, loss, index)}
        rows.append(row)
    per_single_total = max(1, steps // len(style_paths))
    print("\n### (a) One 4-style network against 4 single-style networks\n")
    print(f"{config['image_size']} px, alpha {config['alpha']}, batch {BATCH_SIZE}, Adam "
          f"{LEARNING_RATE}, random VGG-16 (seed 0), Magenta's loss (content relu3_3 x 1, style "
          f"relu1_2..relu4_3 x 1e-4, Gram / HW). The 4-style network trains {steps} steps "
          f"(about {steps // len(style_paths)} per style); single networks train "
          f"{per_single_total} steps (equal total) or {steps} steps (equal per style). "
          f"Losses: mean over the centre squares of the {len(photos)} content photos. "
          f"Training took {training_s / 60:.1f} min.\n")
    print("| style | photo unchanged: style | 4-style: style | single, equal total: style | "
          "single, equal per style: style | 4-style / equal total (style) | "
          "4-style / equal per style (style) | 4-style: content | equal total: content | "
          "equal per style: content |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        multi, total, per_style = row["4-style"], row["equal total"], row["equal per style"]
        print(f"| {row['style']} | {row['photo']['style']:.4g} | {multi['style']:.4g} | "
              f"{total['style']:.4g} | {per_style['style']:.4g} | "
              f"**{multi['style'] / total['style']:.2f}** | "
              f"**{multi['style'] / per_style['style']:.2f}** | {multi['content']:.4g} | "
              f"{total['content']:.4g} | {per_style['content']:.4g} |")
    geometric = {
        name: float(np.exp(np.mean([np.log(row["4-style"]["style"] / row[name]["style"])
                                    for row in rows])))
        for name in ("equal total", "equal per style")}
    print(f"\nGeometric mean of the style-loss ratio 4-style / single: equal total steps "
          f"**{geometric['equal total']:.2f}**, equal steps per style "
          f"**{geometric['equal per style']:.2f}**.")
    results["multi_against_single"] = {"rows": rows, "geometric_mean_ratio": geometric,
                                       "training_s": training_s}
    return models["4-style"], photos, loss


def run_blends(config, results, model, photos, loss, results_dir):
    first, second = 0, 1
    shares = np.linspace(0.0, 1.0, config["blend_steps"])
    against = {first: [], second: []}
    for share in shares:
        weights = np.zeros((len(photos), model.num_styles), np.float32)
        weights[:, first], weights[:, second] = 1.0 - share, share
        for style in (first, second):
            against[style].append(losses_of(model, weights, photos, loss, style)["style"])
    rising = np.diff(against[first])  # moving away from the first style
    falling = np.diff(against[second])  # moving towards the second
    names = [Path(STYLE_FILES[i]).stem for i in (first, second)]
    print(f"\n### (b) Convex blends of {names[0]} and {names[1]} in the 4-style network\n")
    print(f"Weights (1 - w) {names[0]} + w {names[1]}; style loss (mean over the photos) "
          f"against each of the two styles.\n")
    print(f"| w | style loss vs {names[0]} | style loss vs {names[1]} |")
    print("| ---: | ---: | ---: |")
    for share, to_first, to_second in zip(shares, against[first], against[second]):
        print(f"| {share:.1f} | {to_first:.4g} | {to_second:.4g} |")
    monotonic_first = bool(np.all(rising >= 0))
    monotonic_second = bool(np.all(falling <= 0))
    print(f"\nMonotonic: against {names[0]} non-decreasing **{monotonic_first}** "
          f"({int(np.sum(rising < 0))} of {len(rising)} steps go the other way); against "
          f"{names[1]} non-increasing **{monotonic_second}** ({int(np.sum(falling > 0))} of "
          f"{len(falling)}).")
    results["blends"] = {"shares": shares.tolist(), "against_first": against[first],
                         "against_second": against[second], "styles": names,
                         "monotonic": [monotonic_first, monotonic_second]}
    plot_blends(shares, against[first], against[second], names, results_dir / "fidelity_blend.png")


def plot_blends(shares, to_first, to_second, names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    axis.plot(shares, to_first, "o-", label=f"style loss vs {names[0]}")
    axis.plot(shares, to_second, "s-", label=f"style loss vs {names[1]}")
    axis.set(xlabel=f"blend weight w of {names[1]} (1 - w of {names[0]})", ylabel="style loss",
             yscale="log", title="convex blends in the 4-style network")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    preamble.save_figure(figure, path)


def digits_classifier(batch_norm):
    """The notebook's sigmoid MLP on flattened 8x8 digits, with or without BN."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((8, 8)), layers.Flatten()])
    for _ in range(DIGITS_HIDDEN_LAYERS):
        model.add(layers.Dense(DIGITS_HIDDEN_UNITS, use_bias=not batch_norm))
        if batch_norm:
            model.add(layers.BatchNormalization(momentum=0.9))
        model.add(layers.Activation("sigmoid"))
    model.add(layers.Dense(10))
    model.compile(
        optimizer=keras.optimizers.SGD(DIGITS_LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def iterations_to_target(batch_norm, seed, max_iterations, train_images, train_labels):
    """SGD iterations until training-set accuracy >= 95% (None if never); and the curve."""
    import keras

    keras.utils.set_random_seed(seed)
    model = digits_classifier(batch_norm)
    rng = np.random.default_rng(seed)
    curve = []
    iteration = 0
    while iteration < max_iterations:
        order = rng.permutation(len(train_images))
        for start in range(0, len(order) - DIGITS_BATCH_SIZE + 1, DIGITS_BATCH_SIZE):
            batch = order[start:start + DIGITS_BATCH_SIZE]
            model.train_on_batch(train_images[batch], train_labels[batch])
            iteration += 1
            logits = model.predict_on_batch(train_images)
            curve.append(float(np.mean(np.argmax(logits, axis=1) == train_labels)))
            if curve[-1] >= TARGET_ACCURACY:
                return iteration, curve
            if iteration >= max_iterations:
                break
    return None, curve


def run_batch_norm_digits(config, results, results_dir):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")
    labels = digits.target.astype("int32")
    train_images, _, train_labels, _ = train_test_split(
        images, labels, test_size=0.25, random_state=0, stratify=labels)
    found = {"without BN": [], "with BN": []}
    curves = {}
    for seed in config["bn_seeds"]:
        for name, batch_norm in (("without BN", False), ("with BN", True)):
            iterations, curve = iterations_to_target(
                batch_norm, seed, config["bn_max_iterations"], train_images, train_labels)
            found[name].append(iterations)
            curves.setdefault(name, curve)
    cap = config["bn_max_iterations"]
    print("\n### (c) Batch normalization on scikit-learn's digits\n")
    print(f"The MLP of notebooks/01 (3 x {DIGITS_HIDDEN_UNITS} sigmoid units, SGD "
          f"{DIGITS_LEARNING_RATE}, batch {DIGITS_BATCH_SIZE}, BN momentum 0.9), "
          f"{len(train_images)} training digits; accuracy on the whole training set in "
          f"inference mode after every iteration; seeds {list(config['bn_seeds'])}; at most "
          f"{cap} iterations.\n")
    print("| network | iterations to 95% training accuracy, per seed | median |")
    print("| --- | --- | ---: |")
    for name, values in found.items():
        shown = ", ".join(str(v) if v is not None else f">{cap}" for v in values)
        reached = [v if v is not None else np.inf for v in values]
        median = np.median(reached)
        print(f"| {name} | {shown} | {median:.0f} |" if np.isfinite(median)
              else f"| {name} | {shown} | >{cap} |")
    results["batch_norm_digits"] = {"iterations": found, "max_iterations": cap}
    plot_digits(curves, results_dir / "fidelity_bn_digits.png", config["bn_seeds"][0])


def plot_digits(curves, path, seed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for name, curve in curves.items():
        axis.plot(np.arange(1, len(curve) + 1), curve, label=name)
    axis.axhline(TARGET_ACCURACY, color="grey", linestyle=":", label="95%")
    axis.set(xlabel="SGD iteration", ylabel="training-set accuracy", ylim=(0, 1.02),
             xscale="log", title=f"sigmoid MLP on digits, seed {seed}")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    preamble.save_figure(figure, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="32 px, a few steps (smoke test)")
    preamble.add_data_dir_argument(parser)
    preamble.add_results_dir_argument(parser, "fidelity.json and the plots")
    args = parser.parse_args(argv)
    content_dir, style_dir = preamble.data_folders(parser, args)
    config = {**(QUICK if args.quick else FULL), "content_dir": content_dir,
              "style_dir": style_dir}
    results_dir = preamble.results_folder(args)

    from benchmarks.machine import print_machine

    print_machine("machine (fidelity benchmark)")
    print(f"- content: {content_dir}; styles: {', '.join(STYLE_FILES)} from {style_dir}")
    print("- loss network: VGG-16 with RANDOM weights (seed 0), not ImageNet", flush=True)
    started = time.perf_counter()
    results = {"config": config}
    model, photos, loss = run_multi_against_single(config, results)
    run_blends(config, results, model, photos, loss, results_dir)
    run_batch_norm_digits(config, results, results_dir)
    results["total_s"] = time.perf_counter() - started
    print(f"\nFidelity section: {results['total_s'] / 60:.1f} min (load average now "
          f"{os.getloadavg()[0]:.2f}).")
    preamble.write_json(results_dir / "fidelity.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
