"""Video: frames streamed through a painter, stabilized in time, sound kept.

    paint = stylize.painter(model, "style_19")
    stylize_video(paint, "holiday.mp4", "painted.mp4")      # stabilized, sound copied

Reading and writing use PyAV, which ships FFmpeg inside its wheel (the `[video]`
extra): any file FFmpeg reads comes in; frames are decoded, painted and encoded
one at a time, so memory does not grow with the length. Every frame keeps its
presentation time, so the frame rate and duration are the input's (variable
frame rates included); the sound track is copied packet by packet when the
output container accepts its codec, otherwise re-encoded (AAC, or Opus in
WebM). A video whose display matrix turns or mirrors its frames (a phone held
upright records landscape frames and a 90 degree rotation) is painted and
written upright, as players show it and as photos are painted after their
EXIF orientation; non-square pixels keep their aspect ratio; colours are read
with the input's matrix and written as BT.709, tagged. The output is written
under a temporary name and renamed when complete (`files.atomic_path`).

Painting each frame alone flickers; `stabilize` (its `Stabilizer`) steadies
the frames, and holds the metrics of flicker the benchmark and the tests share.
"""

import collections
import contextlib
import dataclasses
import fractions
import heapq
import io
import math
import queue
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.base.extras import import_extra
from style_transfer.base.files import atomic_path, check_destination, check_not_an_input
from style_transfer.painting.config import MIN_PHOTO_PX
from style_transfer.painting.stabilize import _import_cv2

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
# Threads OpenCV (the stabilizer) and the encoder use while a video is painted. The
# pipeline's stages already run side by side beside a network that fills every core: a pool
# of OpenCV threads and x264's frame threads only add the cost of handing work over (a
# 320 x 240 frame: the stabilizer 2.8 ms of CPU on one thread against 4.7 on two, x264 1.6
# against 1.8 ms; BENCHMARKS.md, "Video speed"). None: leave them as they are.
PIPELINE_THREADS = 1
# The output's colours: FFmpeg's (and ITU's) codes for BT.709 (matrix, primaries, transfer)
# and for limited ("MPEG", 16-235) range.
BT709 = 1
LIMITED_RANGE = 1
UNSPECIFIED_MATRIX = 2
# OpenCV numbers cameras from 0; `--frames` counts up to a month at 30 frames a second.
MAX_CAMERA_INDEX = 1023
MAX_FRAMES = 10**8
# Frames held back to put mislabelled presentation times in order (B-frames reorder
# a few frames at most).
REORDER_WINDOW = 16
# Frames a video may fall short of the count its container declares without a warning:
# declared counts are approximate (a duration times an average rate), so a couple of frames
# or a hundredth of them, whichever is more.
SHORTFALL_FRAMES = 2
SHORTFALL_FRACTION = 0.01


class DamagedVideoWarning(UserWarning):
    """Part of a video's data does not decode, or it holds fewer frames than its container
    declares (a file cut short): the frames that decode are painted."""


class SoundLeftOutWarning(UserWarning):
    """The input's sound cannot go into the output as it is: mixed down, or left out."""


def _import_av():
    return import_extra("av", "video", "video")


# ------------------------------------------------------------------ reading


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What `probe` reads from a video file's header.

    Args:
        width: Frame width in pixels, as displayed (after the display matrix's
            rotation).
        height: Frame height in pixels, as displayed.
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
    orientation = _orientation(path)
    with _open_input(path) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        width, height = _displayed((video.codec_context.width, video.codec_context.height),
                                   orientation)
        return VideoInfo(
            width=width, height=height,
            fps=float(_frame_rate(video)), frame_count=video.frames or None,
            duration_s=_duration_s(container, video),
            audio_codec=audio.codec_context.name if audio is not None else None,
        )


def read_frames(path, max_size=None):
    """Yields every frame of a video as uint8 RGB (H, W, 3), upright (see `_orientation`),
    downsized to `max_size`.

    A file damaged or cut short yields the frames that decode, then warns
    (`DamagedVideoWarning`); one of which no frame decodes raises `BadInput`.
    """
    orientation = _orientation(path)
    with _open_input(path) as container:
        video = container.streams.video[0]
        size = output_size(video.codec_context.width, video.codec_context.height, max_size)
        damage = _Damage()
        count = 0
        for frame in _decoded(container, video, damage):
            yield _upright(_rgb(frame, size), orientation)
            count += 1
        incomplete = _incomplete(path, count, damage, _declared_frames(video), "read")
    if incomplete:
        warnings.warn(incomplete, DamagedVideoWarning, stacklevel=2)


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


@dataclasses.dataclass
class _Damage:
    """What of a video stream did not decode, as `_decoded` found it."""

    failures: int = 0        # packets the decoder refused or the demuxer found cut short
    reason: str = None       # FFmpeg's words for the first failure
    frames_before: int = 0   # frames decoded before the first failure
    resumed: bool = False    # whether a whole packet decoded after it
    discarded: int = 0       # packets the container says to leave out (an MP4's edit list)

    def note(self, frames_so_far, reason=None):
        if not self.failures:
            self.frames_before = frames_so_far
        self.failures += 1
        self.reason = self.reason or reason


def _decoded(container, video, damage, other_streams=(), on_packet=None):
    """Decoded frames of `video`; packets of `other_streams` go to `on_packet` as read.

    Data that does not decode is passed over, as players and FFmpeg pass over it: a
    packet the decoder refuses is skipped, and the demuxer failing (a file cut short)
    ends the frames, with those the decoder still holds. What was passed over is noted
    in `damage` (a `_Damage`; `_incomplete` says what it means). `on_packet(None)` means
    that the packets end early, without the demuxer's end-of-stream packets.
    """
    av = _import_av()
    count = 0
    try:
        for packet in container.demux(video, *other_streams):
            if packet.stream is not video:
                on_packet(packet)
                continue
            damage.discarded += getattr(packet, "is_discard", False)  # not in older PyAV
            try:
                frames = packet.decode()
            except av.FFmpegError as error:
                damage.note(count, _ffmpeg_reason(error))
                frames = None
            if frames is not None:
                if packet.is_corrupt:  # cut short, yet decoded (in part)
                    damage.note(count, "its data is cut short")
                elif damage.failures and packet.size:
                    damage.resumed = True
                count += len(frames)
                yield from frames
    except av.FFmpegError as error:  # the demuxer: no further packet can be read
        damage.note(count, _ffmpeg_reason(error))
        damage.resumed = False
        if on_packet is not None:
            on_packet(None)
        try:
            yield from video.decode(None)  # the frames the decoder holds
        except av.FFmpegError:
            pass


def _declared_frames(video):
    """The number of frames the container declares for `video`: its frame count (MP4,
    MOV, AVI), or its duration (a Matroska track's DURATION tag) times its frame rate;
    `None` where it declares neither. Frames it says to leave out are counted."""
    if video.frames:
        return video.frames
    seconds = None
    if video.duration is not None and video.time_base is not None:
        seconds = float(video.duration * video.time_base)
    else:
        tags = {key.upper().split("-")[0]: value for key, value in video.metadata.items()}
        if tags.get("NUMBER_OF_FRAMES", "").isdigit():
            return int(tags["NUMBER_OF_FRAMES"]) or None
        seconds = _tag_seconds(tags.get("DURATION"))
    rate = video.average_rate or video.guessed_rate
    if not seconds or seconds <= 0 or not rate:
        return None
    return round(seconds * float(rate))


def _tag_seconds(tag):
    """Seconds of a Matroska DURATION tag ("00:01:02.500000000"), or `None`."""
    try:
        hours, minutes, seconds = str(tag).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (ValueError, TypeError):
        return None


def _incomplete(path, count, damage, declared, verb):
    """The one-line warning for the video at `path`, whose `count` frames decoded with
    `damage`, when part of it did not decode, or when `count` is clearly below the frames
    its container declares (`declared`: a file cut where a frame ends); `None` when it is
    whole. `verb` says what was done with the frames ("painted").

    Raises:
        BadInput: no frame decoded.
    """
    if count == 0:
        raise BadInput(f"cannot decode {path}: {damage.reason}." if damage.failures else
                       f"{path} has no frame that could be decoded.")
    if declared is not None:
        declared -= damage.discarded
    of = f" (of the {declared} it declares)" if declared is not None and declared > count else ""
    if damage.failures and not damage.resumed:
        message = (f"{path} is damaged after frame {count}{of}; {verb} the {count} frames "
                   f"before it.")
    elif damage.failures:
        pieces = ("piece of its video data does" if damage.failures == 1
                  else "pieces of its video data do")
        message = (f"{path} is damaged: {damage.failures} {pieces} not decode, the first "
                   f"after about frame {damage.frames_before}; {verb} the {count} frames "
                   f"that do.")
    elif declared is not None and declared - count > max(SHORTFALL_FRAMES,
                                                         SHORTFALL_FRACTION * declared):
        message = (f"{path} ends after frame {count} though it declares {declared} frames: "
                   f"it seems cut short; {verb} the {count} frames there are.")
    else:
        message = None
    return message


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
    `max_size`; even sides when resized (4:2:0 video wants them), so an odd `max_size`
    gives a long side one pixel shorter.

    Raises:
        BadInput: a side of the output would be smaller than the network's
            `MIN_PHOTO_PX`.
    """
    if max_size is None or max(width, height) <= max_size:
        size = width, height
    else:
        if max_size < MIN_PHOTO_PX:  # what `--max-size` accepts too
            raise BadInput(f"`max_size` must be at least {MIN_PHOTO_PX} pixels; received "
                           f"{max_size}.")
        scale = max_size / max(width, height)
        # The nearest even sides, but never above `max_size` (an odd one: one pixel less).
        size = tuple(min(max_size // 2 * 2, max(2, int(round(side * scale / 2)) * 2))
                     for side in (width, height))
    if min(size) < MIN_PHOTO_PX:
        downsized = "" if size == (width, height) else f", {size[0]}x{size[1]} once downsized"
        raise BadInput(f"the video's frames are {width}x{height} pixels{downsized}; the "
                       f"network needs at least {MIN_PHOTO_PX}x{MIN_PHOTO_PX}.")
    return size


def _rgb(frame, size):
    """An FFmpeg frame as uint8 RGB (H, W, 3) of `size` (width, height), its colours read
    with the matrix its stream names, or for a stream that names none, with the one players
    assume (`_untagged_matrix`)."""
    width, height = size
    matrix = _untagged_matrix(frame)
    # One thread, as the encoder's conversion (0.04 against 0.09 ms of CPU at 320 x 240).
    if (frame.width, frame.height) == (width, height) and matrix is None:
        return frame.to_ndarray(format="rgb24", threads=1)
    return frame.reformat(width=width, height=height, format="rgb24", src_colorspace=matrix,
                          interpolation="AREA", threads=1).to_ndarray()


def _untagged_matrix(frame):
    """BT.709 for an HD YUV frame whose stream names no colour matrix (players such as mpv
    take BT.709 for frames at least 1280 wide or over 576 high, FFmpeg's conversion takes
    BT.601 whatever the size); `None` to keep FFmpeg's choice."""
    if frame.colorspace != UNSPECIFIED_MATRIX or not frame.format.name.startswith("yuv"):
        return None
    return BT709 if frame.width >= 1280 or frame.height > 576 else None


def _orientation(path):
    """How to turn the frames of the video at `path` upright, as FFmpeg's `-autorotate`
    (and so players) do from the display matrix its decoder attaches to the first frame:
    `(transpose, mirror_columns, mirror_rows)`, applied in that order (`_upright`), or
    `None` when the frames are shown as stored (no matrix, or not a right angle).

    A phone held upright records landscape frames with a matrix that turns them by 90
    degrees; the matrix's 2 x 2 part (16.16 fixed point) gives the angle and the mirrors.
    """
    with _open_input(path) as container:
        video = container.streams.video[0]
        # None when no frame decodes: the painting loop reports it.
        frame = next(iter(_decoded(container, video, _Damage())), None)
        matrix = None if frame is None else next(
            (np.frombuffer(bytes(data), "<i4") for data in _side_data(frame)
             if getattr(data.type, "name", str(data.type)).endswith("DISPLAYMATRIX")
             and len(bytes(data)) == 36), None)
    if matrix is None:
        return None
    a, b, c, d = (float(matrix[index]) / 65536 for index in (0, 1, 3, 4))
    if not (math.hypot(a, c) and math.hypot(b, d)):
        return None
    # FFmpeg's angle, -av_display_rotation_get(matrix), and what `-autorotate` does at it.
    angle = math.degrees(math.atan2(b / math.hypot(b, d), a / math.hypot(a, c))) % 360
    quarter = round(angle / 90)
    if abs(angle - 90 * quarter) >= 1:
        return None  # not a right angle: shown as stored
    quarter %= 4
    if quarter == 1:  # transpose "cclock_flip" (a plain transpose), else "clock"
        return (True, c <= 0, False)
    if quarter == 3:  # transpose "clock_flip", else "cclock"
        return (True, c < 0, True)
    if quarter == 2:  # hflip and / or vflip
        return (False, a < 0, d < 0) if a < 0 or d < 0 else None
    return (False, False, True) if d < 0 else None  # vflip


def _side_data(frame):
    """The frame's side data entries. PyAV up to 18.1.0 iterates them; 18.1.1 iterates
    their types, the keys of the entries."""
    side_data = frame.side_data
    return [item if hasattr(item, "type") else side_data[item] for item in side_data]


def _pixel_aspect(video):
    """The video's pixel (sample) aspect ratio, width over height, or `None` for square
    pixels."""
    aspect = video.codec_context.sample_aspect_ratio or video.sample_aspect_ratio
    return fractions.Fraction(aspect) if aspect and aspect != 1 else None


def _displayed(size, orientation):
    """(width, height) of frames of `size` turned upright by `orientation`."""
    return tuple(reversed(size)) if orientation is not None and orientation[0] else tuple(size)


def _upright(picture, orientation):
    """`picture` (H, W, 3) turned upright: `_orientation`'s transpose and mirrors."""
    if orientation is None:
        return picture
    cv2 = _import_cv2()
    transpose, mirror_columns, mirror_rows = orientation
    if transpose:
        picture = cv2.transpose(picture)
    if mirror_columns or mirror_rows:
        picture = cv2.flip(picture, -1 if mirror_columns and mirror_rows else
                           1 if mirror_columns else 0)
    return picture


# ------------------------------------------------------------------ painting


# Frames painted per call of the network: on the 2-core CPU of BENCHMARKS.md ("Video"),
# batches of 320x240 frames were not faster per frame than single frames, whose
# instance norms run as one fused kernel; the pipeline overlaps the rest instead.
DEFAULT_BATCH_SIZE = 1
# Frames waiting between two stages (memory stays bounded: a few frames per stage).
QUEUE_FRAMES = 4
_END = object()


class _Stopped(Exception):
    """Another stage of the pipeline failed or was interrupted."""


@dataclasses.dataclass
class _Frame:
    """One frame on its way through the pipeline."""

    picture: np.ndarray     # what the network paints: float32 (H, W, 3) in [0, 1]
    motion: object = None   # the stabilizer's `FrameMotion`, or None
    time: object = None     # what the writer needs to place it (presentation time)
    sound: list = dataclasses.field(default_factory=list)  # sound to write before it


def paint_frames(frames, paint, write, *, stabilizer=None, batch_size=DEFAULT_BATCH_SIZE,
                 progress=None, expected=None):
    """Paints a stream of frames with reading, the network and writing running at once.

    Three stages, each in its own thread, joined by short queues: the reader
    draws frames from `frames` and lets the stabilizer find each one's canvas
    (`Stabilizer.prepare`); the calling thread paints canvases with the network,
    `batch_size` at a time (TensorFlow releases the GIL, and so do FFmpeg and
    OpenCV); the writer blends each painting with the previous output
    (`Stabilizer.settle`) and hands it to `write`. The frames come out in order; a
    stabilizer that looks ahead (`--stabilize lookahead`) hands them over some frames
    late, and the rest at the end (or on Ctrl-C: `KeyboardInterrupt` still propagates,
    after they are written).

    Args:
        frames: Iterable of (frame uint8 RGB (H, W, 3), time, sound) triples,
            drawn in the reader thread; time and sound go to `write` unchanged.
        paint: photo (H, W, 3) float32 in [0, 1] -> painting; its `many`
            attribute, if any, paints a batch (B, H, W, 3) in one call
            (`stylize.painter`'s does).
        write: Called in the writer thread as `write(output, time, sound)`,
            output uint8 RGB (H, W, 3), in frame order.
        stabilizer: A `stabilize.Stabilizer`, or `None` for frame-by-frame painting.
        batch_size: Frames per call of the network.
        progress: Called as `progress(frames_written, expected)` after every frame.
        expected: The number of frames expected, for `progress` (or None).

    Returns:
        The number of frames written.
    """
    paint_many = getattr(paint, "many", None) or (
        lambda pictures: [paint(picture) for picture in pictures])
    stop = threading.Event()
    prepared = queue.Queue(max(QUEUE_FRAMES, 2 * batch_size))
    painted = queue.Queue(max(QUEUE_FRAMES, 2 * batch_size))
    errors = []
    written = 0
    placed = collections.deque()   # (time, sound) of the frames the stabilizer holds back
    interrupted = threading.Event()

    def read():
        try:
            for frame, time_, sound in frames:
                motion = None if stabilizer is None else stabilizer.prepare(frame)
                picture = (frame.astype(np.float32) * np.float32(1 / 255) if motion is None
                           else motion.canvas)
                _put(prepared, _Frame(picture, motion, time_, sound), stop)
            _put(prepared, _END, stop)
        except _Stopped:
            pass
        except BaseException as error:
            errors.append(error)
            stop.set()

    def emit(pictures):
        nonlocal written
        for picture in pictures:
            time_, sound = placed.popleft()
            write(picture, time_, sound)
            written += 1
            if progress is not None:
                progress(written, expected)

    def write_all():
        try:
            while (item := _get(painted, stop)) is not _END:
                frame, picture = item
                picture = images.to_uint8(picture)
                placed.append((frame.time, frame.sound))
                emit([picture] if frame.motion is None else
                     stabilizer.settle(frame.motion, frame.motion.from_canvas(picture)))
            if stabilizer is not None:
                emit(stabilizer.flush())
        except _Stopped:
            if interrupted.is_set() and stabilizer is not None:
                try:  # Ctrl-C: the frames a lookahead holds back are written, not lost
                    emit(stabilizer.flush())
                except BaseException as error:
                    errors.append(error)
        except BaseException as error:
            errors.append(error)
            stop.set()

    reader = threading.Thread(target=read, name="video-reader", daemon=True)
    writer = threading.Thread(target=write_all, name="video-writer", daemon=True)
    # OpenCV (the stabilizer) on the pipeline's threads while the stages run.
    with contextlib.nullcontext() if stabilizer is None else _opencv_threads(PIPELINE_THREADS):
        reader.start()
        writer.start()
        try:
            finished = False
            while not finished:
                batch = []
                while len(batch) < batch_size and not finished:
                    item = _get(prepared, stop)
                    finished = item is _END
                    if not finished:
                        batch.append(item)
                if batch:
                    pictures = paint_many(np.stack([frame.picture for frame in batch]))
                    for frame, picture in zip(batch, pictures):
                        _put(painted, (frame, picture), stop)
            _put(painted, _END, stop)
        except _Stopped:
            pass
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                interrupted.set()
            stop.set()
            raise
        finally:
            writer.join()  # it returns after the end marker, or when stopped
            stop.set()     # the reader may be waiting on a full queue
            reader.join()
    if errors:
        raise errors[0]
    return written


_opencv_lock = threading.Lock()
_opencv_users = [0, None]   # pipelines running, OpenCV's thread count before the first


@contextlib.contextmanager
def _opencv_threads(count):
    """OpenCV on `count` threads while any pipeline runs (its setting is the process's:
    the first pipeline to start sets it, the last to end puts the previous one back)."""
    if count is None:
        yield
        return
    cv2 = _import_cv2()
    with _opencv_lock:
        if _opencv_users[0] == 0:
            _opencv_users[1] = cv2.getNumThreads()
            cv2.setNumThreads(count)
        _opencv_users[0] += 1
    try:
        yield
    finally:
        with _opencv_lock:
            _opencv_users[0] -= 1
            if _opencv_users[0] == 0:
                cv2.setNumThreads(_opencv_users[1])


def _put(channel, item, stop):
    while True:
        if stop.is_set():
            raise _Stopped()
        try:
            channel.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


def _get(channel, stop):
    while True:
        if stop.is_set():
            raise _Stopped()
        try:
            return channel.get(timeout=0.05)
        except queue.Empty:
            continue


# ------------------------------------------------------------------ writing


def stylize_video(paint, source, destination, *, stabilizer=None, max_size=None,
                  overwrite=False, progress=None, batch_size=DEFAULT_BATCH_SIZE):
    """Paints every frame of a video file; keeps its timing and sound.

    Decoding, the stabilizer, the network and encoding run at once
    (`paint_frames`). A file damaged or cut short is painted as far as it decodes
    (its sound as far as that decodes), with a `DamagedVideoWarning`: as players
    play it.

    Args:
        paint: photo (H, W, 3) float32 in [0, 1] -> painting, e.g. from
            `stylize.painter` (whose `paint.many` paints batches).
        source: Any video file FFmpeg reads.
        destination: The output file; its extension picks the container
            (.mp4, .m4v, .mov, .mkv: H.264; .webm: VP9).
        stabilizer: A `stabilize.Stabilizer` (`stabilize.make_stabilizer`), or
            `None` for frame-by-frame painting.
        max_size: Downsize frames whose long side is larger.
        overwrite: Replace an existing `destination`.
        progress: Called as `progress(frames_done, frames_expected)` after
            every frame (`frames_expected` from the header, or `None`).
        batch_size: Frames per call of the network.

    Returns:
        A record: input, output, frames, fps, duration_s, size [width,
        height], audio ("copied", "re-encoded as CODEC", "re-encoded as CODEC,
        mixed down to stereo" or None), seconds.

    Raises:
        BadInput: an unreadable input or one of which no frame decodes, an output extension
            that is not a video container, an output that exists (without
            `overwrite`) or is the input.
    """
    av = _import_av()
    started = time.perf_counter()
    source, destination = Path(source), Path(destination)
    codec = video_codec(destination)
    check_not_an_input(destination, [source])
    check_destination(destination, overwrite)
    orientation = _orientation(source)
    with _open_input(source) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        width, height = video.codec_context.width, video.codec_context.height
        # Non-square pixels (DV, HDV, anamorphic DVD) keep their aspect in the output; VP9
        # in WebM cannot carry it, so there the frames are widened to square pixels.
        aspect = _pixel_aspect(video)
        if aspect is not None and codec == "libvpx-vp9":
            width, aspect = max(2, round(width * aspect)), None
        size = output_size(width, height, max_size)
        if aspect is not None and orientation is not None and orientation[0]:
            aspect = 1 / aspect  # the pixels turn with the frame
        expected = video.frames or None
        damage = _Damage()
        with atomic_path(destination, overwrite=overwrite) as temporary:
            with av.open(str(temporary), "w") as output:
                # Read while the input is open: PyAV refuses (18.1.1) or crashes (18.1.0) on
                # a stream's attributes after its container closes.
                rate = _frame_rate(video)
                encoder = _VideoEncoder(output, codec, _displayed(size, orientation),
                                        rate, video.time_base, aspect)
                sound = _SoundTrack(output, audio, destination.suffix.lower(), source)

                def frames():
                    pending = []
                    decoded = _decoded(container, video, damage, [audio] if audio else [],
                                       lambda packet: pending.extend(sound.take(packet)))
                    for frame, pts in _with_display_times(decoded):
                        yield _upright(_rgb(frame, size), orientation), pts, pending[:]
                        pending.clear()
                    if pending:
                        yield None, None, pending[:]

                def write(picture, pts, pieces):
                    sound.write(pieces)
                    encoder.add(picture, pts, encoder.count)

                count = paint_frames(_sound_at_end(frames(), sound), paint, write,
                                     stabilizer=stabilizer, batch_size=batch_size,
                                     progress=progress, expected=expected)
                incomplete = _incomplete(source, count, damage, _declared_frames(video),
                                         "painted")
                encoder.close()
                sound.close()
    if incomplete:
        warnings.warn(incomplete, DamagedVideoWarning, stacklevel=2)
    return {"input": str(source), "output": str(destination), "frames": count,
            "fps": round(float(rate), 3),
            "duration_s": encoder.duration_s, "size": list(_displayed(size, orientation)),
            "audio": sound.mode,
            "seconds": round(time.perf_counter() - started, 3)}


def _sound_at_end(frames, sound):
    """`frames` without the last (None, None, sound) item, whose sound the track keeps to
    write when it closes (sound after the last picture has no frame to ride with)."""
    for frame, pts, pieces in frames:
        if frame is None:
            sound.trailing.extend(pieces)
            return
        yield frame, pts, pieces


def stylize_camera(paint, camera, destination, *, stabilizer=None, max_size=None,
                   max_frames=None, overwrite=False, progress=None,
                   batch_size=DEFAULT_BATCH_SIZE):
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
    grabbed, bgr = capture.read()
    if not grabbed:
        capture.release()
        raise BadInput(f"camera {camera} gave no frame.")
    size = output_size(bgr.shape[1], bgr.shape[0], max_size)
    interrupted = threading.Event()

    def frames():
        nonlocal bgr
        count = 0
        while bgr is not None and (max_frames is None or count < max_frames):
            if interrupted.is_set():
                return
            picture = np.ascontiguousarray(bgr[..., ::-1])
            if picture.shape[1::-1] != size:
                picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            yield picture, count, []
            count += 1
            grabbed, bgr = capture.read()
            if not grabbed:
                bgr = None

    try:
        with atomic_path(destination, overwrite=overwrite) as temporary:
            with av.open(str(temporary), "w") as output:
                encoder = _VideoEncoder(output, codec, size, fps, 1 / fps)

                def write(picture, index, _):
                    encoder.add(picture, index, index)

                try:
                    count = paint_frames(frames(), paint, write, stabilizer=stabilizer,
                                         batch_size=batch_size, progress=progress,
                                         expected=max_frames)
                except KeyboardInterrupt:
                    count = encoder.count
                encoder.close()
    finally:
        capture.release()
    return {"input": f"camera {camera}", "output": str(destination), "frames": count,
            "fps": round(float(fps), 3), "duration_s": encoder.duration_s, "size": list(size),
            "audio": None, "seconds": round(time.perf_counter() - started, 3)}


def video_codec(destination):
    """The video codec for an output file name (its extension); a `BadInput` otherwise."""
    suffix = destination.suffix.lower()
    if suffix not in VIDEO_CODECS:
        raise BadInput(f"`out` {destination}: a video file must end in "
                       f"{', '.join(VIDEO_CODECS)}; received {suffix or 'no extension'}.")
    return VIDEO_CODECS[suffix]


class _VideoEncoder:
    """Encodes painted frames with their input presentation times into one video stream."""

    def __init__(self, output, codec, size, rate, time_base, pixel_aspect=None):
        self.output = output
        self.stream = output.add_stream(codec, rate=rate, options=VIDEO_QUALITY.get(codec, {}))
        self.stream.width, self.stream.height = size
        if PIPELINE_THREADS is not None:
            self.stream.codec_context.thread_count = PIPELINE_THREADS
        if pixel_aspect is not None:
            self.stream.codec_context.sample_aspect_ratio = pixel_aspect
        # 4:2:0 halves the chroma resolution, so it needs even sides; 4:4:4 does not.
        self.stream.pix_fmt = "yuv420p" if size[0] % 2 == 0 and size[1] % 2 == 0 else "yuv444p"
        # BT.709, limited range, converted so and said so: an untagged stream leaves the
        # matrix to the player, and players take BT.709 for HD where FFmpeg's default
        # conversion is BT.601 (pure red would show as (255, 25, 0)).
        context = self.stream.codec_context
        context.colorspace, context.color_range = BT709, LIMITED_RANGE
        context.color_primaries, context.color_trc = BT709, BT709
        self.time_base = fractions.Fraction(time_base) if time_base else 1 / fractions.Fraction(rate)
        self.stream.codec_context.time_base = self.time_base
        self.frame_step = round(1 / (rate * self.time_base)) or 1
        self.first_pts = None
        self.last_pts = None
        self.count = 0

    def add(self, painted, pts, index):
        av = _import_av()
        pixels = painted if painted.dtype == np.uint8 else images.to_uint8(painted)
        # One thread: the pipeline's stages already run side by side, and on a 320 x 240
        # frame FFmpeg's threads cost more than they save (0.3 against 0.8 ms of CPU).
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(
            format=self.stream.pix_fmt, dst_colorspace=BT709, dst_color_range=LIMITED_RANGE,
            dst_color_trc=BT709, dst_color_primaries=BT709, threads=1)
        # Frames without a time (some AVI files) are spaced at the frame rate.
        frame.pts = pts if pts is not None else index * self.frame_step
        frame.time_base = self.time_base
        self.first_pts = frame.pts if self.first_pts is None else self.first_pts
        self.last_pts = frame.pts
        self.output.mux(self.stream.encode(frame))
        self.count += 1

    def close(self):
        self.output.mux(self.stream.encode(None))

    @property
    def duration_s(self):
        if self.last_pts is None:
            return 0.0
        return round(float((self.last_pts - self.first_pts + self.frame_step) * self.time_base), 3)


def _copies(source, format_name):
    """Whether the first sound track of the video `source` can be copied as it is into a
    container of `format_name`: some codecs that a container lists are refused only as a
    file is written (FLAC in .mov, PCM whose channels name no order in .mp4), so one of its
    packets is written into a file in memory first."""
    av = _import_av()
    with av.open(str(source), "r") as container:
        audio = container.streams.audio[0]
        try:
            with av.open(io.BytesIO(), "w", format=format_name) as trial:
                stream = trial.add_stream_from_template(audio)
                packet = next((packet for packet in container.demux(audio)
                               if packet.dts is not None), None)
                if packet is not None:
                    packet.stream = stream
                    trial.mux(packet)
        except (av.FFmpegError, ValueError):
            return False
    return True


def _named_layout(layout):
    """`layout`, or for channels in no named order (PCM in Matroska), FFmpeg's default
    layout for their number, as FFmpeg's own tools take them (one is mono, two stereo,
    six 5.1): encoders take named channels only. `None` for a number of unnamed channels
    that FFmpeg names no layout for (nine, say)."""
    if all(channel.name == "NONE" for channel in layout.channels):
        av = _import_av()
        try:
            return av.AudioLayout(f"{layout.nb_channels}c")
        except (av.FFmpegError, ValueError):
            return None
    return layout


def _encoder_opens(codec, layout, rate):
    """Whether the encoder `codec` takes sound of `layout` at `rate` (AAC takes 5.1, Opus
    takes 3.0 but not 2.1, neither takes 12 channels in no named order): an encoder is
    opened to see."""
    av = _import_av()
    context = av.CodecContext.create(codec, "w")
    try:
        context.layout, context.sample_rate = layout, rate
        context.format = context.codec.audio_formats[0]
        context.open()
    except (av.FFmpegError, ValueError):
        return False
    return True


def _encoder_layout(codec, layout, rate):
    """The channel layout to re-encode sound of `layout` as with `codec`, and whether that
    mixes it down: its own (its channels named as FFmpeg names them, `_named_layout`) where
    the encoder takes it, else stereo, mixed down (FFmpeg's resampler mixes named channels,
    so does a player); `(None, False)` where neither is possible (too many channels in no
    named order)."""
    named = _named_layout(layout)
    for candidate in (named, layout):
        if candidate is not None and _encoder_opens(codec, candidate, rate):
            return candidate, False
    if named is not None and _encoder_opens(codec, "stereo", rate):
        return "stereo", True
    return None, False


def _encoder_rate(codec, rate):
    """The sample rate to re-encode sound of `rate` at: its own, or where `codec` does not
    take it (Opus takes 8 to 48 kHz, not the 44.1 kHz of most AAC), the next one up that it
    takes (the encoder resamples)."""
    rates = _import_av().codec.Codec(codec, "w").audio_rates
    if not rates or rate in rates:
        return rate
    return min((taken for taken in rates if taken >= rate), default=max(rates))


class _SoundTrack:
    """Copies the input's sound packets into the output, or re-encodes them."""

    def __init__(self, output, audio, suffix, source):
        self.output = output
        self.audio = audio
        self.mode = None
        self.trailing = []
        if audio is None:
            return
        name = audio.codec_context.name
        if name in output.supported_codecs and _copies(source, output.format.name):
            self.stream = output.add_stream_from_template(audio)
            self.encoder = None
            self.mode = "copied"
        else:
            codec = AUDIO_FALLBACK_CODECS.get(suffix, DEFAULT_AUDIO_CODEC)
            rate = _encoder_rate(codec, audio.codec_context.sample_rate)
            channels = audio.codec_context.layout
            layout, mixed_down = _encoder_layout(codec, channels, rate)
            if layout is None:
                warnings.warn(f"{source}: its sound's {channels.nb_channels} channels, in no "
                              f"order FFmpeg names, cannot be encoded as {codec} for a "
                              f"{suffix} file; the output has no sound (an .mkv output "
                              f"can keep it).", SoundLeftOutWarning, stacklevel=3)
                self.audio = None
                return
            self.stream = output.add_stream(codec, rate=rate)
            self.stream.layout = layout
            self.encoder = self.stream
            self.mode = f"re-encoded as {codec}"
            if mixed_down:
                self.mode += ", mixed down to stereo"
                described = ("" if channels.name.endswith(" channels")
                             else f" ({channels.name})")
                warnings.warn(f"{source}: {codec} for a {suffix} file takes no sound of "
                              f"{channels.nb_channels} channels{described}; it is mixed down "
                              f"to stereo (an .mkv output can keep every channel).",
                              SoundLeftOutWarning, stacklevel=3)

    def take(self, packet):
        """What a demuxed sound packet becomes in the output (in the reading thread):
        the packet itself, or its decoded samples to re-encode. `None` ends the sound
        early (a file cut short): the decoder gives what it holds. Sound that does not
        decode is passed over, as players pass over it."""
        if self.audio is None:
            return []
        if self.encoder is None:
            # No dts: the end-of-stream marker; a packet cut short is left out.
            return [] if packet is None or packet.dts is None or packet.is_corrupt else [packet]
        try:
            return list(self.audio.decode(packet))
        except _import_av().FFmpegError:
            return []

    def write(self, pieces):
        """Writes what `take` returned (in the writing thread)."""
        for piece in pieces:
            if self.encoder is None:
                piece.stream = self.stream
                self.output.mux(piece)
            else:
                piece.pts = None  # the encoder numbers its own samples
                self.output.mux(self.encoder.encode(piece))

    def close(self):
        self.write(self.trailing)
        self.trailing = []
        if self.audio is not None and self.encoder is not None:
            self.output.mux(self.encoder.encode(None))



