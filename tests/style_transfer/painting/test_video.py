"""Video: `style-transfer video` end to end on a generated clip with sound, the stabilizer,
and the temporal metrics against exact references."""

import json

import numpy as np
import pytest

av = pytest.importorskip("av", reason="the [video] extra is not installed")
pytest.importorskip("cv2", reason="the [video] extra is not installed")

from style_transfer.base.errors import BadInput  # noqa: E402
from style_transfer.cli.main import main  # noqa: E402
from style_transfer.painting import stabilize, stylize, video  # noqa: E402
from style_transfer.painting.photo_options import rgb_to_ycbcr  # noqa: E402
from tests.style_transfer.builders import FPS, NUM_FRAMES, SIZE, write_clip  # noqa: E402


def sound_seconds(path):
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        return samples / container.streams.audio[0].codec_context.sample_rate


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


# ------------------------------------------------------------------ the command


def test_video_keeps_frame_count_rate_duration_and_sound(capsys, model, model_file, clip,
                                                        tmp_path):
    out = tmp_path / "painted.mp4"
    code = main(["video", clip, "--model", model_file, "--style", "scream",
                 "--stabilize", "none", "--quiet", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    source, painted = video.probe(clip), video.probe(out)
    assert (painted.frame_count, painted.fps, painted.width, painted.height) == (
        NUM_FRAMES, FPS, *SIZE)
    assert painted.duration_s == pytest.approx(source.duration_s, abs=1e-3)
    assert painted.audio_codec == "aac"
    assert sound_seconds(out) == pytest.approx(sound_seconds(clip), abs=1e-3)
    # Every frame is the network's painting of the input frame: H.264 keeps its luma within
    # a few levels (another style is 30 levels away); 4:2:0 video halves the chroma.
    paint = stylize.painter(model, "scream")
    for frame, output in zip(video.read_frames(clip), video.read_frames(out)):
        expected = rgb_to_ycbcr(paint(frame.astype(np.float32) / 255))[..., 0]
        assert 255 * np.abs(rgb_to_ycbcr(output / 255)[..., 0] - expected).mean() < 4


def test_json_prints_one_record_per_output(capsys, model_file, clip, tmp_path):
    out = tmp_path / "painted.webm"
    code = main(["video", clip, "--model", model_file, "--blend", "wave=0.5,udnie=0.5",
                 "--json", "--out", str(out)])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["input"] == clip and record["output"] == str(out)
    assert record["style"] == "wave0.5+udnie0.5"
    assert record["frames"] == NUM_FRAMES and record["size"] == list(SIZE)
    assert record["audio"] == "re-encoded as libopus"  # WebM takes no AAC
    assert record["seconds"] > 0


@pytest.mark.parametrize("problem", ["not a video", "missing", "still image", "bad extension",
                                     "exists", "is the input", "unknown style"])
def test_bad_input_is_one_line_and_exit_2(capsys, model_file, clip, tmp_path, problem):
    from PIL import Image

    source, out, style = clip, tmp_path / "out.mp4", "wave"
    if problem == "not a video":
        source = tmp_path / "notes.mp4"
        source.write_text("not a video")
    elif problem == "missing":
        source = tmp_path / "missing.mp4"
    elif problem == "still image":
        source = tmp_path / "photo.png"
        Image.new("RGB", (16, 16)).save(source)
    elif problem == "bad extension":
        out = tmp_path / "out.gif"
    elif problem == "exists":
        out.write_bytes(b"keep me")
    elif problem == "is the input":
        out = clip
    else:
        style = "no-such-style"
    code = main(["video", str(source), "--model", model_file, "--style", style, "--quiet",
                 "--out", str(out)])
    error = capsys.readouterr().err
    assert code == 2
    assert len(error.strip().splitlines()) == 1 and error.startswith("style-transfer video: error:")
    if problem == "exists":
        assert out.read_bytes() == b"keep me"


def test_a_failure_midway_leaves_no_output_and_no_temporary(clip, tmp_path):
    calls = []

    def paint(photo):
        calls.append(1)
        if len(calls) == 5:
            raise BadInput("stop here")
        return photo

    with pytest.raises(BadInput, match="stop here"):
        video.stylize_video(paint, clip, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_frames_without_times_in_display_order_get_sorted_times():
    class Frame:
        def __init__(self, pts):
            self.pts = pts

    # Packed B-frames in AVI: frames in display order labelled in decoding order.
    labelled = [Frame(pts) for pts in [0, 1, 2, 4, 3, 5, 7, 6, None, 8]]
    timed = list(video._with_display_times(iter(labelled), window=3))
    assert [frame for frame, _ in timed] == labelled
    assert [pts for _, pts in timed] == [0, 1, 2, 3, 4, 5, 6, 7, None, 8]


# ------------------------------------------------------------------ metrics


def test_pan_clip_frames_are_shifted_copies_with_the_exact_flow():
    photo = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    frames, flow = stabilize.pan_clip(photo, 4, (30, 20), velocity=(3, 2), start=(1, 1))
    assert frames.shape == (4, 20, 30, 3) and np.all(flow == [3, 2])
    np.testing.assert_array_equal(frames[2], photo[1 + 4: 1 + 4 + 20, 1 + 6: 1 + 6 + 30])
    # Pixel x of frame t is pixel x + flow of frame t-1.
    np.testing.assert_array_equal(frames[3][:-2, :-3], frames[2][2:, 3:])


def test_warping_error_of_a_pan_is_zero_and_measures_flicker_exactly():
    photo = np.random.default_rng(1).random((50, 70, 3)) * 0.5 + 0.25
    frames, flow = stabilize.pan_clip((photo * 255).astype(np.uint8), 5, (40, 30), velocity=(2, 1))
    valid = stabilize.inside_frame(flow)
    flows = [(flow, valid)] * 4
    clean = frames.astype(np.float32) / 255
    assert stabilize.temporal_warping_error(clean, flows) == pytest.approx(0, abs=1e-4)
    offsets = np.array([0.0, 0.1, -0.05, 0.0, 0.2], np.float32)
    flickering = clean + offsets[:, None, None, None]
    expected = 255 * np.abs(np.diff(offsets)).mean()
    assert stabilize.temporal_warping_error(flickering, flows) == pytest.approx(expected, rel=1e-4)
    assert stabilize.mean_deviation(flickering, clean) == pytest.approx(
        255 * np.abs(offsets).mean(), rel=1e-4)


def test_the_pan_leaving_the_photo_is_refused():
    with pytest.raises(BadInput, match="leaves"):
        stabilize.pan_clip(np.zeros((20, 20, 3), np.uint8), 10, (16, 16), velocity=(1, 0))


def test_pixels_uncovered_by_a_moving_square_are_unreliable():
    # A 4x4 square moves 3 px right; the background stands still.
    backward = np.zeros((12, 16, 2), np.float32)
    forward = np.zeros((12, 16, 2), np.float32)
    backward[4:8, 7:11] = (-3, 0)  # the square at frame t came from 3 px left
    forward[4:8, 4:8] = (3, 0)     # the square at frame t-1 goes 3 px right
    reliable = stabilize.flow_reliability(backward, forward)
    assert reliable[4:8, 7:11].all()           # the square itself
    assert not reliable[4:8, 4:7].any()        # where it was: the background reappears
    assert reliable[:4].all() and reliable[8:].all()
    assert not stabilize.flow_reliability(np.full((4, 4, 2), 5, np.float32),
                                      np.full((4, 4, 2), -5, np.float32)).any()  # outside


def test_stabilizer_on_a_still_scene_is_the_exponential_average_of_the_paintings():
    frame = np.random.default_rng(2).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    paintings = np.random.default_rng(3).random((4, 24, 32, 3)).astype(np.float32)
    stabilizer = stabilize.FlowStabilizer(weight=0.6)
    expected = paintings[0]
    for index, painting in enumerate(paintings):
        if index > 0:
            expected = painting + 0.6 * (expected - painting)
        np.testing.assert_allclose(stabilizer(frame, painting), expected, atol=1e-3)


def test_stabilizer_halves_the_flicker_of_a_pan_and_keeps_new_pixels():
    photo = np.random.default_rng(4).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    frames, flow = stabilize.pan_clip(photo, 8, (48, 36), velocity=(2, 1))
    noise = np.random.default_rng(5).normal(0, 0.1, frames.shape).astype(np.float32)
    painted = np.clip(frames / 255 * 0.6 + 0.2 + noise, 0, 1).astype(np.float32)
    stabilizer = stabilize.FlowStabilizer(weight=0.6)
    stabilized = np.stack([stabilizer(frame, paint) for frame, paint in zip(frames, painted)])
    flows = [(flow, stabilize.inside_frame(flow))] * 7
    before = stabilize.temporal_warping_error(painted, flows)
    assert stabilize.temporal_warping_error(stabilized, flows) < 0.5 * before
    # The column and row that enter the picture have no past: they are painted alone.
    np.testing.assert_allclose(stabilized[1:, :, -2:], painted[1:, :, -2:])
    assert stabilize.make_stabilizer("none") is None


def test_stabilizer_weight_outside_0_1_is_refused():
    with pytest.raises(BadInput, match="weight"):
        stabilize.FlowStabilizer(weight=1.0)


def test_camera_frames_go_through_the_same_painting_and_encoding(model, monkeypatch, tmp_path):
    import cv2

    rows, columns = np.mgrid[0:SIZE[1], 0:SIZE[0]]
    blue_green_red = np.stack([columns * 255 // SIZE[0], rows * 255 // SIZE[1],
                               np.full_like(rows, 200)], -1).astype(np.uint8)

    class FakeCamera:
        """What OpenCV's VideoCapture gives: BGR frames, then (False, None)."""

        def __init__(self, index):
            self.frames = [np.roll(blue_green_red, t, axis=1) for t in range(5)]

        def isOpened(self):
            return True

        def get(self, prop):
            return 10.0 if prop == cv2.CAP_PROP_FPS else 0.0

        def read(self):
            return (True, self.frames.pop(0)) if self.frames else (False, None)

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", FakeCamera)
    paint = stylize.painter(model, "wave")
    record = video.stylize_camera(paint, 0, tmp_path / "live.mp4",
                                  stabilizer=stabilize.FlowStabilizer(), max_frames=4)
    painted = video.probe(tmp_path / "live.mp4")
    assert record["frames"] == 4 and (painted.frame_count, painted.fps) == (4, 10.0)
    assert painted.duration_s == pytest.approx(0.4)
    # The first frame (nothing to stabilize against yet) is the painter's picture of the
    # frame in RGB, through H.264's rounding; not that of the BGR frame or another style.
    with av.open(str(tmp_path / "live.mp4")) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24") / 255.0
    rgb = blue_green_red[..., ::-1].astype(np.float32) / 255
    error = np.abs(first - paint(rgb)).mean()
    assert error < 0.1  # 0.07: H.264's rounding of a 48 x 32 frame, chroma at half size
    assert np.abs(first - paint(rgb[..., ::-1])).mean() > 2 * error
    assert np.abs(first - stylize.painter(model, "scream")(rgb)).mean() > 2 * error


def test_measuring_flow_finds_a_shift_and_trusts_the_pixels_that_stay():
    texture = np.random.default_rng(6).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    shifted = np.roll(texture, 2, axis=1)  # every pixel moves 2 px right
    backward, reliable = stabilize.optical_flow(texture, shifted)
    inner = (slice(8, -8), slice(8, -8))
    np.testing.assert_allclose(np.median(backward[inner], axis=(0, 1)), [-2, 0], atol=0.1)
    assert reliable[inner].mean() > 0.9


def test_a_missing_camera_is_one_line_without_opencvs_own_warnings(model_file, tmp_path,
                                                                   capfd):
    # OpenCV logs "[ WARN:0@0.01] ... can't open camera by index" on the standard error
    # itself (file descriptor 2); only --verbose shows it.
    out = tmp_path / "live.mp4"
    assert main(["video", "--model", model_file, "--style", "wave", "--camera", "9",
                 "--frames", "1", "--out", str(out)]) == 2
    lines = capfd.readouterr().err.strip().splitlines()
    assert lines == ["style-transfer video: error: cannot open camera 9 (OpenCV found no "
                     "such device)."], lines
    assert not out.exists()
