"""Style as augmentation: the RandomStyle layer's cost, and stylize-dataset on Beam's DirectRunner.

1. The layer (`style_transfer.augment.RandomStyle`, android-26, 224 px): images per
   second of the layer alone (a tf.function, and compiled by XLA as Keras's `fit`
   compiles a training step on TensorFlow), and a training step of MobileNetV3Small
   (random weights, 10 classes) at the same batch with and without the layer in front,
   interleaved.
2. The dataset command (`style_transfer.datasets.run.stylize_dataset`, Beam's
   DirectRunner) against the plain stylize loop over the same files (load, paint with
   the same drawn style and strength, save), at 256 and 512 px: images per second of
   each, whole runs (model loading included), interleaved, and whether the two give
   the same files bit for bit.

Prints tables (with the machine and its load); writes RESULTS_DIR/augment.json.

    python benchmarks/bench_augment.py [--quick] [--only layer|dataset] [--data-dir DIR]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import preamble  # noqa: E402  (first: before TensorFlow is imported)
from benchmarks.machine import load_average, machine_lines, print_machine  # noqa: E402
from benchmarks.timing import summarize, time_interleaved  # noqa: E402

import numpy as np  # noqa: E402

MODEL = "android-26"
LAYER_SIZE_PX = 224
CLASSES = 10


def layer_benchmark(batch, repetitions):
    import keras
    import tensorflow as tf

    from style_transfer.augment import RandomStyle

    layer = RandomStyle(MODEL, concentration=0.0, strength=(0.5, 1.0), seed=0)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch, LAYER_SIZE_PX, LAYER_SIZE_PX, 3)).astype("float32")
    labels = rng.integers(0, CLASSES, batch)

    def classifier(with_layer):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((LAYER_SIZE_PX, LAYER_SIZE_PX, 3))
        x = layer(inputs) if with_layer else inputs
        backbone = keras.applications.MobileNetV3Small(
            input_shape=(LAYER_SIZE_PX, LAYER_SIZE_PX, 3), weights=None, classes=CLASSES,
            include_preprocessing=True)
        model = keras.Model(inputs, backbone(x))
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    plain, augmented = classifier(False), classifier(True)
    paint = tf.function(lambda x: layer(x, training=True))
    paint_xla = tf.function(lambda x: layer(x, training=True), jit_compile=True)
    steps = {
        "layer alone (tf.function)": lambda: paint(images).numpy(),
        "layer alone (XLA, as in fit)": lambda: paint_xla(images).numpy(),
        "MobileNetV3Small step": lambda: plain.train_on_batch(images, labels),
        "layer + MobileNetV3Small step": lambda: augmented.train_on_batch(images, labels),
    }
    samples = time_interleaved(steps, repetitions, warmup=2)
    rows = {name: {**summarize(times), "images_per_s": batch / (np.median(times) / 1e3)}
            for name, times in samples.items()}
    return {"batch": batch, "size_px": LAYER_SIZE_PX, "load_average": load_average(),
            "rows": rows}


def source_photos(data_dir, count, size, folder):
    """`count` distinct square photos of `size` px under folder/classN/ (PNG): crops and flips
    of the data folder's photos, or of scikit-image's when there is none."""
    from style_transfer.base import images

    if (Path(data_dir) / "content").is_dir():
        bases = [images.load_image(path) for path in images.find_images(Path(data_dir) / "content")]
    else:
        bases = [images.sample_photo(name) for name in ("astronaut", "chelsea", "coffee")]
    rng = np.random.default_rng(size)
    for index in range(count):
        base = bases[index % len(bases)]
        side = min(base.shape[:2])
        crop = int(side * rng.uniform(0.6, 1.0))
        top = rng.integers(0, base.shape[0] - crop + 1)
        left = rng.integers(0, base.shape[1] - crop + 1)
        picture = images.resize(base[top:top + crop, left:left + crop], (size, size))
        if index % 2:
            picture = picture[:, ::-1]
        images.save_image(picture, folder / f"class{index % 4}" / f"photo{index:04d}.png")


def plain_loop(source, out, config):
    """The stylize loop: each file loaded, painted as `stylize` paints it, saved."""
    from style_transfer.base import images
    from style_transfer.datasets import jobs
    from style_transfer.models.loading import load_style_model
    from style_transfer.painting.stylize import stylize_many

    model = load_style_model(config.model)
    root, paths = jobs.list_inputs(source)
    for relative in paths:
        photo = images.load_image(root / relative, max_size=config.max_size)
        for copy in range(config.copies):
            weights, strength = jobs.draw_style(config, model.style_names, relative, copy)
            picture = stylize_many(model, photo, [weights], strength=strength,
                                   preserve_color=config.preserve_color)[0]
            images.save_image(picture, Path(out) / jobs.output_name(relative, copy,
                                                                    config.format),
                              overwrite=True)
    return len(paths) * config.copies


def same_files(plain_out, beam_out):
    """Whether every picture of the plain loop is in Beam's output, byte for byte."""
    pictures = sorted(path for path in Path(plain_out).rglob("*.png"))
    return bool(pictures) and all(
        (Path(beam_out) / path.relative_to(plain_out)).read_bytes() == path.read_bytes()
        for path in pictures)


def dataset_benchmark(data_dir, size, count, rounds, workspace):
    from style_transfer.datasets.config import DatasetConfig
    from style_transfer.datasets.run import stylize_dataset

    source = workspace / f"photos{size}"
    source_photos(data_dir, count, size, source)
    config = DatasetConfig(model=MODEL, concentration=0.0, strength=(0.5, 1.0), seed=0)
    times = {"plain stylize loop": [], "stylize-dataset (Beam DirectRunner)": []}
    identical = []
    for round_index in range(rounds):
        outs = {}
        order = list(times) if round_index % 2 == 0 else list(times)[::-1]
        for name in order:
            out = workspace / f"out{size}_{round_index}_{len(outs)}"
            started = time.perf_counter()
            if name.startswith("plain"):
                plain_loop(source, out, config)
            else:
                stylize_dataset(source, out, config)
            times[name].append(time.perf_counter() - started)
            outs[name] = out
        identical.append(same_files(*outs.values()))
        for out in outs.values():
            shutil.rmtree(out)
    rows = {name: {"median_s": float(np.median(seconds)), "seconds": seconds,
                   "images_per_s": count / float(np.median(seconds))}
            for name, seconds in times.items()}
    plain, beam = rows.values()
    return {"size_px": size, "images": count, "rounds": rounds, "rows": rows,
            "beam_over_plain": beam["images_per_s"] / plain["images_per_s"],
            "same_files_bit_for_bit": all(identical), "load_average": load_average()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: few images")
    preamble.add_data_dir_argument(parser)
    preamble.add_results_dir_argument(parser, "augment.json")
    parser.add_argument("--only", choices=("layer", "dataset"), default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    print_machine()
    results = {"machine": machine_lines()}
    if args.only in (None, "layer"):
        layer = layer_benchmark(batch=8 if args.quick else 32, repetitions=2 if args.quick else 7)
        results["layer"] = layer
        print(f"\n## RandomStyle({MODEL}) at {layer['size_px']} px, batch {layer['batch']} "
              f"(load {layer['load_average']})\n")
        print("| step | median ms | images/s |\n| --- | ---: | ---: |")
        for name, row in layer["rows"].items():
            print(f"| {name} | {row['median_ms']:.0f} | {row['images_per_s']:.1f} |")
    if args.only in (None, "dataset"):
        results["dataset"] = []
        with tempfile.TemporaryDirectory(prefix="bench-augment-") as workspace:
            for size, count in ((256, 24 if args.quick else 300), (512, 8 if args.quick else 100)):
                row = dataset_benchmark(args.data_dir, size, count, 1 if args.quick else 3,
                                        Path(workspace))
                results["dataset"].append(row)
        print("\n## stylize-dataset against the plain stylize loop (whole runs, model loading "
              "included)\n")
        print("| px | images | plain loop images/s | Beam DirectRunner images/s | Beam / plain "
              "| same files | load |\n| ---: | ---: | ---: | ---: | ---: | --- | --- |")
        for row in results["dataset"]:
            plain, beam = row["rows"].values()
            print(f"| {row['size_px']} | {row['images']} | {plain['images_per_s']:.1f} | "
                  f"{beam['images_per_s']:.1f} | {row['beam_over_plain']:.0%} | "
                  f"{'bit for bit' if row['same_files_bit_for_bit'] else 'DIFFERENT'} | "
                  f"{row['load_average']} |")
    preamble.write_json(preamble.results_folder(args) / "augment.json", results)


if __name__ == "__main__":
    main()
