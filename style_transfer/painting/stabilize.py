"""Steady video: blending each painted frame with the previous one, warped by optical flow.

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

import numpy as np

from style_transfer.base.errors import BadInput
from style_transfer.base.extras import import_extra

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
STABILIZE_METHODS = ("flow", "none")


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
