"""`--stabilize lookahead`: each still pixel's levels, the exact optimum of its chain
(against a brute-force dynamic programme over the 256 levels), settled a fixed lag late,
and the video pipeline that writes them in order with their times and sound."""

import numpy as np
import pytest

pytest.importorskip("av", reason="the [video] extra is not installed")
pytest.importorskip("cv2", reason="the [video] extra is not installed")

from style_transfer.base import images  # noqa: E402
from style_transfer.painting import lookahead, stabilize, video  # noqa: E402
from tests.style_transfer.builders import write_clip  # noqa: E402
from tests.style_transfer.painting.test_video import paint_keeping_timing_and_sound  # noqa: E402

M, K = lookahead.M, lookahead.K


def cost(levels, targets, links):
    """The objective in units of 1/K: M |o_t - r_t| per frame, K |o_t - o_{t-1}| per link."""
    levels, targets = levels.astype(np.int64), targets.astype(np.int64)
    fidelity = M * np.abs(levels - targets).sum()
    changes = K * (np.abs(np.diff(levels, axis=0)) * links[1:]).sum()
    return int(fidelity + changes)


def brute_force_minimum(targets, links):
    """min over every sequence of levels of `cost`, per value: a dynamic programme over
    the 256 levels with the full (256 x 256) transition."""
    levels = np.arange(256)
    transition = K * np.abs(levels[:, None] - levels[None, :])
    total = 0
    for value in range(targets.shape[1]):
        cost_to_go = M * np.abs(levels - targets[0, value])
        for t in range(1, len(targets)):
            step = transition if links[t, value] else np.zeros_like(transition)
            cost_to_go = (cost_to_go[:, None] + step).min(axis=0)
            cost_to_go = cost_to_go + M * np.abs(levels - targets[t, value])
        total += int(cost_to_go.min())
    return total


def held(targets, links, lag=None):
    """`PixelHold` run over (T, N) targets and links, as (T, N) levels."""
    hold = lookahead.PixelHold(lag)
    out = []
    for t, (target, link) in enumerate(zip(targets, links)):
        out += hold.push(target.reshape(1, -1, 1), None if t == 0 else link.reshape(1, -1))
    out += hold.flush()
    return np.stack(out).reshape(targets.shape)


def wavering(seed, frames=14, values=40):
    """Targets that waver around levels that sometimes jump, with random breaks in the
    chains."""
    rng = np.random.default_rng(seed)
    base = rng.integers(20, 236, values)
    jumps = np.cumsum(rng.random((frames, values)) < 0.15, axis=0) * rng.integers(-60, 60, values)
    targets = np.clip(base + jumps + rng.integers(-4, 5, (frames, values)), 0, 255)
    links = rng.random((frames, values)) < 0.85
    links[0] = False
    return targets.astype(np.uint8), links


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_held_levels_are_the_exact_optimum_of_every_chain(seed):
    targets, links = wavering(seed)
    levels = held(targets, links)
    assert levels.dtype == np.uint8 and levels.shape == targets.shape
    assert cost(levels, targets, links) == brute_force_minimum(targets, links)
    # ... and not the paintings themselves, which waver: holding is cheaper.
    assert cost(targets, targets, links) > cost(levels, targets, links)


def test_a_short_lag_settles_frames_early_and_stays_near_the_optimum():
    targets, links = wavering(3, frames=40)
    whole = held(targets, links)
    for lag in (4, 8):
        hold = lookahead.PixelHold(lag)
        out, settled_after = [], []
        for t, (target, link) in enumerate(zip(targets, links)):
            out += hold.push(target.reshape(1, -1, 1), None if t == 0 else link.reshape(1, -1))
            settled_after.append(len(out))
        # Between `lag` and 2 `lag` frames are held back, never more.
        assert all(t + 1 - lag * 2 < count <= t + 1 for t, count in enumerate(settled_after))
        assert settled_after[-1] >= len(targets) - 2 * lag
        out += hold.flush()
        levels = np.stack(out).reshape(targets.shape)
        optimum = cost(whole, targets, links)
        assert optimum <= cost(levels, targets, links) <= 1.02 * optimum
    np.testing.assert_array_equal(held(targets, links, lag=len(targets)), whole)


def test_unlinked_frames_are_their_targets_and_long_steps_are_followed_exactly():
    targets, _ = wavering(4)
    np.testing.assert_array_equal(held(targets, np.zeros(targets.shape, bool)), targets)
    # A pixel whose painting holds a level, then another, follows it to the frame: a hold
    # is no blur.
    steps = np.repeat(np.array([[50], [200], [120]], np.uint8), 5, axis=0)
    np.testing.assert_array_equal(held(steps, np.ones(steps.shape, bool)), steps)
    # A painting that only wavers by a level around 100 is held at one level.
    waver = np.array([[100], [101], [99], [100], [101], [100], [99]], np.uint8)
    levels = held(waver, np.ones(waver.shape, bool))
    assert len(np.unique(levels)) == 1 and 99 <= levels[0, 0] <= 101


def test_a_frame_of_another_size_settles_the_frames_before_it():
    hold = lookahead.PixelHold(lag=8)
    small, large = np.full((2, 3, 3), 10, np.uint8), np.full((4, 5, 3), 20, np.uint8)
    assert hold.push(small) == [] and hold.push(small, np.ones((2, 3), bool)) == []
    settled = hold.push(large)
    assert [frame.shape for frame in settled] == [(2, 3, 3)] * 2
    assert [frame.shape for frame in hold.flush()] == [(4, 5, 3)]
    with pytest.raises(TypeError, match="uint8"):
        hold.push(small.astype(np.float32))


def waver_painter(seed):
    """A painter of still frames whose strokes waver by a few levels from call to call, as
    the network's do near moving things."""
    rng = np.random.default_rng(seed)

    def paint(canvas):
        noise = rng.integers(-6, 7, canvas.shape).astype(np.float32) / 255
        return np.clip(canvas * 0.8 + 0.1 + noise, 0, 1)
    return paint


def stabilized(stabilizer, frames, paint):
    """The stabilized frames as the video pipeline makes them (uint8 paintings), in [0, 1]."""
    outputs = []
    for frame in frames:
        motion = stabilizer.prepare(frame)
        painting = images.to_uint8(motion.from_canvas(paint(motion.canvas)))
        outputs += stabilizer.settle(motion, painting)
    return np.stack(outputs + stabilizer.flush()).astype(np.float32) / 255


def test_on_a_still_camera_the_lookahead_is_steadier_than_the_canvas_alone():
    import cv2

    rng = np.random.default_rng(5)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8), (0, 0), 2)
    frames = [scene] * 10
    still = np.zeros((40, 56, 2), np.float32)
    flows = [(still, np.ones((40, 56), bool))] * 9
    canvas = stabilized(stabilize.make_stabilizer("canvas"), frames, waver_painter(6))
    ahead = stabilized(stabilize.make_stabilizer("lookahead"), frames, waver_painter(6))
    assert len(ahead) == len(frames)
    assert (stabilize.temporal_warping_error(ahead, flows)
            < 0.5 * stabilize.temporal_warping_error(canvas, flows))


def test_while_the_camera_moves_the_lookahead_is_the_canvas_stabilizer():
    photo = np.random.default_rng(7).integers(0, 256, (80, 100, 3), dtype=np.uint8)
    frames, _ = stabilize.pan_clip(photo, 6, (48, 40), velocity=(3, 2))
    canvas = stabilized(stabilize.make_stabilizer("canvas"), frames, waver_painter(8))
    ahead = stabilized(stabilize.make_stabilizer("lookahead"), frames, waver_painter(8))
    np.testing.assert_array_equal(ahead, canvas)
    with pytest.raises(TypeError, match="settle"):
        stabilize.make_stabilizer("lookahead")(frames[0], waver_painter(8))


def test_the_pipeline_writes_held_frames_in_order_with_their_times_and_sound():
    frames = [np.full((16, 24, 3), 100 + (t % 2), np.uint8) for t in range(40)]
    written = []
    count = video.paint_frames(((frame, t, [f"sound {t}"]) for t, frame in enumerate(frames)),
                               lambda photo: photo,
                               lambda out, t, sound: written.append((out, t, sound)),
                               stabilizer=stabilize.make_stabilizer("lookahead"))
    assert count == 40 and [t for _, t, _ in written] == list(range(40))
    assert [sound for _, _, sound in written] == [[f"sound {t}"] for t in range(40)]
    # A still picture flickering by one level comes out steady.
    assert len({int(out[8, 12, 0]) for out, _, _ in written[1:]}) == 1


def test_ctrl_c_writes_the_frames_the_lookahead_held_back():
    settled = []

    class Counting(stabilize.LookaheadStabilizer):
        def settle(self, motion, painted):
            settled.append(len(settled))
            return super().settle(motion, painted)

    def paint(photo):
        if photo[0, 0, 0] > 0.5:  # frame 30
            raise KeyboardInterrupt
        return photo

    frames = [np.full((16, 24, 3), 4 * t, np.uint8) for t in range(60)]
    written = []
    with pytest.raises(KeyboardInterrupt):
        video.paint_frames(((frame, t, []) for t, frame in enumerate(frames)), paint,
                           lambda out, t, sound: written.append(t), stabilizer=Counting())
    # Every frame the stabilizer took in is written (none is held back in it), in order.
    assert len(settled) >= 2 and written == list(range(len(settled)))


@pytest.mark.slow
def test_video_with_lookahead_keeps_every_frame_and_the_sound(capsys, model_file, tmp_path):
    paint_keeping_timing_and_sound(capsys, write_clip(tmp_path / "clip.mp4"),
                                   tmp_path / "painted.mp4", "--model", model_file,
                                   "--style", "wave", "--stabilize", "lookahead")
