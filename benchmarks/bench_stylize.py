"""Stylize latency and memory: our Keras network on TensorFlow against pytorch/examples' TransformerNet.

    python benchmarks/bench_stylize.py            # the full run (about 30 minutes on 2 CPU cores)
    python benchmarks/bench_stylize.py --quick    # 32 px, 1 repetition, no oneDNN-off run: a smoke test

What is measured, in one process and one run (so on the same machine state):

1. The machine's peak float32 rate: a 2048x2048 matmul on TensorFlow and on PyTorch.
2. Latency of one photo (batch 1, alpha 1.0) at 256, 512, 1024 and 2048 px square:
   `style_transfer.painting.stylize.run_network` (the default compiled function) against
   `benchmarks/torch_transformer_net.TransformerNet` under `torch.inference_mode()`,
   with as many PyTorch threads as TensorFlow's intra-op pool, and (up to 1024 px)
   the same network through `stylize.use_xla`. Steps run in
   interleaved rounds (`benchmarks/timing.py`). The network's FLOPs are counted
   analytically (`stylize.network_flops`), giving the fraction of the measured peak.
3. Latency with 1 style against 256 styles (512 px).
4. Options explored at 512 px (256 px for bfloat16 and batching): XLA
   (`jit_compile=True`), a `mixed_bfloat16` copy of the model (with the largest
   pixel difference it makes), a batch of 8 against 8 calls, and oneDNN switched
   off (`TF_ENABLE_ONEDNN_OPTS=0`, in a subprocess).
   Allocators at 512 px, ours and PyTorch side by side in one subprocess per
   setting: TensorFlow's default allocator, its caching allocator (what
   `style_transfer` turns on), and the caching allocator with glibc told to keep
   freed memory, which also spares PyTorch its page faults (the fair comparison).
   Each row also counts minor page faults: per picture (ours, PyTorch) and per
   ReLU over a 64 MiB tensor (16,384 pages). How many an allocator saves depends on
   the host's kernel and C library, which is why this is measured here and not
   asserted in a test. `--allocators-only` runs just this table.
   Then ours against PyTorch at 512 px again in 8 separate processes: the target is
   read off the median, since one run's ratio moves by about +-0.1.
5. Peak resident memory (`VmHWM`) of a subprocess that stylizes one
   12-megapixel photo (4000x3000), against the same subprocess stopping before
   the network runs.

Prints markdown tables (medians with quartiles, milliseconds).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import preamble  # noqa: E402,F401

SIZES_PX = (256, 512, 1024, 2048)
REPETITIONS = {256: 10, 512: 6, 1024: 3, 2048: 2}
QUICK_SIZES_PX = (32,)
# The latency table also times `stylize.use_xla` up to this size (compiling at 2048 px
# costs more memory than the comparison is worth).
XLA_MAX_PX = 1024
# The target's size, and how many separate processes time it again: one run's ratio
# moves by about +-0.1 with the machine's state, so the target is read off the median.
TARGET_PX = 512
TARGET_RUNS = 8
MEMORY_PHOTO = (3000, 4000)  # (height, width): 12 megapixels
QUICK_MEMORY_PHOTO = (60, 80)
MANY_STYLES = 256
RESULT_PREFIX = "RESULT "


def random_model(num_styles, alpha=1.0, seed=0):
    """An untrained network with random distinct gamma/beta rows (speed does not depend on them)."""
    import numpy as np

    from style_transfer.models.network import StyleTransferNetwork

    model = StyleTransferNetwork(num_styles, alpha=alpha)
    model.build()
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if variable.path.endswith(("gamma", "beta")):
            center = 1.0 if variable.path.endswith("gamma") else 0.0
            variable.assign(rng.normal(center, 0.3, variable.shape).astype("float32"))
    return model


def median_and_spread(samples):
    from benchmarks.timing import summarize

    summary = summarize(samples)
    return summary["median_ms"], summary["q1_ms"], summary["q3_ms"]


def peak_gflops(repetitions, size):
    """Measured float32 matmul rate (GFLOP/s) on TensorFlow and PyTorch."""
    import numpy as np
    import tensorflow as tf
    import torch

    from benchmarks.timing import time_interleaved

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    matmul = tf.function(tf.matmul)
    ta, tb = torch.randn(size, size), torch.randn(size, size)
    samples = time_interleaved(
        {"tensorflow": lambda: matmul(a, b).numpy(), "pytorch": lambda: torch.mm(ta, tb)},
        repetitions, warmup=1,
    )
    flops = 2 * size ** 3
    return {name: flops / (np.median(times) / 1e3) / 1e9 for name, times in samples.items()}


def torch_step(torch_net, image):
    """One call of the PyTorch network on `image` (NHWC float32), as its users run it."""
    import torch

    torch_image = torch.from_numpy(image.transpose(0, 3, 1, 2).copy())

    def run():
        with torch.inference_mode():
            torch_net(torch_image).numpy()

    return run


def latency_rows(sizes, repetitions_of, peak):
    import numpy as np

    from benchmarks.timing import time_interleaved
    from benchmarks.torch_transformer_net import TransformerNet
    from style_transfer.painting import stylize

    model = random_model(1)
    xla_model = random_model(1)  # the same network, run through `stylize.use_xla`
    xla_model.set_weights(model.get_weights())
    stylize.use_xla(xla_model)
    torch_net = TransformerNet().eval()
    weights = np.ones((1, 1), dtype=np.float32)
    rows = []
    for size in sizes:
        image = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
        steps = {"ours": lambda: stylize.run_network(model, image, weights),
                 "pytorch": torch_step(torch_net, image)}
        if size <= XLA_MAX_PX:
            steps["xla"] = lambda: stylize.run_network(xla_model, image, weights)
        samples = time_interleaved(steps, repetitions_of(size), warmup=1)
        ours, ours_q1, ours_q3 = median_and_spread(samples["ours"])
        xla = median_and_spread(samples["xla"]) if "xla" in samples else None
        theirs, theirs_q1, theirs_q3 = median_and_spread(samples["pytorch"])
        gflop = stylize.network_flops(model, size, size) / 1e9
        executed_gflop = stylize.network_flops(model, size, size, executed=True) / 1e9
        rows.append({
            "size_px": size, "ours_ms": ours, "ours_iqr": (ours_q1, ours_q3),
            "pytorch_ms": theirs, "pytorch_iqr": (theirs_q1, theirs_q3),
            "speedup": theirs / ours, "gflop": gflop,
            "xla_ms": None if xla is None else xla[0],
            "xla_iqr": None if xla is None else xla[1:],
            "xla_speedup": None if xla is None else theirs / xla[0],
            "executed_gflop": executed_gflop,
            "ours_fraction_of_peak": executed_gflop / (ours / 1e3) / peak,
            "pytorch_fraction_of_peak": gflop / (theirs / 1e3) / peak,
            "repetitions": repetitions_of(size),
        })
    return rows


def styles_row(size, repetitions):
    """Latency with N = 1 and N = MANY_STYLES (blend weights over every style for N > 1)."""
    import numpy as np

    from benchmarks.timing import time_interleaved
    from style_transfer.painting import stylize

    image = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
    one, many = random_model(1), random_model(MANY_STYLES)
    many_weights = np.full((1, MANY_STYLES), 1.0 / MANY_STYLES, dtype=np.float32)
    samples = time_interleaved(
        {
            "1": lambda: stylize.run_network(one, image, np.ones((1, 1), np.float32)),
            str(MANY_STYLES): lambda: stylize.run_network(many, image, many_weights),
        },
        repetitions, warmup=1,
    )
    return {name: median_and_spread(times) for name, times in samples.items()}


def option_rows(size, small_size, repetitions):
    """Latency of the default against XLA, bfloat16 and batching."""
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks.timing import time_interleaved
    from style_transfer.painting import stylize

    model = random_model(1)
    weights = np.ones((1, 1), dtype=np.float32)
    image = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
    xla = tf.function(lambda x, w: model(x, w), jit_compile=True)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        bf16_model = random_model(1)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    bf16_model.set_weights(model.get_weights())
    small = np.random.default_rng(1).random((8, small_size, small_size, 3), dtype=np.float32)
    eight_weights = np.ones((8, 1), dtype=np.float32)

    samples = time_interleaved(
        {
            f"default (graph, float32), {size} px": lambda: stylize.run_network(model, image, weights),
            f"XLA jit_compile, {size} px": lambda: xla(image, weights).numpy(),
        },
        repetitions, warmup=1,
    )
    samples.update(time_interleaved(
        {
            f"default, {small_size} px": lambda: stylize.run_network(model, small[:1], weights),
            f"mixed_bfloat16, {small_size} px": lambda: stylize.run_network(bf16_model, small[:1], weights),
            f"batch of 8 in one call, {small_size} px (per image)": lambda: stylize.run_network(
                model, small, eight_weights, batch_pixels=8 * small_size ** 2),
            f"8 calls of 1, {small_size} px (per image)": lambda: stylize.run_network(
                model, small, eight_weights, batch_pixels=small_size ** 2),
        },
        repetitions, warmup=1,
    ))
    rows = {}
    for name, times in samples.items():
        per = 8 if "(per image)" in name else 1
        rows[name] = tuple(value / per for value in median_and_spread(times))
    reference = stylize.run_network(model, small, eight_weights)
    bf16 = stylize.run_network(bf16_model, small, eight_weights)
    difference = np.abs(reference - bf16)
    return rows, {"bf16_max_abs_diff": float(difference.max()),
                  "bf16_mean_abs_diff": float(difference.mean())}


def worker(kind, height, width, repetitions):
    """Runs in a subprocess; prints one RESULT line of JSON."""
    import numpy as np

    from benchmarks.timing import time_interleaved
    from style_transfer.painting import stylize

    model = random_model(1)
    image = np.random.default_rng(0).random((1, height, width, 3), dtype=np.float32)
    weights = np.ones((1, 1), dtype=np.float32)
    result = {"kind": kind}
    if kind == "memory-baseline":
        stylize.run_network(model, image[:, :16, :16], weights)
    elif kind == "memory":
        start = time.perf_counter()
        stylize.run_network(model, image, weights)
        result["seconds"] = time.perf_counter() - start
    elif kind == "latency":  # ours alone, under the environment the parent chose
        samples = time_interleaved(
            {"ours": lambda: stylize.run_network(model, image, weights)}, repetitions, warmup=1
        )
        result["ms"] = median_and_spread(samples["ours"])
    elif kind == "side-by-side":  # ours and PyTorch interleaved, as in the latency table
        import torch

        from benchmarks.torch_transformer_net import TransformerNet

        torch.set_num_threads(tensorflow_threads())
        faults = {"ours": [], "pytorch": []}
        samples = time_interleaved(
            {"ours": counting_faults(lambda: stylize.run_network(model, image, weights),
                                     faults["ours"]),
             "pytorch": counting_faults(torch_step(TransformerNet().eval(), image),
                                        faults["pytorch"])},
            repetitions, warmup=1,
        )
        result["ms"] = median_and_spread(samples["ours"])
        result["pytorch_ms"] = median_and_spread(samples["pytorch"])
        result["faults"] = statistics.median(faults["ours"])
        result["pytorch_faults"] = statistics.median(faults["pytorch"])
    elif kind == "relu-faults":  # what each fresh 64 MiB tensor costs in page faults
        import tensorflow as tf

        x = tf.random.normal((1, 512, 512, 64))
        relu = tf.function(tf.nn.relu)
        relu(x).numpy(), relu(x).numpy()
        faults = []
        for _ in range(repetitions):
            counting_faults(lambda: relu(x).numpy(), faults)()
        result["faults"] = statistics.median(faults)
    from benchmarks.machine import peak_rss_mib

    result["maxrss_mib"] = peak_rss_mib()
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def counting_faults(function, counts):
    """`function`, appending the minor page faults of each call to `counts`."""
    import resource

    def run():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        function()
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)

    return run


# glibc's malloc maps every large block fresh and unmaps it on free, so each large
# tensor costs a page fault per 4 KiB; these tunables make it keep freed memory for reuse.
GLIBC_KEEP_FREED_MEMORY = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295"


def allocator_rows(size, repetitions):
    """Ours against PyTorch under three allocator settings, one subprocess each.

    TensorFlow's caching allocator is what `style_transfer` turns on; PyTorch has
    no caching CPU allocator, so the fair comparison also spares PyTorch the page
    faults, through glibc's tunables (which apply to the whole process).
    """
    settings = {
        "TensorFlow's default allocator (TF_CPU_ALLOCATOR_USE_BFC=false), glibc default":
            {"TF_CPU_ALLOCATOR_USE_BFC": "false"},
        "TensorFlow's caching allocator (the default of style_transfer), glibc default": {},
        f"caching allocator, and glibc keeps freed memory (GLIBC_TUNABLES={GLIBC_KEEP_FREED_MEMORY})":
            {"GLIBC_TUNABLES": GLIBC_KEEP_FREED_MEMORY},
    }
    rows = {}
    for name, env in settings.items():
        rows[name] = run_worker("side-by-side", size, size, repetitions, env=env)
        rows[name]["relu_faults"] = run_worker("relu-faults", 0, 0, 5, env=env)["faults"]
    return rows


def print_allocator_table(allocators):
    pages = 64 * 2**20 // 4096
    print("\n| setting | ours ms (IQR) | PyTorch ms (IQR) | speed-up | page faults per picture, "
          f"ours / PyTorch | page faults per 64 MiB ReLU ({pages} pages) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, row in allocators.items():
        (ours, q1, q3), (theirs, t1, t3) = row["ms"], row["pytorch_ms"]
        print(f"| {name} | {ours:.0f} ({q1:.0f}-{q3:.0f}) | {theirs:.0f} ({t1:.0f}-{t3:.0f}) "
              f"| {theirs / ours:.2f}x | {row['faults']:.0f} / {row['pytorch_faults']:.0f} "
              f"| {row['relu_faults']:.0f} |")


def tensorflow_threads():
    import tensorflow as tf

    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()


def run_worker(kind, height, width, repetitions=1, env=None):
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--height", str(height),
         "--width", str(width), "--repetitions", str(repetitions)],
        capture_output=True, text=True, env={**os.environ, **(env or {})},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"worker {kind} failed:\n{completed.stderr[-3000:]}")
    line = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)][-1]
    return json.loads(line[len(RESULT_PREFIX):])


def machine_description():
    import keras
    import numpy as np
    import tensorflow as tf
    import torch

    model_name = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model_name, "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "tensorflow": tf.__version__, "keras": keras.__version__, "torch": torch.__version__,
        "numpy": np.__version__, "python": sys.version.split()[0],
        "tf_intra_op_threads": tensorflow_threads(),
        "torch_threads": torch.get_num_threads(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
        "TF_CPU_ALLOCATOR_USE_BFC": os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"),
        "GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES", "unset"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repetition")
    parser.add_argument("--allocators-only", action="store_true",
                        help="only the allocator table (512 px), with the machine description")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--repetitions", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.height, args.width, args.repetitions)
        return 0

    import torch

    torch.set_num_threads(tensorflow_threads())
    quick = args.quick
    sizes = QUICK_SIZES_PX if quick else SIZES_PX

    def repetitions_of(size):
        return 1 if quick else REPETITIONS[size]

    machine = machine_description()
    print("## machine\n" + "\n".join(f"- {key}: {value}" for key, value in machine.items()))
    if args.allocators_only:
        print(f"\nAllocators ({TARGET_PX} px, one subprocess per row, ours and PyTorch "
              "interleaved within it):")
        print_allocator_table(allocator_rows(TARGET_PX, 6))
        return 0

    peak = peak_gflops(1 if quick else 5, 256 if quick else 2048)
    print(f"\nMeasured peak float32 matmul: TensorFlow {peak['tensorflow']:.1f} GFLOP/s, "
          f"PyTorch {peak['pytorch']:.1f} GFLOP/s (the larger is the peak used below).")
    best_peak = max(peak.values())

    rows = latency_rows(sizes, repetitions_of, best_peak)
    print("\nGFLOP: the architecture's count (what PyTorch executes); ours executes fewer "
          "(upsampling convolutions at low resolution), and its % of peak uses its own count.")
    print("\n| size (px) | GFLOP (ours executes) | ours ms (IQR) | PyTorch ms (IQR) | speed-up "
          "| ours % of peak | PyTorch % of peak | ours with --xla ms (IQR) | --xla speed-up "
          "| reps |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        xla = ("| - | - " if row["xla_ms"] is None else
               f"| {row['xla_ms']:.0f} ({row['xla_iqr'][0]:.0f}-{row['xla_iqr'][1]:.0f}) "
               f"| {row['xla_speedup']:.2f}x ")
        print(f"| {row['size_px']} | {row['gflop']:.1f} ({row['executed_gflop']:.1f}) "
              f"| {row['ours_ms']:.0f} "
              f"({row['ours_iqr'][0]:.0f}-{row['ours_iqr'][1]:.0f}) | {row['pytorch_ms']:.0f} "
              f"({row['pytorch_iqr'][0]:.0f}-{row['pytorch_iqr'][1]:.0f}) | {row['speedup']:.2f}x "
              f"| {100 * row['ours_fraction_of_peak']:.0f}% "
              f"| {100 * row['pytorch_fraction_of_peak']:.0f}% {xla}| {row['repetitions']} |")

    styles_size = sizes[0] if quick else 512
    styles = styles_row(styles_size, 1 if quick else 6)
    one, many = styles["1"][0], styles[str(MANY_STYLES)][0]
    print(f"\n| styles N | ms at {styles_size} px (IQR) |\n| --- | --- |")
    for name, (median, q1, q3) in styles.items():
        print(f"| {name} | {median:.0f} ({q1:.0f}-{q3:.0f}) |")
    print(f"N={MANY_STYLES} / N=1: {many / one:.3f}")

    option_size, small_size = (sizes[0], sizes[0]) if quick else (512, 256)
    options, bf16_difference = option_rows(option_size, small_size, 1 if quick else 6)
    allocators = target_runs = None
    if not quick:  # each subprocess re-imports TensorFlow: the quick run starts only one
        no_onednn = run_worker("latency", option_size, option_size, 4,
                               env={"TF_ENABLE_ONEDNN_OPTS": "0"})
        options[f"oneDNN off (subprocess, not interleaved), {option_size} px"] = tuple(no_onednn["ms"])
        allocators = allocator_rows(option_size, 6)
        target_runs = [run_worker("side-by-side", TARGET_PX, TARGET_PX, 6)
                       for _ in range(TARGET_RUNS)]
    print("\n| option | ms per image (IQR) |\n| --- | --- |")
    for name, (median, q1, q3) in options.items():
        print(f"| {name} | {median:.0f} ({q1:.0f}-{q3:.0f}) |")
    print(f"bfloat16 against float32 pixels (8 photos, {small_size} px): max |diff| "
          f"{bf16_difference['bf16_max_abs_diff']:.4f}, mean |diff| "
          f"{bf16_difference['bf16_mean_abs_diff']:.5f} (1/255 = 0.0039)")
    if allocators:
        ratios = [run["pytorch_ms"][0] / run["ms"][0] for run in target_runs]
        print(f"\n{TARGET_PX} px again in {TARGET_RUNS} separate processes (ours and PyTorch, "
              "6 interleaved rounds each), PyTorch / ours: "
              + ", ".join(f"{ratio:.2f}" for ratio in ratios)
              + f"; median {statistics.median(ratios):.2f}x (ours "
              + ", ".join(f"{run['ms'][0]:.0f}" for run in target_runs) + " ms).")
        print(f"\nAllocators ({option_size} px, one subprocess per row, ours and PyTorch "
              "interleaved within it):")
        print_allocator_table(allocators)

    height, width = QUICK_MEMORY_PHOTO if quick else MEMORY_PHOTO
    photo = run_worker("memory", height, width)
    print(f"\nPeak RSS stylizing one {width}x{height} photo: {photo['maxrss_mib']:.0f} MiB "
          f"({photo['seconds']:.1f} s).")
    if not quick:
        baseline = run_worker("memory-baseline", height, width)
        print(f"The same process stylizing a 16x16 photo: {baseline['maxrss_mib']:.0f} MiB.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
