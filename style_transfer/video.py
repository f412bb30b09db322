"""Video: frames streamed through a painter, stabilized in time, sound kept; and the metrics.

    paint = stylize.painter(model, "style_19")
    stylize_video(paint, "holiday.mp4", "painted.mp4")      # stabilized, sound copied

Reading and writing use PyAV, which ships FFmpeg inside its wheel (the `[video]`
extra): any file FFmpeg reads comes in; frames are decoded, painted and encoded
one at a time, so memory does not grow with the length. Every frame keeps its
presentation time, so the frame rate and duration are the input's (variable
frame rates included); the sound track is copied packet by packet when the
output container accepts its codec, otherwise re-encoded (AAC, or Opus in
WebM). The output is written under a temporary name and renamed when complete
(`files.atomic_path`).

Painting each frame alone flickers: the network is not shift-equivariant (two
stride-2 convolutions make its texture depend on where the content falls on a
4-pixel grid, and on sub-pixel shifts), so on a camera pan the same wall gets a
different brush pattern in every frame. `FlowStabilizer` blends each painted
frame with the previous output warped onto it by optical flow, only where the
flow is reliable (forward-backward consistent, inside the frame), so that
things that move or appear are not smeared into trails. Carrying instance-norm
statistics from frame to frame was measured too and changed the flicker by at
most 5% (BENCHMARKS.md, "Video"): the flicker is in the texture, not in the
colours, so it is not offered.

The metrics (`temporal_warping_error`, `mean_deviation`, `sharpness_ratio`) and
a clip with exactly known motion (`pan_clip`) are here so that the benchmark
and the tests measure the same thing.
"""

import collections
import dataclasses
import fractions
import heapq
import time
from pathlib import Path

import numpy as np

from style_transfer.errors import BadInput
from style_transfer.files import atomic_path, check_destination, check_not_an_input

INSTALL_HINT = "pip install 'cbn-style[video]'"
STABILIZE_METHODS = ("flow", "none")
# Weight of the warped previous output where the flow is reliable: the smallest
# of the weights measured (0.5, 0.6, 0.7) that halves the temporal warping error
# of frame-by-frame painting on the benchmark's pan and real clips; it strays
# less from the per-frame painting than blending without flow does for less
# flicker reduction (BENCHMARKS.md, "Video").
DEFAULT_STABILIZE_WEIGHT = 0.7
# Forward-backward consistency (Sundaram et al. 2010; Ruder et al. 2016): a pixel's
# flow is reliable when |back + forward(x + back)|^2 <= A (|back|^2 + |forward|^2) + B.
# B is 2 px^2 rather than Ruder et al.'s 0.5: DIS's fast preset is accurate to
# about a pixel, and on flat walls the tighter bound rejected half the still
# pixels; an occlusion's round trip is off by the occluder's motion, several px.
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE_PX2 = 2.0
# Output containers and their video codecs (H.264 plays everywhere; WebM takes VP9).
VIDEO_CODECS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264",
                ".webm": "libvpx-vp9"}
# Sound a container cannot take as it is gets re-encoded to this.
AUDIO_FALLBACK_CODECS = {".webm": "libopus"}
DEFAULT_AUDIO_CODEC = "aac"
# Near-transparent quality (x264's CRF 18; VP9's constant-quality scale differs).
VIDEO_QUALITY = {"libx264": {"crf": "18", "preset": "veryfast"},
                 "libvpx-vp9": {"crf": "24", "b": "0", "deadline": "realtime", "cpu-used": "8"}}
FALLBACK_FPS = 25
# Frames held back to put mislabelled presentation times in order (B-frames reorder
# a few frames at most).
REORDER_WINDOW = 16


def _import_av():
    try:
        import av
    except ImportError:
        raise BadInput(f"video needs PyAV; install it with: {INSTALL_HINT}") from None
    return av


def _import_cv2():
    try:
        import cv2
    except ImportError:
        raise BadInput(f"video stabilization needs OpenCV; install it with: {INSTALL_HINT}") \
            from None
    return cv2


# ------------------------------------------------------------------ reading


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What `probe` reads from a video file's header.

    Args:
        width, height: Frame size in pixels.
        fps: Average frame rate (frames per second).
        frame_count: Number of frames, or `None` if the header does not say.
        duration_s: Duration in seconds, or `None`.
        audio_codec: The first sound track's codec name, or `None` without sound.
    """

    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    audio_codec: str


def probe(path):
    """The `VideoInfo` of a video file.

    Raises:
        BadInput: the file is missing, FFmpeg cannot read it, or it has no video.
    """
    with _open_input(path) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            width=video.codec_context.width, height=video.codec_context.height,
            fps=float(_frame_rate(video)), frame_count=video.frames or None,
            duration_s=_duration_s(container, video),
            audio_codec=audio.codec_context.name if audio is not None else None,
        )


def read_frames(path, max_size=None):
    """Yields every frame of a video as uint8 RGB (H, W, 3), downsized to `max_size`."""
    with _open_input(path) as container:
        video = container.streams.video[0]
        size = output_size(video.codec_context.width, video.codec_context.height, max_size)
        for frame in _decoded(container, video, path):
            yield _rgb(frame, size)


def _open_input(path):
    av = _import_av()
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"video {str(path)!r} does not exist or is not a file.")
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as error:
        raise BadInput(f"cannot read video {path}: not a video FFmpeg can read "
                       f"({_ffmpeg_reason(error)}).") from None
    if not container.streams.video:
        container.close()
        raise BadInput(f"{path} has no video stream.")
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):
        container.close()
        raise BadInput(f"{path} is a still image, not a video; paint it with "
                       f"`style-transfer stylize`.")
    return container


def _decoded(container, video, path, other_streams=(), on_packet=None):
    """Decoded frames of `video`; packets of `other_streams` go to `on_packet` as read."""
    av = _import_av()
    try:
        for packet in container.demux(video, *other_streams):
            if packet.stream is not video:
                on_packet(packet)
                continue
            yield from packet.decode()
    except av.FFmpegError as error:
        raise BadInput(f"cannot decode {path}: {_ffmpeg_reason(error)}.") from None


def _with_display_times(frames, window=REORDER_WINDOW):
    """(frame, pts) in display order, each frame given the smallest time not yet used.

    Decoders return frames in display order, but some containers (AVI with
    B-frames) label them with their packets' times, which come in decoding
    order: the set of times is right, their order is not. Holding back
    `window` frames and handing out the times sorted repairs that (and leaves
    correct times as they are). A frame without a time gets `None`.
    """
    held, times = collections.deque(), []
    for frame in frames:
        held.append(frame)
        if frame.pts is not None:
            heapq.heappush(times, frame.pts)
        if len(held) > window:
            yield _next_timed(held, times)
    while held:
        yield _next_timed(held, times)


def _next_timed(held, times):
    frame = held.popleft()
    return frame, (heapq.heappop(times) if frame.pts is not None and times else None)


def _frame_rate(video):
    return video.average_rate or video.guessed_rate or fractions.Fraction(FALLBACK_FPS)


def _duration_s(container, video):
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _ffmpeg_reason(error):
    return (getattr(error, "strerror", None) or str(error)).strip().splitlines()[0]


def output_size(width, height, max_size=None):
    """(width, height) of the output: the input's, or downsized so that the long side is
    `max_size`; even sides when resized (4:2:0 video wants them)."""
    if max_size is None or max(width, height) <= max_size:
        return width, height
    if max_size < 16:
        raise BadInput(f"--max-size must be at least 16 pixels; received {max_size}.")
    scale = max_size / max(width, height)
    return (max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2))


def _rgb(frame, size):
    """An FFmpeg frame as uint8 RGB (H, W, 3) of `size` (width, height)."""
    width, height = size
    if (frame.width, frame.height) == (width, height):
        return frame.to_ndarray(format="rgb24")
    return frame.reformat(width=width, height=height, format="rgb24",
                          interpolation="AREA").to_ndarray()


# ------------------------------------------------------------------ stabilizing


class FlowStabilizer:
    """Blends each painted frame with the previous output where optical flow is reliable.

        out_t = p_t + w r_t (warp(out_{t-1}, flow_t) - p_t)

    where p_t is frame t painted alone, flow_t the optical flow from input
    frame t to input frame t-1 (OpenCV's DIS), and r_t in {0, 1} its
    reliability: forward-backward consistent and pointing inside the frame.
    Pixels hidden in frame t-1 (behind a moving thing, or new at an edge) get
    p_t, so moving things leave no trails; a cut makes every pixel unreliable.

    Args:
        weight: w in [0, 1): how much of the warped previous output is kept.
        preset: DIS preset, "ultrafast", "fast" or "medium" (more accurate,
            slower flow).

    Call arguments:
        frame: The input frame, uint8 RGB (H, W, 3).
        painted: The frame painted alone, float (H, W, 3) in [0, 1].

    Returns:
        The stabilized frame, float32 (H, W, 3).
    """

    PRESETS = ("ultrafast", "fast", "medium")

    def __init__(self, weight=DEFAULT_STABILIZE_WEIGHT, preset="fast"):
        if not 0.0 <= weight < 1.0:
            raise BadInput(f"the stabilization weight must be in [0, 1); received {weight!r}.")
        if preset not in self.PRESETS:
            raise BadInput(f"unknown optical flow preset {preset!r}; choose one of "
                           f"{', '.join(self.PRESETS)}.")
        cv2 = _import_cv2()
        self.weight = float(weight)
        self.flow = cv2.DISOpticalFlow_create(
            getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset.upper()}"))
        self.reset()

    def reset(self):
        """Forgets the previous frame (the next one is taken as painted)."""
        self._previous_grey = None
        self._previous_output = None

    def __call__(self, frame, painted):
        grey = _grey(frame)
        painted = np.asarray(painted, np.float32)
        output = painted
        if self._previous_grey is not None and self._previous_grey.shape == grey.shape:
            backward = self.flow.calc(grey, self._previous_grey, None)
            forward = self.flow.calc(self._previous_grey, grey, None)
            reliable = flow_reliability(backward, forward)
            # Bicubic: each output is warped again at the next frame, and bilinear
            # interpolation would blur it a little more every time.
            warped = warp(self._previous_output, backward, cubic=True)
            output = painted + (self.weight * reliable[..., None]) * (warped - painted)
        self._previous_grey = grey
        self._previous_output = output
        return output


def make_stabilizer(method="flow", weight=DEFAULT_STABILIZE_WEIGHT):
    """The stabilizer a `--stabilize` method names: a `FlowStabilizer`, or `None` for "none"."""
    if method not in STABILIZE_METHODS:
        raise BadInput(f"unknown stabilization {method!r}; choose one of "
                       f"{', '.join(STABILIZE_METHODS)}.")
    return FlowStabilizer(weight) if method == "flow" else None


# ------------------------------------------------------------------ writing


def stylize_video(paint, source, destination, *, stabilizer=None, max_size=None,
                  overwrite=False, progress=None):
    """Paints every frame of a video file; keeps its timing and sound.

    Args:
        paint: photo (H, W, 3) float32 in [0, 1] -> painting, e.g. from
            `stylize.painter`.
        source: Any video file FFmpeg reads.
        destination: The output file; its extension picks the container
            (.mp4, .m4v, .mov, .mkv: H.264; .webm: VP9).
        stabilizer: Called as `stabilizer(frame, painted)` on every frame
            (a `FlowStabilizer`), or `None` for frame-by-frame painting.
        max_size: Downsize frames whose long side is larger.
        overwrite: Replace an existing `destination`.
        progress: Called as `progress(frames_done, frames_expected)` after
            every frame (`frames_expected` from the header, or `None`).

    Returns:
        A record: input, output, frames, fps, duration_s, size [width,
        height], audio ("copied", "re-encoded as CODEC" or None), seconds.

    Raises:
        BadInput: an unreadable or undecodable input, an output extension
            that is not a video container, an output that exists (without
            `overwrite`) or is the input.
    """
    av = _import_av()
    started = time.perf_counter()
    source, destination = Path(source), Path(destination)
    codec = video_codec(destination)
    check_not_an_input(destination, [source])
    check_destination(destination, overwrite)
    with _open_input(source) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        size = output_size(video.codec_context.width, video.codec_context.height, max_size)
        expected = video.frames or None
        with atomic_path(destination, overwrite=overwrite) as temporary:
            with av.open(str(temporary), "w") as output:
                encoder = _VideoEncoder(output, codec, size, _frame_rate(video), video.time_base)
                sound = _SoundTrack(output, audio, destination.suffix.lower())
                count = 0
                frames = _decoded(container, video, source, [audio] if audio else [], sound.add)
                for frame, pts in _with_display_times(frames):
                    encoder.add(_painted(_rgb(frame, size), paint, stabilizer), pts, count)
                    count += 1
                    if progress is not None:
                        progress(count, expected)
                if count == 0:
                    raise BadInput(f"{source} has no frame that could be decoded.")
                encoder.close()
                sound.close()
    return {"input": str(source), "output": str(destination), "frames": count,
            "fps": round(float(_frame_rate(video)), 3),
            "duration_s": encoder.duration_s, "size": list(size), "audio": sound.mode,
            "seconds": round(time.perf_counter() - started, 3)}


def stylize_camera(paint, camera, destination, *, stabilizer=None, max_size=None,
                   max_frames=None, overwrite=False, progress=None):
    """Paints what a camera sees (OpenCV `VideoCapture(camera)`) into a video file.

    The same painting, stabilization and encoding as `stylize_video`; it stops
    after `max_frames`, when the camera stops, or on Ctrl-C (the file written
    so far is kept). Returns a record as `stylize_video` does (no sound).
    """
    cv2 = _import_cv2()
    av = _import_av()
    started = time.perf_counter()
    destination = Path(destination)
    codec = video_codec(destination)
    check_destination(destination, overwrite)
    capture = cv2.VideoCapture(camera)
    if not capture.isOpened():
        raise BadInput(f"cannot open camera {camera} (OpenCV found no such device).")
    fps = fractions.Fraction(capture.get(cv2.CAP_PROP_FPS) or FALLBACK_FPS).limit_denominator(1001)
    count = 0
    size = None
    try:
        with atomic_path(destination, overwrite=overwrite) as temporary:
            with av.open(str(temporary), "w") as output:
                encoder = None
                try:
                    while max_frames is None or count < max_frames:
                        grabbed, bgr = capture.read()
                        if not grabbed:
                            break
                        picture = np.ascontiguousarray(bgr[..., ::-1])
                        if size is None:
                            size = output_size(picture.shape[1], picture.shape[0], max_size)
                            encoder = _VideoEncoder(output, codec, size, fps, 1 / fps)
                        if picture.shape[1::-1] != size:
                            picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
                        encoder.add(_painted(picture, paint, stabilizer), count, count)
                        count += 1
                        if progress is not None:
                            progress(count, max_frames)
                except KeyboardInterrupt:
                    pass
                if encoder is None:
                    raise BadInput(f"camera {camera} gave no frame.")
                encoder.close()
    finally:
        capture.release()
    return {"input": f"camera {camera}", "output": str(destination), "frames": count,
            "fps": round(float(fps), 3), "duration_s": encoder.duration_s, "size": list(size),
            "audio": None, "seconds": round(time.perf_counter() - started, 3)}


def _painted(picture, paint, stabilizer):
    """One uint8 RGB frame painted, then stabilized against the frames before it."""
    painted = paint(picture.astype(np.float32) / 255.0)
    return painted if stabilizer is None else stabilizer(picture, painted)


def video_codec(destination):
    """The video codec for an output file name (its extension); a `BadInput` otherwise."""
    suffix = destination.suffix.lower()
    if suffix not in VIDEO_CODECS:
        raise BadInput(f"--out {destination}: a video file must end in "
                       f"{', '.join(VIDEO_CODECS)}; received {suffix or 'no extension'}.")
    return VIDEO_CODECS[suffix]


class _VideoEncoder:
    """Encodes painted frames with their input presentation times into one video stream."""

    def __init__(self, output, codec, size, rate, time_base):
        self.output = output
        self.stream = output.add_stream(codec, rate=rate, options=VIDEO_QUALITY.get(codec, {}))
        self.stream.width, self.stream.height = size
        # 4:2:0 halves the chroma resolution, so it needs even sides; 4:4:4 does not.
        self.stream.pix_fmt = "yuv420p" if size[0] % 2 == 0 and size[1] % 2 == 0 else "yuv444p"
        self.time_base = fractions.Fraction(time_base) if time_base else 1 / fractions.Fraction(rate)
        self.stream.codec_context.time_base = self.time_base
        self.frame_step = round(1 / (rate * self.time_base)) or 1
        self.first_pts = None
        self.last_pts = None

    def add(self, painted, pts, index):
        av = _import_av()
        pixels = np.clip(np.asarray(painted) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        # Frames without a time (some AVI files) are spaced at the frame rate.
        frame.pts = pts if pts is not None else index * self.frame_step
        frame.time_base = self.time_base
        self.first_pts = frame.pts if self.first_pts is None else self.first_pts
        self.last_pts = frame.pts
        self.output.mux(self.stream.encode(frame))

    def close(self):
        self.output.mux(self.stream.encode(None))

    @property
    def duration_s(self):
        if self.last_pts is None:
            return 0.0
        return round(float((self.last_pts - self.first_pts + self.frame_step) * self.time_base), 3)


class _SoundTrack:
    """Copies the input's sound packets into the output, or re-encodes them."""

    def __init__(self, output, audio, suffix):
        self.output = output
        self.audio = audio
        self.mode = None
        if audio is None:
            return
        name = audio.codec_context.name
        if name in output.supported_codecs:
            self.stream = output.add_stream_from_template(audio)
            self.encoder = None
            self.mode = "copied"
        else:
            codec = AUDIO_FALLBACK_CODECS.get(suffix, DEFAULT_AUDIO_CODEC)
            self.stream = output.add_stream(codec, rate=audio.codec_context.sample_rate)
            self.stream.layout = audio.codec_context.layout
            self.encoder = self.stream
            self.mode = f"re-encoded as {codec}"

    def add(self, packet):
        if self.encoder is None:
            if packet.dts is None:  # the demuxer's end-of-stream marker
                return
            packet.stream = self.stream
            self.output.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # the encoder numbers its own samples
            self.output.mux(self.encoder.encode(frame))

    def close(self):
        if self.audio is not None and self.encoder is not None:
            self.output.mux(self.encoder.encode(None))


# ------------------------------------------------------------------ metrics


def _grey(frame):
    cv2 = _import_cv2()
    return cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), cv2.COLOR_RGB2GRAY)


def _pixel_grid(height, width):
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))


def warp(image, flow, cubic=False):
    """Backward warp: out(x) = image(x + flow(x)), bilinear (or bicubic), edges repeated.

    Args:
        image: (H, W, C) or (H, W) float array.
        flow: (H, W, 2) float (dx, dy) in pixels.
        cubic: Bicubic instead of bilinear interpolation: less blur where a
            picture is warped again and again (the stabilizer's recursion).
    """
    cv2 = _import_cv2()
    columns, rows = _pixel_grid(*flow.shape[:2])
    return cv2.remap(np.asarray(image, np.float32), columns + flow[..., 0], rows + flow[..., 1],
                     cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def inside_frame(flow):
    """Where x + flow(x) lands inside the frame: bool (H, W)."""
    height, width = flow.shape[:2]
    columns, rows = _pixel_grid(height, width)
    x, y = columns + flow[..., 0], rows + flow[..., 1]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def flow_reliability(backward, forward):
    """Where the backward flow (t -> t-1) can be trusted: bool (H, W).

    A pixel is reliable when following the backward flow and then the forward
    flow (t-1 -> t) comes back to it, within `CONSISTENCY_RELATIVE` of the
    squared flow lengths plus `CONSISTENCY_ABSOLUTE_PX2` (Sundaram et al.
    2010, as used for video style transfer by Ruder et al. 2016,
    https://arxiv.org/abs/1604.08610), and lands inside frame t-1. Occluded
    pixels fail: their forward flow belongs to what hides them.
    """
    forward_there = warp(forward, backward)
    round_trip = backward + forward_there
    lengths = (backward ** 2).sum(-1) + (forward_there ** 2).sum(-1)
    consistent = (round_trip ** 2).sum(-1) <= CONSISTENCY_RELATIVE * lengths + CONSISTENCY_ABSOLUTE_PX2
    return consistent & inside_frame(backward)


def optical_flow(previous, current):
    """(backward, reliable): flow from `current` to `previous`, and where it holds.

    OpenCV's Farneback method, for measuring: an estimator independent of the
    DIS flow `FlowStabilizer` uses, so that a stabilizer is not graded by its
    own flow.

    Args:
        previous, current: uint8 RGB frames (H, W, 3).
    """
    cv2 = _import_cv2()
    grey_previous, grey_current = _grey(previous), _grey(current)
    options = dict(pyr_scale=0.5, levels=4, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2,
                   flags=0)
    backward = cv2.calcOpticalFlowFarneback(grey_current, grey_previous, None, **options)
    forward = cv2.calcOpticalFlowFarneback(grey_previous, grey_current, None, **options)
    return backward, flow_reliability(backward, forward)


def warping_error(painted, previous_painted, flow, valid):
    """Mean |painted_t - warp(painted_{t-1}, flow)| over `valid` pixels, in grey levels (0-255).

    Args:
        painted, previous_painted: float (H, W, 3) in [0, 1].
        flow: Backward flow (H, W, 2) from frame t to frame t-1.
        valid: bool (H, W): non-occluded pixels.
    """
    difference = np.abs(np.asarray(painted, np.float32) - warp(previous_painted, flow)).mean(-1)
    return 255.0 * float(difference[valid].mean())


def temporal_warping_error(painted_frames, flows):
    """The mean `warping_error` over consecutive frames.

    Args:
        painted_frames: Sequence of float (H, W, 3) frames in [0, 1].
        flows: One (backward flow, valid) pair per frame after the first
            (from `optical_flow`, or exact for `pan_clip`).
    """
    return float(np.mean([
        warping_error(painted_frames[t], painted_frames[t - 1], *flows[t - 1])
        for t in range(1, len(painted_frames))
    ]))


def mean_deviation(frames, reference_frames):
    """Mean absolute difference in grey levels (0-255): how far stabilized frames stray
    from the frames painted alone (trails and blur both count)."""
    return 255.0 * float(np.mean(np.abs(np.asarray(frames, np.float32)
                                        - np.asarray(reference_frames, np.float32))))


def sharpness_ratio(frames, reference_frames):
    """Mean gradient magnitude of `frames` over that of `reference_frames` (1: as sharp)."""
    def gradient(images):
        images = np.asarray(images, np.float32)
        return np.abs(np.diff(images, axis=-2)).mean() + np.abs(np.diff(images, axis=-3)).mean()
    return float(gradient(frames) / gradient(reference_frames))


def pan_clip(photo, num_frames, size, velocity, start=(0.0, 0.0)):
    """A camera pan over a photo, whose optical flow is known exactly.

    Frame t shows the window of `size` whose top-left corner is
    start + t * velocity (sub-pixel positions resampled bicubically), so every
    pixel x of frame t was at x + velocity in frame t-1.

    Args:
        photo: uint8 or float RGB (H, W, 3), or a PIL image.
        num_frames: Number of frames.
        size: (width, height) of the frames.
        velocity: (dx, dy) in pixels per frame.
        start: (x, y) of the first window's top-left corner.

    Returns:
        (frames uint8 (num_frames, height, width, 3), backward flow (height, width, 2)).

    Raises:
        BadInput: the pan leaves the photo.
    """
    from PIL import Image

    from style_transfer.images import to_pil

    image = photo if isinstance(photo, Image.Image) else to_pil(np.asarray(photo))
    width, height = size
    velocity = np.asarray(velocity, np.float64)
    corners = [np.asarray(start, np.float64) + t * velocity for t in range(num_frames)]
    lowest, highest = np.min(corners, axis=0), np.max(corners, axis=0)
    if lowest.min() < 0 or highest[0] + width > image.width or highest[1] + height > image.height:
        raise BadInput(f"a {num_frames}-frame pan of {width}x{height} at {tuple(velocity)} px per "
                       f"frame from {tuple(start)} leaves the {image.width}x{image.height} photo.")
    frames = np.stack([
        np.asarray(image.resize((width, height), Image.Resampling.BICUBIC,
                                box=(x, y, x + width, y + height)))
        for x, y in corners
    ])
    flow = np.broadcast_to(velocity.astype(np.float32), (height, width, 2)).copy()
    return frames, flow
