"""Steadier video files: each still pixel's level chosen knowing the frames ahead.

`--stabilize canvas` (`stabilize.Stabilizer`) is causal: a live camera gets it. On a still
camera, what flickers after it is the painting of still pixels near moving things (a
person's step repaints the wall beside them, through the network's receptive field): their
paintings waver from frame to frame around a level, and a blend with the previous output
only trades that wavering for deviation, level for level (BENCHMARKS.md, "Where vtest's
flicker remains"). Knowing the frames ahead, a pixel can instead keep its level through
the frames in which its painting only wavers, and change it once when the painting moves
for good. `--stabilize lookahead` does that.

For each pixel and channel, over the frames in which the stabilizer finds it still (the
camera still, the pixel's flow under `STILL_PX` and its warp reliable: a chain of frames),
the output levels o_t minimize

    sum_t MU |o_t - r_t| + sum_t |o_t - o_{t-1}|

where r_t is the painting of the frame alone, and the second sum runs over the frames
linked to the one before (a pixel that moves, or any pixel while the camera moves, starts
a new chain, and its target r_t is the causal stabilizer's output instead). This is the
exact minimum over all sequences of levels (an L1 total-variation problem on a chain),
solved by dynamic programming in a compact form: with MU = M / K, the slope of the
cost-to-go is a step function that `2 (K + M)` sorted points describe, so each frame
inserts its target `2 M` times and drops the `M` lowest and highest points (which bound the
traceback). Its cost is some thirty element-wise operations on 16-bit integers per pixel and
channel per frame (about 3 ms of CPU per 320 x 240 frame), independent of the 256 levels.

The frames ahead are a fixed lag (`PixelHold`): every `lag` frames, the levels are
traced back from the newest frame, and the oldest `lag` frames leave. Past a few frames the
traceback no longer depends on where it starts, so the output is the whole clip's optimum
but for chains whose wavering outlasts the lag. The lag costs memory: 2 bytes per pixel
and channel per frame held, at most `MEMORY_BYTES`.

`stabilize.LookaheadStabilizer` is the stabilizer that runs it (`make_stabilizer("lookahead")`).
"""

import collections

import numpy as np

# MU = M / K, the weight of a level's distance from the painting against a change of
# level. Every MU in (1/2, 1) gives the same levels on 8-bit paintings (the optimum moves
# only at MU = 1/n); 2/3 is the simplest such fraction. 1/2 holds longer (vtest's warping
# error 3.28 instead of 3.46) at more deviation (2.99 instead of 2.53).
M, K = 2, 3
# A pixel is still if its flow is under this (pixels per frame).
STILL_PX = 0.25
# Frames ahead: `LAG_FRAMES`, fewer where a frame has so many pixels that the frames held
# (between `lag` and 2 `lag`) would take more than `MEMORY_BYTES` (1920 x 1080: 10); never
# under `MIN_LAG_FRAMES` (4K: 4 frames, 400 MB).
LAG_FRAMES = 32
MIN_LAG_FRAMES = 4
MEMORY_BYTES = 256 * 2 ** 20
_BELOW, _ABOVE = -1, 256   # the sentinels: points outside the 256 levels


class PixelHold:
    """The fixed-lag optimum of every pixel's levels over its chains of frames.

    `push` takes frame t's target levels and where it is linked to frame t-1, and returns
    the frames whose levels are settled (in order, possibly none); `flush` returns the rest.

    Args:
        lag: Frames ahead to look (`None`: `LAG_FRAMES`, fewer for large frames).
    """

    def __init__(self, lag=None):
        self.lag = lag
        self.reset()

    def reset(self):
        """Forgets every frame (pending frames are dropped: `flush` first)."""
        self._points = None       # (2K + 2M, N) int16: the newest frame's sorted points
        self._targets = None      # the newest frame's targets, (N,) int16
        self._bounds = collections.deque()   # per pending frame: (low, high) or None
        self._shape = None
        self._frame_lag = None

    def push(self, target, link=None):
        """Adds a frame; returns the frames now settled.

        Args:
            target: uint8 (H, W, C): the levels the frame would have alone.
            link: bool (H, W): where the frame continues the previous frame's chains;
                `None` for nowhere (a first frame, a cut, a moving camera).

        Returns:
            A list of uint8 (H, W, C) frames, oldest first.
        """
        target = np.asarray(target)
        if target.dtype != np.uint8:
            raise TypeError(f"targets are uint8 levels; received {target.dtype}.")
        settled = []
        if self._shape is not None and target.shape != self._shape:
            settled = self.flush()
        if self._shape is None:
            self._shape = target.shape
            pixels = int(np.prod(target.shape))
            self._frame_lag = self.lag or max(MIN_LAG_FRAMES,
                                              min(LAG_FRAMES, MEMORY_BYTES // (4 * pixels)))
        levels = target.reshape(-1).astype(np.int16)
        if self._points is None:
            link = None
        if link is not None:
            link = np.broadcast_to(np.asarray(link, bool)[..., None], target.shape).reshape(-1)
            if not link.any():
                link = None
        if self._points is None:
            self._bounds.append(None)
            points = _new_chains(levels.size)
        else:
            # The previous frame's chains: where linked, its lowest and highest M points
            # bound the traceback (o_{t-1} = clip(o_t, low, high)) and are dropped (the
            # cost-to-go's slope is clipped to [-1, 1]); elsewhere the chain ends at the
            # previous frame's best level and a new one starts.
            previous = self._points
            best = self._best(previous, self._targets)
            if link is None:
                low = high = best
                points = _new_chains(levels.size)
            else:
                low = np.where(link, previous[M - 1], best)
                high = np.where(link, previous[-M], best)
                # The middle points where linked, the sentinels elsewhere: a minimum with
                # (the largest int16 where linked, _BELOW elsewhere) for the lower half, a
                # maximum for the upper half (cheaper than a `where` per row).
                below = np.where(link, np.int16(np.iinfo(np.int16).max), np.int16(_BELOW))
                above = np.where(link, np.int16(np.iinfo(np.int16).min), np.int16(_ABOVE))
                points = np.empty((2 * K, levels.size), np.int16)
                np.minimum(previous[M:M + K], below, out=points[:K])
                np.maximum(previous[M + K:-M], above, out=points[K:])
            self._bounds.append((np.clip(low, 0, 255).astype(np.uint8),
                                 np.clip(high, 0, 255).astype(np.uint8)))
        self._points = _insert(points, levels, 2 * M)
        self._targets = levels
        if len(self._bounds) >= 2 * self._frame_lag:
            settled += self._trace(self._frame_lag)
        return settled

    def flush(self):
        """The frames still pending, settled with no frame after them; then a fresh start."""
        settled = self._trace(len(self._bounds)) if self._bounds else []
        self.reset()
        return settled

    @staticmethod
    def _best(points, targets):
        """The best level of a chain that ends here: the cost-to-go's minimum, nearest the
        target."""
        return np.clip(targets, points[K + M - 1], points[K + M])

    def _trace(self, count):
        """Traces the levels back from the newest frame; the oldest `count` frames leave."""
        level = self._best(self._points, self._targets).astype(np.uint8)
        frames = [level]
        for bounds in reversed(list(self._bounds)[1:]):
            level = np.clip(level, *bounds)
            frames.append(level)
        frames.reverse()
        for _ in range(count):
            self._bounds.popleft()
        # The first pending frame's bounds link it to a frame that has left: not needed.
        if self._bounds:
            self._bounds[0] = None
        return [frame.reshape(self._shape) for frame in frames[:count]]


def _new_chains(size):
    """The points of `size` chains that start here: a flat cost-to-go (K points below the
    levels, K above)."""
    points = np.empty((2 * K, size), np.int16)
    points[:K], points[K:] = _BELOW, _ABOVE
    return points


def _insert(points, value, copies):
    """Sorted `points` (P, N) with `copies` copies of `value` (N,) inserted in each column.

    Row j of the result is min(max(value, points[j - copies]), points[j]) (no lower bound
    for j < copies, no upper one for j >= P): points[j] below the value, then the value,
    then the points shifted by `copies`; two element-wise operations a row, no search.
    """
    count, size = points.shape
    out = np.empty((count + copies, size), np.int16)
    for row in range(count + copies):
        if row >= copies:
            np.maximum(value, points[row - copies], out=out[row])
        else:
            out[row] = value
        if row < count:
            np.minimum(out[row], points[row], out=out[row])
    return out
