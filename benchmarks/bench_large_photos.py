"""Large photos: peak memory and time of painting 12- and 50-megapixel photos in tiles.

    python benchmarks/bench_large_photos.py                   # 12 and 50 MP, android-26 and Magenta's width
    python benchmarks/bench_large_photos.py --sizes 12 --before 68aad50   # and the code of a commit
    python benchmarks/bench_large_photos.py --quick           # a small photo forced into tiles: a smoke test

Photos above `style_transfer.painting.tiling.TILE_ABOVE_PIXELS` run through the network
layer by layer in tiles with the whole picture's instance-norm statistics
(`tiling.run_tiled`). What is measured, each in a fresh subprocess:

1. Time and peak resident memory (`VmHWM`) of `stylize.run_network` on one photo of
   12 MP (4000x3000) and 50 MP (8160x6120), a smooth synthetic picture (the content
   does not change the work), for the pretrained android-26 network (slim
   architecture) and for Magenta's architecture (alpha 1, random weights: the same
   work as trained ones). The worker first paints a small photo in tiles, so the
   time excludes tracing the compiled functions; "baseline" is the worker's peak
   before the large photo (TensorFlow, the model, the traced graphs), and the photo
   and painting arrays (float32) are counted in the peak, as a caller of the API has them.
2. Agreement with one pass of the network: a 1280x960 photo, small enough for one
   call, painted once in one call and once forced into tiles: the difference in grey
   levels (0-255), everywhere and beside the tile boundaries of every layer.

With `--before COMMIT`, the agreement and the first size also run the painting code of
that commit (exported with `git archive` into a temporary folder): the cross-faded
tiles of commit 68aad50, for instance, in the same run and on the same machine state.

Prints markdown tables with the machine and the load average around each worker, and
writes the raw results to RESULTS_DIR/large_photos.json and the tables to
RESULTS_DIR/large_photos.md.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if "--source" in sys.argv:  # a worker for the code of another commit: import it first
        sys.path.insert(0, sys.argv[sys.argv.index("--source") + 1])
from benchmarks import preamble  # noqa: E402  (first: before TensorFlow is imported)
from benchmarks.machine import load_average, machine_lines, peak_rss_mib  # noqa: E402

SIZES = {12: (3000, 4000), 50: (6120, 8160)}  # megapixels -> (height, width)
MODELS = ("android-26", "magenta")
AGREEMENT_SIZE = (960, 1280)
QUICK_SIZE = (240, 320)
QUICK_TILE_PX = 64
RESULT_PREFIX = "RESULT "


def load_network(name):
    """The pretrained android-26 network, or Magenta's architecture with seeded random weights."""
    if name == "android-26":
        from style_transfer.models.loading import load_model

        return load_model("android-26")
    import keras

    from style_transfer.models.network import StyleTransferNetwork

    keras.utils.set_random_seed(0)
    network = StyleTransferNetwork(1, architecture="magenta")
    network.build()
    return network


def synthetic_photo(height, width):
    """A smooth picture (gradients and a disc), float32 (H, W, 3), built band by band."""
    import numpy as np

    rows = (np.arange(height, dtype=np.float32) / max(height, width))[:, None, None]
    columns = (np.arange(width, dtype=np.float32) / max(height, width))[None, :, None]
    phase = np.array([0.0, 2.0, 4.0], np.float32)
    photo = np.empty((height, width, 3), np.float32)
    for band in range(0, height, 512):
        part = rows[band:band + 512]
        photo[band:band + 512] = 0.5 + 0.4 * np.sin(6 * part + 4 * columns + phase)
        disc = (part - 0.35) ** 2 + (columns - 0.5) ** 2 < 0.04
        photo[band:band + 512][disc[..., 0]] = (0.9, 0.2, 0.1)
    return photo


def first_style(network):
    import numpy as np

    weights = np.zeros((1, network.num_styles), np.float32)
    weights[0, 0] = 1.0
    return weights


def paint_in_tiles(network, photo, weights, tile_px, progress=None):
    """`run_network` on one photo, forced into tiles (of `tile_px` where the code has them)."""
    from style_transfer.painting import stylize, tiling

    saved = tiling.TILE_ABOVE_PIXELS, tiling.TILE_PX
    tiling.TILE_ABOVE_PIXELS = min(tiling.TILE_ABOVE_PIXELS, photo.shape[0] * photo.shape[1] - 1)
    tiling.TILE_PX = tile_px or tiling.TILE_PX
    try:
        return stylize.run_network(network, photo[None], weights, progress=progress)[0]
    finally:
        tiling.TILE_ABOVE_PIXELS, tiling.TILE_PX = saved


def paint_worker(name, height, width, tile_px):
    """Runs in a subprocess: paints one photo in tiles; returns time and memory."""
    import numpy as np

    from style_transfer.painting import tiling

    network = load_network(name)
    weights = first_style(network)
    paint_in_tiles(network, synthetic_photo(64, 96), weights, 0)  # traces the functions
    baseline_mib = peak_rss_mib()
    photo = synthetic_photo(height, width)
    tiles = {}
    started = time.perf_counter()
    painted = paint_in_tiles(network, photo, weights, tile_px,
                             progress=lambda done, total: tiles.update(total=total))
    seconds = time.perf_counter() - started
    result = {
        "model": name, "height": height, "width": width, "megapixels": height * width / 1e6,
        "tile_px": tile_px or tiling.TILE_PX, "seconds": seconds, "peak_mib": peak_rss_mib(),
        "baseline_mib": baseline_mib, "photo_mib": photo.nbytes / 2 ** 20,
        "tiles": tiles["total"], "finite": bool(np.isfinite(painted).all()),
    }
    if hasattr(tiling, "_layers"):
        layers = tiling._layers(network, tiling._padded_size(height, width))
        result["recomputed_layers"] = [layer.block.name for layer in layers if not layer.stored]
    return result


def agreement_worker(name, height, width, tile_px):
    """Runs in a subprocess: one call of the network against the tiles, in grey levels."""
    import numpy as np

    from style_transfer.painting import stylize, tiling

    network = load_network(name)
    weights = first_style(network)
    photo = synthetic_photo(height, width)
    whole = stylize.run_network(network, photo[None], weights)[0]
    tiled = paint_in_tiles(network, photo, weights, tile_px)
    difference = np.abs(tiled.astype(np.float64) - whole) * 255
    result = {
        "model": name, "height": height, "width": width, "tile_px": tile_px or tiling.TILE_PX,
        "max_grey": float(difference.max()), "mean_grey": float(difference.mean()),
        "p99_grey": float(np.percentile(difference, 99)),
    }
    if hasattr(tiling, "run_tiled") and hasattr(tiling, "tile_count"):
        # Every layer's tile boundaries, in photo pixels: multiples of tile_px / 4.
        step = result["tile_px"] // 4
        seams = np.zeros((height, width), bool)
        for offset in (-1, 0):
            seams[np.arange(step, height, step) + offset, :] = True
            seams[:, np.arange(step, width, step) + offset] = True
        result["seam_max_grey"] = float(difference[seams].max())
        result["off_seam_max_grey"] = float(difference[~seams].max())
    return result


def quick_worker(name, height, width, tile_px):
    """Both workers' measurements in one process, on a small photo forced into tiles."""
    return {"agreement": agreement_worker(name, height // 2, width // 2, tile_px // 2),
            "paint": paint_worker(name, height, width, tile_px)}


WORKERS = {"paint": paint_worker, "agreement": agreement_worker, "quick": quick_worker}


def run_worker(kind, name, height, width, tile_px=0, source=None):
    """One worker in a fresh Python process (on the code in `source`, or this checkout's);
    its result with the load average around it."""
    load_before = load_average()
    command = [sys.executable, __file__, "--worker", kind, "--model", name, "--height",
               str(height), "--width", str(width), "--tile-px", str(tile_px)]
    completed = subprocess.run(command + (["--source", str(source)] if source else []),
                               capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"worker {kind} {name} {height}x{width} failed:\n"
                           f"{completed.stderr[-3000:]}")
    line = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)][-1]
    return {**json.loads(line[len(RESULT_PREFIX):]), "load_before": load_before,
            "load_after": load_average()}


def export_commit(commit, folder):
    """The files of `commit` (this repository's) in `folder`, with `git archive`."""
    archive = subprocess.run(["git", "archive", commit], cwd=preamble.REPOSITORY,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def grey(row, key):
    return f"{row[key]:.4f}" if key in row else "-"


def tables(paint_rows, agreement_rows):
    lines = [
        "| code | model | photo | tiles (all layers) | seconds | peak MiB | baseline MiB "
        "| photo MiB | recomputed layers | load before | after |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for row in paint_rows:
        lines.append(
            f"| {row['code']} | {row['model']} | {row['width']}x{row['height']} "
            f"({row['megapixels']:.1f} MP) | {row['tiles']} | {row['seconds']:.1f} "
            f"| {row['peak_mib']:,.0f} | {row['baseline_mib']:,.0f} | {row['photo_mib']:,.0f} "
            f"| {', '.join(row.get('recomputed_layers', [])) or '-'} | {row['load_before']} "
            f"| {row['load_after']} |")
    lines += [
        "",
        "| code | model | photo | tile px | max grey levels | mean | 99th percentile "
        "| max beside tile boundaries | max elsewhere |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in agreement_rows:
        lines.append(
            f"| {row['code']} | {row['model']} | {row['width']}x{row['height']} "
            f"| {row['tile_px']} | {row['max_grey']:.4f} | {row['mean_grey']:.5f} "
            f"| {row['p99_grey']:.4f} | {grey(row, 'seam_max_grey')} "
            f"| {grey(row, 'off_seam_max_grey')} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"android-26 on a {QUICK_SIZE[1]}x{QUICK_SIZE[0]} photo in "
                             f"{QUICK_TILE_PX} px tiles: a smoke test")
    parser.add_argument("--sizes", default="12,50",
                        help="photo sizes in megapixels, of " + ", ".join(map(str, SIZES)))
    parser.add_argument("--models", default=",".join(MODELS),
                        help="networks, of " + ", ".join(MODELS))
    parser.add_argument("--before", metavar="COMMIT",
                        help="also run the painting code of this commit (git archive) on "
                             "the agreement photo and the first size")
    preamble.add_results_dir_argument(parser, "large_photos.json and large_photos.md")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tile-px", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(RESULT_PREFIX + json.dumps(WORKERS[args.worker](
            args.model, args.height, args.width, args.tile_px)), flush=True)
        return 0

    models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in models if name not in MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
    try:
        sizes = [SIZES[int(size)] for size in args.sizes.split(",") if size.strip()]
    except (KeyError, ValueError):
        parser.error(f"--sizes takes megapixels of {', '.join(map(str, SIZES))}; "
                     f"received {args.sizes!r}")
    machine = machine_lines()
    print("## Machine (at the start)\n" + "\n".join(machine), flush=True)
    paint_rows, agreement_rows = [], []
    with tempfile.TemporaryDirectory(prefix="bench-large-photos-") as folder:
        codes = {"this checkout": None}
        if args.before:
            codes[args.before] = export_commit(args.before, Path(folder))
        if args.quick:  # one worker (TensorFlow's import is most of the time)
            both = run_worker("quick", "android-26", *QUICK_SIZE, QUICK_TILE_PX)
            paint_rows.append({**both["paint"], **both, "code": "this checkout"})
            agreement_rows.append({**both["agreement"], **both, "code": "this checkout"})
            codes, sizes = {}, []
        for name in models:
            for code, source in codes.items():
                row = run_worker("agreement", name, *AGREEMENT_SIZE, source=source)
                agreement_rows.append({**row, "code": code})
                print(f"agreement {code} {name}: {row['max_grey']:.4f} grey levels at most",
                      flush=True)
        for number, (height, width) in enumerate(sizes):
            for name in models:
                for code, source in list(codes.items())[:1 if number else None]:
                    row = run_worker("paint", name, height, width, source=source)
                    paint_rows.append({**row, "code": code})
                    print(f"paint {code} {name} {width}x{height}: {row['seconds']:.1f} s, "
                          f"{row['peak_mib']:,.0f} MiB", flush=True)
    lines = (["## Machine (at the start)", *machine, "",
              "## Large photos: time and peak memory; agreement with one pass", ""]
             + tables(paint_rows, agreement_rows)
             + ["", f"load average at the end: {load_average()}"])
    print("\n" + "\n".join(lines[len(machine) + 2:]), flush=True)
    folder = preamble.results_folder(args)
    preamble.write_json(folder / "large_photos.json",
                        {"machine": machine, "paint": paint_rows, "agreement": agreement_rows,
                         "before": args.before, "quick": args.quick})
    with preamble.atomic_write(folder / "large_photos.md", "w") as file:
        file.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
