"""Steady video: paint each frame where the previous one was painted, then blend what remains.

Painting each frame alone flickers, for two reasons the benchmark measured
(BENCHMARKS.md, "Video"):

- **The grid.** The network's two stride-2 convolutions make its brush pattern
  depend on where content falls on a 4-pixel grid (and on sub-pixel shifts), so
  on a camera pan the same wall gets a new pattern in every frame.
- **Noise.** On flat, still areas the network turns camera noise of one grey
  level into brush strokes that differ by 15 levels from frame to frame.

`Stabilizer` attacks both before the network runs, then blends:

1. **Camera motion.** Corners tracked from frame to frame (Lucas-Kanade) give
   the camera's translation when most of them agree across the picture;
   otherwise the camera is taken as still (a moving hand is not a pan).
2. **A canvas that follows the camera.** Each frame is painted shifted by the
   camera's accumulated motion (modulo the 4-pixel grid, sub-pixel parts
   resampled), so that content keeps its place on the network's grid and gets
   the same brush pattern in every frame; the painting is shifted back.
3. **Held pixels.** While the camera is still, canvas pixels that changed by
   less than the camera's noise (`hold_levels`) keep the previous frame's
   values exactly, so the network sees the same input where nothing changed.
4. **Blending what remains.** The painting is blended with the previous output
   warped onto it, along the camera's motion where that explains the pixel and
   along OpenCV's DIS optical flow elsewhere, only where the warp is reliable
   (the warped previous frame matches this one), so that things that move or
   appear are not smeared into trails.

Steps 1-3 need only the input frames and step 4 only the previous output, so a
pipeline runs `prepare` for frame t+1 while the network paints frame t and
`finish` blends frame t-1 (`style_transfer.painting.video`).

Carrying instance-norm statistics from frame to frame was measured too and
changed the flicker by at most 5%: it is not offered.

The metrics (`temporal_warping_error`, `mean_deviation`, `sharpness_ratio`) and
a clip with exactly known motion (`pan_clip`) are here so that the benchmark
and the tests measure the same thing.
"""

import dataclasses
import math

import numpy as np

from style_transfer.base.errors import BadInput
from style_transfer.base.extras import import_extra
from style_transfer.painting.lookahead import STILL_PX, PixelHold

STABILIZE_METHODS = ("canvas", "lookahead", "flow", "none")
# Weight of the warped previous output where the warp is reliable. With the canvas,
# 0.5 halves the warping error of frame-by-frame painting on the benchmark's pan and
# real clips at a deviation under half the peer's (BENCHMARKS.md, "Video").
DEFAULT_STABILIZE_WEIGHT = 0.5
# A still camera's pixels that changed by less than this (grey levels, the largest
# channel, averaged over 5x5 pixels) are held: about three times the noise of the
# benchmark's phone and surveillance clips, under what an eye sees.
DEFAULT_HOLD_LEVELS = 5.0
HOLD_WINDOW_PX = 5
# The network's grid: two stride-2 convolutions.
GRID_PX = 4
# Motion is measured on frames downsized to this long side: at 320 px it cost twice the
# time and bought no steadier video on the benchmark's clips.
FLOW_PX = 160
# Pixels whose flow is not the camera's are remapped within their bounding box (the rest is
# one translation) unless the box covers more than this share of the frame.
LOCAL_BOX_SHARE = 0.5
# Frames smaller than this on a side are painted alone (DIS needs 12 px).
MIN_FLOW_PX = 16
# Camera motion: corners tracked, the share that must agree, and how closely.
MAX_CORNERS = 50
LK_WINDOW_PX = 11
MIN_CORNERS = 8
AGREE_PX = 0.5
# Under this median motion (pixels per frame at the flow's size) the camera is still; the
# benchmark's still shots (cup, vtest) stay still with it, and a pan of a third of a pixel
# per frame (10 px a second at 30 fps) is followed.
MIN_CAMERA_SHIFT_PX = 0.05
AGREEING_SHARE = 0.5
# The agreeing corners must span this share of the frame's width and height.
SPREAD_SHARE = 0.5
# The warp is reliable where the previous frame, warped, matches this one within this
# many grey levels (mean over a window of MATCH_WINDOW_PX per 320 px of width); the
# camera's motion is preferred to the local flow unless the flow matches better by more
# than CAMERA_PREFERENCE_LEVELS (the flow wanders on flat walls).
RELIABLE_LEVELS = 12.0
CAMERA_PREFERENCE_LEVELS = 2.0
MATCH_WINDOW_PX = 7
# Forward-backward consistency of a measured flow (`flow_reliability`, Sundaram et al.
# 2010; Ruder et al. 2016): |back + forward(x + back)|^2 <= A (|back|^2 + |forward|^2) + B.
# B is 2 px^2 rather than Ruder et al.'s 0.5: flows on flat walls are accurate to about
# a pixel; an occlusion's round trip is off by the occluder's motion, several px.
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE_PX2 = 2.0


@dataclasses.dataclass
class FrameMotion:
    """What `Stabilizer.prepare` found for one frame.

    Args:
        canvas: The picture the network paints: the frame shifted by `offset`,
            float32 (H, W, 3) in [0, 1], with held pixels from the previous canvas.
        offset: (dx, dy) in pixels: canvas(c) = frame(c - offset).
        flow: Backward flow (H, W, 2) from this frame to the previous one, or
            `None` for a first frame.
        reliable: bool (H, W): where the previous output can be warped onto this
            frame, or `None`.
        camera_shift: (dx, dy): the camera's translation since the previous frame
            (content at x was at x + camera_shift), (0, 0) when still.
        held_share: Share of the canvas's pixels held from the previous canvas.
        local: bool (H, W): the pixels whose flow is not the camera's translation
            (widened by a pixel or two), or `None` where every pixel's is.
    """

    canvas: np.ndarray
    offset: tuple = (0.0, 0.0)
    flow: np.ndarray = None
    reliable: np.ndarray = None
    camera_shift: tuple = (0.0, 0.0)
    held_share: float = 0.0
    local: np.ndarray = None

    def from_canvas(self, painting):
        """A painting of the canvas shifted back onto the frame: out(x) = painting(x + offset)."""
        if not any(self.offset):
            return painting
        return _translated(painting, -self.offset[0], -self.offset[1])


class Stabilizer:
    """Steady painted video: a canvas that follows the camera, held pixels, a reliable blend.

        canvas_t(c) = frame_t(c - o_t),  o_t = o_{t-1} + g_t (mod 4 px)
        out_t = p_t + w r_t (warp(out_{t-1}, flow_t) - p_t)

    where g_t is the camera's translation (content at x in frame t was at
    x + g_t in frame t-1), p_t the network's painting of canvas_t shifted back,
    flow_t the backward flow (the camera's motion where it explains the pixel,
    DIS optical flow elsewhere) and r_t in {0, 1} where the warp is reliable.
    While the camera is still, canvas pixels within `hold_levels` of the
    previous canvas are the previous canvas's. See the module docstring.

    `prepare` and `finish` each keep their own state: they may run in two
    threads, each called in frame order.

    Args:
        weight: w in [0, 1): how much of the warped previous output is kept.
        follow_camera: Paint on a canvas that follows the camera (step 2).
        hold_levels: Hold still pixels that changed by less than this many grey
            levels (0: never).
        preset: DIS preset, "ultrafast", "fast" or "medium".
        flow_px: Long side of the frames the flow is computed on.
    """

    PRESETS = ("ultrafast", "fast", "medium")

    def __init__(self, weight=DEFAULT_STABILIZE_WEIGHT, follow_camera=True,
                 hold_levels=DEFAULT_HOLD_LEVELS, preset="fast", flow_px=FLOW_PX):
        if not 0.0 <= weight < 1.0:
            raise BadInput(f"the stabilization weight must be in [0, 1); received {weight!r}.")
        if preset not in self.PRESETS:
            raise BadInput(f"unknown optical flow preset {preset!r}; choose one of "
                           f"{', '.join(self.PRESETS)}.")
        if hold_levels < 0:
            raise BadInput(f"`hold_levels` must be at least 0; received {hold_levels!r}.")
        cv2 = _import_cv2()
        self.weight = float(weight)
        self.follow_camera = follow_camera
        self.hold_levels = float(hold_levels)
        self.flow_px = int(flow_px)
        self._dis = cv2.DISOpticalFlow_create(
            getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset.upper()}"))
        self._grids = {}
        self.reset()

    def reset(self):
        """Forgets the previous frame (the next one is painted as if it were the first)."""
        self._previous_grey = None
        self._previous_small = None
        self._previous_canvas = None
        self._offset = np.zeros(2)
        self._previous_output = None

    def prepare(self, frame):
        """The canvas to paint for `frame` (uint8 RGB (H, W, 3)) and its motion (a
        `FrameMotion`)."""
        cv2 = _import_cv2()
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        previous, previous_small = self._previous_grey, self._previous_small
        # Motion is measured on frames downsized to `flow_px`, each downsized once.
        scale = min(1.0, self.flow_px / max(grey.shape))
        small = grey if scale == 1.0 else cv2.resize(
            grey, (max(8, round(grey.shape[1] * scale)), max(8, round(grey.shape[0] * scale))),
            interpolation=cv2.INTER_AREA)
        self._previous_grey, self._previous_small = grey, small
        if previous is None or previous.shape != grey.shape or min(grey.shape) < MIN_FLOW_PX:
            self._offset = np.zeros(2)
            self._previous_canvas = frame
            return FrameMotion(_as_float(frame))
        flow, reliable, shift, local = self._motion(small, previous_small, grey.shape, scale)
        if self.follow_camera:
            self._offset = (self._offset + shift + GRID_PX / 2) % GRID_PX - GRID_PX / 2
        offset = (float(self._offset[0]), float(self._offset[1]))
        # Shifted and held as uint8 (OpenCV's fastest paths, exact comparisons), then float.
        canvas = _translated(frame, *offset) if any(offset) else frame.copy()
        held = 0.0
        if self.hold_levels > 0 and not shift.any():
            held = _hold(canvas, self._previous_canvas, self.hold_levels)
        self._previous_canvas = canvas
        return FrameMotion(_as_float(canvas), offset, flow, reliable,
                           (float(shift[0]), float(shift[1])), held, local)

    def finish(self, motion, painted):
        """The stabilized frame: `painted`, the frame's painting (e.g.
        `motion.from_canvas(paint(motion.canvas))`), blended with the previous output.

        `painted` is float (H, W, 3) in [0, 1], or uint8 (the video pipeline's:
        a quarter of the memory to warp and blend); the output has its type.
        """
        cv2 = _import_cv2()
        painted = np.asarray(painted)
        if painted.dtype != np.uint8:
            painted = painted.astype(np.float32, copy=False)
        output = painted
        previous = self._previous_output
        if (motion.flow is not None and previous is not None and self.weight > 0
                and previous.shape == painted.shape and previous.dtype == painted.dtype):
            warped = self._warped_previous(previous, motion)
            output = cv2.addWeighted(warped, self.weight, painted, 1.0 - self.weight, 0.0)
            # Where the warp is unreliable, the painting alone (OpenCV's masked copy: a
            # hundredth of the time of numpy's `copyto` with a broadcast mask).
            cv2.copyTo(painted, (~motion.reliable).view(np.uint8), output)
        self._previous_output = output
        return output

    # Whether frames come out of `settle` late (`LookaheadStabilizer`).
    lookahead = False

    def settle(self, motion, painted):
        """The frames settled by this one, oldest first: here `[finish(motion, painted)]`;
        a stabilizer that looks ahead returns them later (and from `flush`)."""
        return [self.finish(motion, painted)]

    def flush(self):
        """The frames still held back at the end of a video: none here."""
        return []

    def __call__(self, frame, paint):
        """`finish(prepare(frame), ...)` with `paint(canvas)` -> painting of the canvas."""
        motion = self.prepare(frame)
        return self.finish(motion, motion.from_canvas(paint(motion.canvas)))

    def _warped_previous(self, previous, motion):
        """The previous output warped onto this frame along `motion.flow`, bicubic: each
        output is warped again at the next frame, and bilinear interpolation would blur
        it a little more every time.

        Where the flow is the camera's translation (every pixel on a pan or a still
        camera, most of them with something moving in front), the warp is that
        translation, a separable filter (`_translated`: 0.3 ms on a 320 x 240 frame
        against 1.1 ms for `cv2.remap`); the other pixels are remapped within their
        bounding box, or the whole frame when that box covers most of it.
        """
        cv2 = _import_cv2()
        local = motion.local
        if local is not None:
            rows, columns = np.flatnonzero(local.any(axis=1)), np.flatnonzero(local.any(axis=0))
            top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
            if (bottom - top) * (right - left) > LOCAL_BOX_SHARE * local.size:
                return self._warp(previous, motion.flow, cubic=True)
        shift_x, shift_y = motion.camera_shift
        # out(x) = previous(x + shift) = previous translated by -shift
        warped = (_translated(previous, -shift_x, -shift_y, replicate=True)
                  if shift_x or shift_y else previous)
        if local is None:
            return warped
        warped = warped.copy() if warped is previous else warped
        grid_columns, grid_rows = self._grid(local.shape)
        box = (slice(top, bottom), slice(left, right))
        flow = motion.flow[box]
        region = cv2.remap(previous, grid_columns[box] + flow[..., 0],
                           grid_rows[box] + flow[..., 1], cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REPLICATE)
        inside = local[box]
        warped[box][inside] = region[inside]
        return warped

    # -------------------------------------------------------------- motion

    def _motion(self, grey, previous, full_shape, scale):
        """(flow (H, W, 2), reliable (H, W), camera shift (2,), local (H, W) or `None`)
        from frame t-1 to frame t, measured on `grey` and `previous` (the frames downsized
        by `scale` from `full_shape`); `local` marks the pixels whose flow is not the
        camera's translation (see `FrameMotion`)."""
        cv2 = _import_cv2()
        height, width = full_shape
        shift = camera_shift(grey, previous)
        local = self._dis.calc(grey, previous, None)
        current, earlier = grey.astype(np.float32), previous.astype(np.float32)
        window = (max(3, round(MATCH_WINDOW_PX * grey.shape[1] / 320) | 1),) * 2
        local_mismatch = cv2.blur(np.abs(current - self._warp(earlier, local)), window)
        if shift.any():
            # The camera's translation by an affine warp: bilinear as the remap, a tenth
            # of its time (no per-pixel maps).
            translation = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
            camera_mismatch = cv2.blur(np.abs(current - cv2.warpAffine(
                earlier, translation, (grey.shape[1], grey.shape[0]),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE)), window)
        else:
            camera_mismatch = cv2.blur(np.abs(current - earlier), window)
        use_camera = camera_mismatch <= local_mismatch + CAMERA_PREFERENCE_LEVELS
        if use_camera.all():
            # One translation everywhere: the flow is a view of the shift, not an array.
            reliable = camera_mismatch <= RELIABLE_LEVELS
            if scale < 1.0:
                reliable = cv2.resize(reliable.view(np.uint8), (width, height),
                                      interpolation=cv2.INTER_NEAREST).view(bool)
                shift = shift / scale
            # The pixels the translation brings from outside the frame form a band
            # along the edges.
            reliable &= _inside_translation(height, width, shift)
            flow = np.broadcast_to(shift.astype(np.float32), (height, width, 2))
            return flow, reliable, shift, None
        camera = np.broadcast_to(shift.astype(np.float32), local.shape)
        flow = np.where(use_camera[..., None], camera, local)
        reliable = np.where(use_camera, camera_mismatch, local_mismatch) <= RELIABLE_LEVELS
        # Widened by a pixel: the flow is interpolated across the border when upsized.
        moving = cv2.dilate((~use_camera).view(np.uint8), np.ones((3, 3), np.uint8))
        if scale < 1.0:
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) / scale
            reliable = cv2.resize(reliable.view(np.uint8), (width, height),
                                  interpolation=cv2.INTER_NEAREST).view(bool)
            moving = cv2.resize(moving, (width, height), interpolation=cv2.INTER_NEAREST)
            shift = shift / scale
        columns, rows = self._grid(flow.shape[:2])
        x, y = columns + flow[..., 0], rows + flow[..., 1]
        reliable &= (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
        return flow, reliable, shift, moving.view(bool)

    def _grid(self, shape):
        if shape not in self._grids:
            self._grids[shape] = _pixel_grid(*shape)
        return self._grids[shape]

    def _warp(self, image, flow, cubic=False):
        cv2 = _import_cv2()
        columns, rows = self._grid(flow.shape[:2])
        return cv2.remap(image, columns + flow[..., 0], rows + flow[..., 1],
                         cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)


class LookaheadStabilizer(Stabilizer):
    """`Stabilizer` (the canvas, held pixels and the blend), then each still pixel's levels
    chosen with the frames ahead known (`--stabilize lookahead`; the method is
    `lookahead`'s, its docstring says why and how).

    A pixel continues its chain of frames while it is still (`still_pixels`); its target is
    the frame's painting there, and this stabilizer's blended output elsewhere (where it
    moves, or the camera does), so a pan comes out as `Stabilizer` paints it. Frames go in
    with `settle` and come out of it and `flush`, some frames late (`lookahead.PixelHold`):
    for files, not a live camera.

    Args:
        *args: `Stabilizer`'s arguments.
        lag: Frames ahead to look (`lookahead.PixelHold`; `None`: its default).
        **kwargs: `Stabilizer`'s keyword arguments.
    """

    lookahead = True

    def __init__(self, *args, lag=None, **kwargs):
        self._hold = PixelHold(lag)
        super().__init__(*args, **kwargs)

    def reset(self):
        super().reset()
        self._hold.reset()

    def settle(self, motion, painted):
        """Adds a painted frame (as `finish` takes it); returns the frames now settled,
        uint8, oldest first."""
        painted = np.asarray(painted)
        if painted.dtype != np.uint8:
            painted = np.clip(np.rint(painted * np.float32(255)), 0, 255).astype(np.uint8)
        blended = self.finish(motion, painted)
        still = still_pixels(motion)
        target = blended if still is None else np.where(still[..., None], painted, blended)
        return self._hold.push(target, still)

    def flush(self):
        """The frames still held back, settled."""
        return self._hold.flush()

    def __call__(self, frame, paint):
        raise TypeError("a LookaheadStabilizer returns frames late: use settle() and flush() "
                        "(or video.paint_frames), not one call per frame.")


def still_pixels(motion, still_px=STILL_PX):
    """bool (H, W): the pixels `motion` (a `FrameMotion`) finds still (flow under
    `still_px`) and reliably warped from the previous frame, or `None` where none is (a
    first frame, a moving camera)."""
    if motion.flow is None or any(motion.camera_shift):
        return None
    still = motion.reliable.copy()
    if motion.local is not None:
        flow = motion.flow[motion.local]
        still[motion.local] &= np.hypot(flow[:, 0], flow[:, 1]) < still_px
    return still


def camera_shift(grey, previous_grey):
    """The camera's translation between two greyscale frames, or (0, 0) for a still camera.

    Corners of `grey` (Shi-Tomasi) are tracked into `previous_grey`
    (pyramidal Lucas-Kanade). The translation is the median displacement when it
    is at least `MIN_CAMERA_SHIFT_PX`, at least `AGREEING_SHARE` of the tracked
    corners agree with it within `AGREE_PX`, more of them than stand still
    (nearer to no motion than to the median: a slow pan moves every corner by less
    than `AGREE_PX`), and they span `SPREAD_SHARE` of the frame's width and height:
    a camera's motion moves the whole picture, a hand moving in front of a wall
    does not.

    Returns:
        float64 (dx, dy): content at x in `grey` is at x + (dx, dy) in `previous_grey`.
    """
    cv2 = _import_cv2()
    still = np.zeros(2)
    corners = cv2.goodFeaturesToTrack(grey, MAX_CORNERS, 0.01, 7, blockSize=7)
    if corners is None or len(corners) < MIN_CORNERS:
        return still
    tracked, status, _ = cv2.calcOpticalFlowPyrLK(grey, previous_grey, corners, None,
                                                  winSize=(LK_WINDOW_PX,) * 2, maxLevel=3)
    found = status[:, 0] == 1
    if found.sum() < MIN_CORNERS:
        return still
    points = corners[found, 0]
    shifts = (tracked - corners)[found, 0].astype(np.float64)
    median = np.median(shifts, axis=0)
    if np.abs(median).max() < MIN_CAMERA_SHIFT_PX:
        return still
    off_median = np.abs(shifts - median).max(axis=1)
    # A corner stands if it is nearer to standing still than to the median: on a slow pan
    # (a fraction of AGREE_PX per frame at the flow's size) every corner is within AGREE_PX
    # of both, and counting it as standing would take the camera for still.
    standing = np.abs(shifts).max(axis=1) < off_median
    agree = ~standing & (off_median < AGREE_PX)
    if standing.sum() >= agree.sum() or agree.mean() < AGREEING_SHARE:
        return still
    height, width = grey.shape
    if (np.ptp(points[agree], axis=0) < SPREAD_SHARE * np.array([width, height])).any():
        return still
    return shifts[agree].mean(axis=0)


def make_stabilizer(method="canvas", weight=DEFAULT_STABILIZE_WEIGHT):
    """The stabilizer a `stabilize` method names: "canvas" (every step of `Stabilizer`),
    "lookahead" (those, then still pixels held with the frames ahead known:
    `LookaheadStabilizer`), "flow" (the blend alone), or `None` for "none"."""
    if method not in STABILIZE_METHODS:
        raise BadInput(f"unknown stabilization {method!r}; choose one of "
                       f"{', '.join(STABILIZE_METHODS)}.")
    if method == "none":
        return None
    if method == "flow":
        return Stabilizer(weight, follow_camera=False, hold_levels=0.0)
    if method == "lookahead":
        return LookaheadStabilizer(weight)
    return Stabilizer(weight)


def _inside_translation(height, width, shift):
    """Where x + shift lands inside the frame (the test of `inside_frame` for a flow that
    is `shift` everywhere, float32 like the flow): bool (H, W)."""
    dx, dy = np.float32(shift[0]), np.float32(shift[1])
    columns = np.arange(width, dtype=np.float32) + dx
    rows = np.arange(height, dtype=np.float32) + dy
    inside_columns = (columns >= 0) & (columns <= width - 1)
    inside_rows = (rows >= 0) & (rows <= height - 1)
    return inside_rows[:, None] & inside_columns[None, :]


def _hold(canvas, previous, levels):
    """Copies into `canvas` (uint8) the pixels of `previous` it differs from by less than
    `levels` grey levels (largest channel, window mean); returns the share held."""
    cv2 = _import_cv2()
    if previous is None or previous.shape != canvas.shape:
        return 0.0
    difference = cv2.absdiff(canvas, previous)
    largest = np.maximum(np.maximum(difference[..., 0], difference[..., 1]), difference[..., 2])
    change = cv2.blur(largest.astype(np.float32), (HOLD_WINDOW_PX,) * 2)
    held = change <= levels
    cv2.copyTo(previous, held.view(np.uint8), canvas)
    return float(held.mean())


def _as_float(picture):
    """uint8 pixels as float32 in [0, 1]."""
    return picture.astype(np.float32) * np.float32(1 / 255)


def _translated(image, dx, dy, replicate=False):
    """out(x) = image(x - (dx, dy)): bicubic (OpenCV's, a = -0.75), edges mirrored (or
    repeated, as `warp` does, with `replicate`).

    A translation moves every pixel by the same fraction of a pixel, so for uint8
    pictures (the video pipeline's frames and paintings) the bicubic interpolation
    is one separable 4-tap filter: the integer part of the shift a window of the
    mirrored picture, the fraction `cv2.sepFilter2D`. On a 320 x 240 frame, one
    thread: 0.29 ms against 1.16 ms for `cv2.warpAffine` with the same
    interpolation, the same pixels within one grey level, exact for whole pixels.
    Float pictures go through `cv2.warpAffine`, which is faster on them (0.79 against
    1.54 ms).
    """
    cv2 = _import_cv2()
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_REFLECT_101
    height, width = image.shape[:2]
    source_x, source_y = -float(dx), -float(dy)  # out(x) = image(x + source)
    whole_x, whole_y = math.floor(source_x), math.floor(source_y)
    margin = max(abs(whole_x), abs(whole_y)) + 2
    if image.dtype != np.uint8 or margin >= min(height, width):
        matrix = np.float32([[1, 0, dx], [0, 1, dy]])
        return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_CUBIC,
                              borderMode=border)
    padded = cv2.copyMakeBorder(image, margin, margin, margin, margin, border)
    top, left = margin + whole_y - 1, margin + whole_x - 1
    window = padded[top: top + height + 3, left: left + width + 3]
    filtered = cv2.sepFilter2D(window, -1, _cubic_taps(source_x - whole_x),
                               _cubic_taps(source_y - whole_y), anchor=(1, 1),
                               borderType=cv2.BORDER_ISOLATED)
    return np.ascontiguousarray(filtered[1: 1 + height, 1: 1 + width])


def _cubic_taps(fraction, a=-0.75):
    """OpenCV's bicubic weights of the pixels at -1, 0, 1, 2 for a point `fraction` in
    [0, 1) past pixel 0."""
    x = fraction
    first = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
    second = ((a + 2) * x - (a + 3)) * x * x + 1
    third = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
    return np.array([first, second, third, 1 - first - second - third], np.float32)


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
    DIS flow and corner tracking `Stabilizer` uses, so that a stabilizer is not
    graded by its own motion estimate.

    Args:
        previous: uint8 RGB frame (H, W, 3) at time t-1.
        current: uint8 RGB frame (H, W, 3) at time t.
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
        painted: float (H, W, 3) in [0, 1], frame t painted.
        previous_painted: float (H, W, 3) in [0, 1], frame t-1 painted.
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

    from style_transfer.base.images import to_pil

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


def _import_cv2():
    return import_extra("cv2", "video", "video stabilization")
