"""Video: `style-transfer video` end to end on a generated clip with sound, the stabilizer,
and the temporal metrics against exact references."""

import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av", reason="the [video] extra is not installed")
pytest.importorskip("cv2", reason="the [video] extra is not installed")

from style_transfer.base.errors import BadInput  # noqa: E402
from style_transfer.cli.main import main  # noqa: E402
from style_transfer.painting import stabilize, stylize, video  # noqa: E402
from tests.style_transfer.builders import FPS, NUM_FRAMES, SIZE, write_clip  # noqa: E402


def sound_seconds(path):
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        return samples / container.streams.audio[0].codec_context.sample_rate


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


# ------------------------------------------------------------------ the command


def paint_keeping_timing_and_sound(capsys, clip, out, *options):
    """`style-transfer video CLIP *options --quiet --out OUT`, checked to succeed and to keep
    the clip's frame count, rate, size, duration and sound (AAC, as long)."""
    code = main(["video", clip, *options, "--quiet", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    source, painted = video.probe(clip), video.probe(out)
    assert (painted.frame_count, painted.fps, painted.width, painted.height) == (
        NUM_FRAMES, FPS, *SIZE)
    assert painted.duration_s == pytest.approx(source.duration_s, abs=1e-3)
    assert painted.audio_codec == "aac"
    assert sound_seconds(out) == pytest.approx(sound_seconds(clip), abs=1e-3)


@pytest.mark.slow
def test_video_keeps_frame_count_rate_duration_and_sound(capsys, model, model_file, clip,
                                                        tmp_path):
    out = tmp_path / "painted.mp4"
    paint_keeping_timing_and_sound(capsys, clip, out, "--model", model_file, "--style",
                                   "scream", "--stabilize", "none")
    # Every frame is the network's painting of the input frame: H.264 keeps its luma (BT.709's,
    # the output's matrix) within a few levels (another style is 30 levels away); 4:2:0
    # video halves the chroma.
    paint = stylize.painter(model, "scream")
    luma = np.array([0.2126, 0.7152, 0.0722], np.float32)  # BT.709
    for frame, output in zip(video.read_frames(clip), video.read_frames(out)):
        expected = paint(frame.astype(np.float32) / 255) @ luma
        assert 255 * np.abs(output / 255 @ luma - expected).mean() < 4


@pytest.mark.slow
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


def test_sound_at_a_rate_opus_does_not_take_is_resampled_into_webm(tmp_path):
    # Opus takes 8 to 48 kHz: the 44.1 kHz of most AAC failed to open the encoder
    # ('avcodec_open2("libopus", {})' returned 22, a traceback).
    clip = write_clip(tmp_path / "cd.mp4", sample_rate=44100)
    out = tmp_path / "painted.webm"
    record = video.stylize_video(lambda photo: photo, clip, out)
    assert record["audio"] == "re-encoded as libopus"
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == 48000
    assert sound_seconds(out) == pytest.approx(sound_seconds(clip), abs=0.03)


def matroska_clip(path, audio_codec, num_frames=10, fps=10, rate=44100, layout="stereo"):
    """A Matroska clip with sound of `layout` in `audio_codec` (Matroska keeps no channel
    order for PCM: its channels come back unnamed), a tone in every channel."""
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        audio = output.add_stream(audio_codec, rate=rate)
        audio.layout = layout
        channels = audio.layout.nb_channels
        for index in range(num_frames):
            picture = np.full((24, 32, 3), 20 * index, np.uint8)
            output.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        output.mux(stream.encode(None))
        total = rate * num_frames // fps
        for start in range(0, total, 1024):
            tone = np.sin(np.arange(start, min(start + 1024, total)) / 10) * 8000
            frame = av.AudioFrame.from_ndarray(np.repeat(tone.astype(np.int16), channels)[None],
                                               format="s16", layout=layout)
            frame.sample_rate, frame.pts = rate, start
            output.mux(audio.encode(frame))
        output.mux(audio.encode(None))
    return str(path)


@pytest.mark.parametrize("audio_codec, suffix", [("flac", ".mov"), ("pcm_s16le", ".mp4")])
def test_sound_the_output_lists_but_refuses_to_write_is_re_encoded(tmp_path, audio_codec,
                                                                   suffix):
    # The container names the codec, yet refuses it as the file is written ("flac only
    # supported in MP4"; "unsupported channel layout 2 channels"): a traceback, no video.
    clip = matroska_clip(tmp_path / "clip.mkv", audio_codec)
    out = tmp_path / f"painted{suffix}"
    record = video.stylize_video(lambda photo: photo, clip, out)
    assert record["audio"] == "re-encoded as aac" and record["frames"] == 10
    assert sound_seconds(out) == pytest.approx(sound_seconds(clip), abs=0.05)


def sound_channels(path):
    with av.open(str(path)) as container:
        return container.streams.audio[0].codec_context.channels


@pytest.mark.parametrize("layout", ["mono", "stereo", "2.1", "quad", "5.1", "6.1", "7.1"])
def test_pcm_of_any_named_number_of_channels_keeps_them_all_in_mp4(tmp_path, layout):
    # Matroska's PCM names no channel order and MP4 takes no PCM in no order: re-encoded as
    # AAC, whose encoder refused 3 to 8 unnamed channels ('avcodec_open2("aac", {})'
    # returned 22, a traceback). They are FFmpeg's default layout for their number, as
    # FFmpeg's own tools take them (six are 5.1), which AAC takes.
    clip = matroska_clip(tmp_path / "clip.mkv", "pcm_s16le", layout=layout, rate=48000)
    out = tmp_path / "painted.mp4"
    record = video.stylize_video(lambda photo: photo, clip, out)
    assert record["audio"] in ("copied", "re-encoded as aac") and record["frames"] == 10
    assert sound_channels(out) == sound_channels(clip) == av.AudioLayout(layout).nb_channels
    assert sound_seconds(out) == pytest.approx(sound_seconds(clip), abs=0.05)


@pytest.mark.parametrize("suffix, codec", [(".mp4", "aac"), (".webm", "libopus")])
def test_more_channels_than_the_encoder_takes_are_mixed_down_to_stereo(tmp_path, suffix,
                                                                      codec):
    clip = matroska_clip(tmp_path / "clip.mkv", "pcm_s16le", layout="5.1.4", rate=48000)
    out = tmp_path / f"painted{suffix}"
    with pytest.warns(video.SoundLeftOutWarning, match="10 channels; it is mixed down"):
        record = video.stylize_video(lambda photo: photo, clip, out)
    assert record["audio"] == f"re-encoded as {codec}, mixed down to stereo"
    assert sound_channels(out) == 2
    assert sound_seconds(out) == pytest.approx(sound_seconds(clip), abs=0.05)


def test_channels_no_layout_names_and_no_encoder_takes_leave_the_sound_out(tmp_path):
    # Nine channels in no order: FFmpeg names no layout of nine, so none can be mixed down.
    clip = matroska_clip(tmp_path / "clip.mkv", "pcm_s16le", layout="9 channels", rate=48000)
    out = tmp_path / "painted.mp4"
    with pytest.warns(video.SoundLeftOutWarning, match="the output has no sound"):
        record = video.stylize_video(lambda photo: photo, clip, out)
    assert record["audio"] is None and record["frames"] == 10
    with av.open(str(out)) as container:
        assert not container.streams.audio
    assert video.probe(out).frame_count == 10


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["not a video", "missing", "still image", "bad extension",
                                     "exists", "is the input", "unknown style",
                                     "cut before its first frame"])
def test_bad_input_is_one_line_and_exit_2(capsys, model_file, clip, tmp_path, problem):
    from PIL import Image

    source, out, style = clip, tmp_path / "out.mp4", "wave"
    if problem == "not a video":
        source = tmp_path / "notes.mp4"
        source.write_text("not a video")
    elif problem == "cut before its first frame":
        whole = remuxed(clip, tmp_path / "whole.mkv")
        source = cut_copy(whole, tmp_path / "cut.mkv", video_packets(whole)[0][0] + 5)
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


def remuxed(source, path, sound=True, **options):
    """The packets of `source` (without its sound if not `sound`), as they are, in the
    container of `path`; MP4 with `movflags="faststart"` has its index before the data, as
    web and phone videos have it, so that a copy cut short still has it."""
    with av.open(str(source)) as container, av.open(str(path), "w", options=options) as output:
        streams = {stream.index: output.add_stream_from_template(stream)
                   for stream in container.streams if sound or stream.type == "video"}
        for packet in container.demux():
            if packet.dts is not None and packet.stream.index in streams:
                packet.stream = streams[packet.stream.index]
                output.mux(packet)
    return path


def video_packets(path):
    """(position, size, seconds or None) of every video packet of `path` that its demuxer
    reads whole (those a cut left partial it marks corrupt), in file order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted((packet.pos, packet.size, None if packet.pts is None
                       else round(float(packet.pts * packet.time_base), 3))
                      for packet in container.demux(stream)
                      if packet.size and not packet.is_corrupt)


def cut_copy(source, path, length):
    """The first `length` bytes of `source`, as a download or a copy stopped midway
    leaves them."""
    path.write_bytes(Path(source).read_bytes()[:length])
    return str(path)


def frames_by_time(path):
    """{seconds: uint8 RGB frame} of every frame `path` decodes (passing over what does not)."""
    frames = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                continue
            for frame in decoded:
                frames[round(float(frame.pts * stream.time_base), 3)] = frame.to_ndarray(
                    format="rgb24")
    return frames


def decodable_sound_seconds(path):
    """Seconds of the sound of `path` that decodes (the packets wholly in the file)."""
    samples = 0
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        try:
            for packet in container.demux(stream):
                try:
                    samples += sum(frame.samples for frame in packet.decode())
                except av.FFmpegError:
                    continue
        except av.FFmpegError:
            pass
        return samples / stream.codec_context.sample_rate


@pytest.fixture(scope="module")
def indexed_clips(clip, tmp_path_factory):
    """`clip` as MP4 with its index first (cut short, its frames are still found) and as
    Matroska: {suffix: path}."""
    folder = tmp_path_factory.mktemp("indexed")
    return {".mp4": str(remuxed(clip, folder / "clip.mp4", movflags="faststart")),
            ".mkv": str(remuxed(clip, folder / "clip.mkv"))}


CUTS = [(suffix, where) for suffix in (".mp4", ".mkv")
        for where in ("in a frame", "after a frame")]


@pytest.mark.parametrize("suffix, where", CUTS, ids=[f"{s}-{w}" for s, w in CUTS])
def test_a_file_cut_short_paints_every_frame_there_is_with_its_sound_and_a_warning(
        indexed_clips, tmp_path, suffix, where):
    # Cut in the middle of its data, a file ended in "cannot decode ...: Invalid data
    # found" and no output, where players play what is there; cut where a frame ends, it
    # was painted to the cut without a word.
    source = indexed_clips[suffix]
    packets = video_packets(source)
    position, size, _ = packets[6]
    length = position + (size // 2 if where == "in a frame" else size)
    cut = cut_copy(source, tmp_path / f"cut{suffix}", length)
    # What is there: the frames whose data the demuxer finds whole before the cut.
    kept = sorted(seconds for _, _, seconds in video_packets(cut))
    count = len(kept)
    assert 0 < count < NUM_FRAMES
    out = tmp_path / "painted.mp4"
    if suffix == ".mp4" and where == "in a frame":  # the MP4 index leads to a frame cut short
        message = f"cut{suffix} is damaged after frame {count} .of the {NUM_FRAMES} it declares.; "
    else:
        message = (f"cut{suffix} ends after frame {count} though it declares [0-9]+ frames: "
                   f"it seems cut short; ")
    with pytest.warns(video.DamagedVideoWarning,
                      match=f"{message}painted the {count} frames"):
        record = video.stylize_video(lambda photo: photo, cut, out)
    assert record["frames"] == count
    painted, original = frames_by_time(out), frames_by_time(source)
    assert sorted(painted) == kept
    for seconds in kept:  # each the input's frame of that time (H.264 keeps it within a level)
        difference = painted[seconds].astype(np.float32) - original[seconds]
        assert np.abs(difference).mean() < 3
    assert sound_seconds(out) == pytest.approx(decodable_sound_seconds(cut), abs=1e-3)
    assert sound_seconds(out) > 0.25
    with pytest.warns(video.DamagedVideoWarning, match=f"read the {count} frames"):
        assert len(list(video.read_frames(cut))) == count


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.slow
@pytest.mark.parametrize("watching", [False, True], ids=["quiet", "on a terminal"])
def test_the_command_paints_a_file_cut_short_and_says_so_in_one_line(
        monkeypatch, capsys, model_file, indexed_clips, tmp_path, watching):
    source = indexed_clips[".mp4"]
    position, size, _ = video_packets(source)[6]
    cut = cut_copy(source, tmp_path / "cut.mp4", position + size // 2)
    out = tmp_path / "painted.mp4"
    terminal = Terminal()
    if watching:  # the progress bar stops short of the frames the file declares
        monkeypatch.setattr(sys, "stderr", terminal)
    code = main(["video", cut, "--model", model_file, "--style", "wave",
                 *([] if watching else ["--quiet"]), "--out", str(out)])
    error = terminal.getvalue() if watching else capsys.readouterr().err
    assert code == 0, error
    count = video.probe(out).frame_count
    assert 0 < count < NUM_FRAMES
    warning = (f"style-transfer video: warning: {cut} is damaged after frame {count} (of the "
               f"{NUM_FRAMES} it declares); painted the {count} frames before it.\n")
    if watching:  # after the bar, on a line of its own
        bar, _, rest = error.rpartition("\n" + warning)
        assert bar.startswith("\r") and "\n" not in bar and f"/{NUM_FRAMES} [" in bar
        assert rest == ""
    else:
        assert error == warning


def test_sound_re_encoded_from_a_file_cut_short_is_kept_as_far_as_it_decodes(indexed_clips,
                                                                             tmp_path):
    source = indexed_clips[".mp4"]
    position, size, _ = video_packets(source)[6]
    cut = cut_copy(source, tmp_path / "cut.mp4", position + size // 2)
    out = tmp_path / "painted.webm"  # WebM takes no AAC: decoded and re-encoded as Opus
    with pytest.warns(video.DamagedVideoWarning, match="damaged after frame"):
        record = video.stylize_video(lambda photo: photo, cut, out)
    assert record["audio"] == "re-encoded as libopus"
    # Opus resamples 16 to 48 kHz and codes 20 ms frames.
    assert sound_seconds(out) == pytest.approx(decodable_sound_seconds(cut), abs=0.03)


class FailingDemuxer:
    """A container whose demuxer fails after `after` packets, as one reading a file whose
    data ends or is unreadable midway does."""

    def __init__(self, container, after):
        self.container, self.after = container, after

    def demux(self, *streams):
        for index, packet in enumerate(self.container.demux(*streams)):
            if index == self.after:
                raise av.error.InvalidDataError(1094995529, "Invalid data found when "
                                                "processing input")
            yield packet


def test_a_demuxer_failing_midway_ends_the_frames_with_those_the_decoder_holds(clip):
    # H.264 with B-frames (and the decoder's threads) holds frames back: without draining
    # it, the frames of the last packets read were lost.
    ends = []
    with av.open(clip) as container:
        stream = container.streams.video[0]
        damage = video._Damage()
        frames = list(video._decoded(FailingDemuxer(container, 7), stream, damage,
                                     on_packet=ends.append))
    assert len(frames) == 7  # one frame for each packet read
    assert ends == [None]    # the sound is told the packets end
    assert damage.failures == 1 and not damage.resumed
    assert video._incomplete("clip.mp4", len(frames), damage, NUM_FRAMES, "painted") == (
        f"clip.mp4 is damaged after frame 7 (of the {NUM_FRAMES} it declares); painted the "
        f"7 frames before it.")


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_file_cut_before_its_first_frame_is_refused_and_leaves_nothing(indexed_clips,
                                                                         tmp_path, suffix):
    source = indexed_clips[suffix]
    position, _, _ = video_packets(source)[0]
    cut = cut_copy(source, tmp_path / f"cut{suffix}", position + 5)
    out = tmp_path / "out" / "painted.mp4"
    out.parent.mkdir()
    with pytest.raises(BadInput, match="cannot decode .*cut|cut.* has no frame that could be "
                                       "decoded"):
        video.stylize_video(lambda photo: photo, cut, out)
    assert list(out.parent.iterdir()) == []


def test_a_frame_damaged_in_the_middle_is_passed_over_and_the_rest_painted(indexed_clips,
                                                                           tmp_path):
    # As players do: the frames after the damage decode (the next ones a little marred
    # until a key frame), so they are painted too.
    source = Path(indexed_clips[".mp4"])
    data = bytearray(source.read_bytes())
    position, size, _ = video_packets(source)[6]
    data[position + 4:position + size] = bytes(index % 256 for index in range(size - 4))
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with pytest.warns(video.DamagedVideoWarning,
                      match="damaged.mp4 is damaged: 1 piece of its video data does not decode, "
                            "the first after about frame [0-9]+; painted the 11 frames that do"):
        record = video.stylize_video(lambda photo: photo, damaged, tmp_path / "painted.mp4")
    assert record["frames"] == NUM_FRAMES - 1


def test_a_file_that_declares_no_length_is_painted_to_its_end_without_a_warning(clip,
                                                                                 tmp_path):
    # A raw H.264 stream declares neither a frame count nor a duration: however short, it
    # is as long as it is.
    raw = remuxed(clip, tmp_path / "clip.h264", sound=False)
    position, size, _ = video_packets(raw)[5]
    cut = cut_copy(raw, tmp_path / "cut.h264", position + size)
    with warnings.catch_warnings():
        warnings.simplefilter("error", video.DamagedVideoWarning)
        record = video.stylize_video(lambda photo: photo, cut, tmp_path / "painted.mp4")
    assert 0 < record["frames"] < NUM_FRAMES


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".ts"])
def test_a_whole_file_gives_no_warning_whatever_its_container(clip, tmp_path, suffix):
    # Declared lengths are approximate (Matroska's is a duration): a whole file is never
    # taken for one cut short.
    source = remuxed(clip, tmp_path / f"clip{suffix}") if suffix != ".mp4" else clip
    with warnings.catch_warnings():
        warnings.simplefilter("error", video.DamagedVideoWarning)
        record = video.stylize_video(lambda photo: photo, source, tmp_path / "painted.mkv")
    assert record["frames"] == NUM_FRAMES


def write_turned_clip(path, stored, degrees, mirror):
    """A 3-frame H.264 clip of the frame `stored` whose display matrix turns it by `degrees`
    counterclockwise and then mirrors it left to right (`mirror`), as PyAV writes it."""
    height, width = stored.shape[:2]
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264rgb", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        stream.options = {"qp": "0"}  # lossless: the pixels come back as written
        stream.set_display_rotation(degrees, hflip=mirror)
        for _ in range(3):
            output.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        output.mux(stream.encode(None))
    return path


def as_displayed(stored, degrees, mirror):
    """What a player shows: the stored frame turned counterclockwise, then mirrored."""
    shown = np.rot90(stored, degrees // 90)
    return shown[:, ::-1] if mirror else shown


ORIENTATIONS = [(degrees, mirror) for degrees in (0, 90, 180, 270) for mirror in (False, True)]


@pytest.mark.parametrize("degrees, mirror", ORIENTATIONS,
                         ids=[f"{d}{'-mirrored' if m else ''}" for d, m in ORIENTATIONS])
def test_frames_of_a_turned_video_are_read_upright(degrees, mirror, tmp_path):
    """Phones record landscape frames and a display matrix that turns them (and front
    cameras mirror them): every orientation reads as a player shows it, as FFmpeg's
    `-autorotate` does."""
    stored = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    path = write_turned_clip(tmp_path / "turned.mp4", stored, degrees, mirror)
    shown = as_displayed(stored, degrees, mirror)
    frames = list(video.read_frames(path))
    assert len(frames) == 3
    for frame in frames:
        np.testing.assert_array_equal(frame, shown)
    info = video.probe(path)
    assert (info.height, info.width) == shown.shape[:2]


def test_a_turned_video_is_painted_and_written_upright(tmp_path):
    """The painter sees the frames upright and the output needs no display matrix."""
    stored = np.zeros((48, 80, 3), np.uint8)
    stored[:12, :20] = 255  # a block in the stored frame's top left corner
    path = write_turned_clip(tmp_path / "phone.mp4", stored, 90, False)
    seen = []

    def paint(photo):
        seen.append(photo.shape)
        return photo

    record = video.stylize_video(paint, path, tmp_path / "painted.mp4")
    assert record["size"] == [48, 80] and seen[0] == (80, 48, 3)
    with av.open(str(tmp_path / "painted.mp4")) as output:
        frame = next(output.decode(video=0))
        assert (frame.width, frame.height, frame.rotation) == (48, 80, 0)
        picture = frame.to_ndarray(format="rgb24").mean(axis=-1)
    # Turned 90 degrees counterclockwise, the top left corner is at the bottom left.
    assert picture[-12:, :12].mean() > 200 and picture[:12, :12].mean() < 50


def write_anamorphic_clip(path, degrees=0):
    """A 3-frame 96x64 clip of pixels 4/3 as wide as high (as DV and HDV store them),
    turned by `degrees` for display."""
    import fractions

    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.sample_aspect_ratio = fractions.Fraction(4, 3)
        stream.set_display_rotation(degrees)
        for _ in range(3):
            output.mux(stream.encode(av.VideoFrame.from_ndarray(
                np.full((64, 96, 3), 128, np.uint8), format="rgb24")))
        output.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("suffix, degrees, size, aspect", [
    (".mp4", 0, [96, 64], "4/3"), (".mkv", 0, [96, 64], "4/3"),
    (".mp4", 90, [64, 96], "3/4"),
    (".webm", 0, [128, 64], None),  # VP9 in WebM carries no pixel aspect: square pixels
])
def test_non_square_pixels_keep_the_picture_as_wide_as_the_input(suffix, degrees, size, aspect,
                                                                 tmp_path):
    source = write_anamorphic_clip(tmp_path / "dv.mp4", degrees)
    out = tmp_path / f"painted{suffix}"
    record = video.stylize_video(lambda photo: photo, source, out)
    assert record["size"] == size
    with av.open(str(out)) as output:
        stream = output.streams.video[0]
        assert [stream.width, stream.height] == size
        assert str(stream.sample_aspect_ratio) == (aspect or "1")
        shown = size[0] * (stream.sample_aspect_ratio or 1) / size[1]
    # As wide as the input is shown: 96 * 4/3 by 64 (turned: 64 by 96 * 4/3).
    assert shown == pytest.approx(2.0 if degrees == 0 else 0.5)


def test_output_size_takes_every_max_size_the_command_takes():
    """`--max-size` accepts 8 and up: a square clip downsized to 8 px is paintable, a wide
    one whose short side would fall under 8 px is refused in one line."""
    assert video.output_size(64, 64, max_size=8) == (8, 8)
    assert video.output_size(160, 120, max_size=12) == (12, 8)  # even sides for 4:2:0
    with pytest.raises(BadInput, match="160x90 pixels, 8x4 once downsized"):
        video.output_size(160, 90, max_size=8)
    with pytest.raises(BadInput, match="at least 8 pixels; received 0"):
        video.output_size(160, 90, max_size=0)


@pytest.mark.parametrize("width, height, max_size", [(33, 17, 31), (17, 33, 31), (101, 99, 9),
                                                     (4001, 3000, 1999)])
def test_an_odd_max_size_is_never_exceeded_by_the_even_sides(width, height, max_size):
    """Even sides round the long side down, not up: `--max-size 31` made 32x16 of 33x17."""
    size = video.output_size(width, height, max_size=max_size)
    assert max(size) == max_size - 1 and all(side % 2 == 0 for side in size), size


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_the_output_says_which_colours_it_holds_and_holds_them(suffix, tmp_path):
    """The output is converted to BT.709 (limited range) and tagged so: players read an
    untagged HD stream as BT.709 where FFmpeg's default conversion is BT.601, which turns
    pure red into (255, 25, 0). Decoded by its tags, every flat patch keeps its colour."""
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [224, 172, 140], [40, 40, 40],
                        [250, 250, 250]], np.uint8)
    patches = np.repeat(np.repeat(colours[None], 32, axis=0), 32, axis=1)  # 32 x 192
    source = tmp_path / "patches.mkv"
    with av.open(str(source), "w") as output:
        stream = output.add_stream("libx264rgb", rate=10)
        stream.width, stream.height, stream.pix_fmt = 192, 32, "rgb24"
        stream.options = {"qp": "0"}
        for _ in range(2):
            output.mux(stream.encode(av.VideoFrame.from_ndarray(patches, format="rgb24")))
        output.mux(stream.encode(None))
    out = tmp_path / f"painted{suffix}"
    video.stylize_video(lambda photo: photo, source, out)
    with av.open(str(out)) as painted:
        context = painted.streams.video[0].codec_context
        assert (context.colorspace, context.color_primaries, context.color_trc) == (1, 1, 1)
        frame = next(painted.decode(video=0))
        assert (frame.colorspace, frame.color_range) == (1, 1)  # BT.709, limited range
        shown = frame.to_ndarray(format="rgb24").astype(int)
    for index, colour in enumerate(colours):
        centre = shown[8:24, 32 * index + 8: 32 * index + 24].reshape(-1, 3)
        assert np.abs(np.median(centre, axis=0) - colour).max() <= 3, (colour, centre[0])


@pytest.mark.parametrize("width, height, matrix", [(1280, 720, 1), (640, 480, 6)],
                         ids=["HD: BT.709", "SD: BT.601"])
def test_a_stream_that_names_no_colour_matrix_is_read_as_players_read_it(width, height, matrix,
                                                                          tmp_path):
    """Untagged video is converted with BT.709 at HD sizes and BT.601 below, as players
    (mpv, VLC) assume: written so, its colours read back as they went in."""
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [224, 172, 140]], np.uint8)
    picture = np.repeat(np.repeat(colours[None], height, axis=0), width // 4, axis=1)
    path = tmp_path / "untagged.mp4"
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(2):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(
                format="yuv420p", dst_colorspace=matrix, dst_color_range=1)
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    with av.open(str(path)) as written:
        assert next(written.decode(video=0)).colorspace == 2  # unspecified
    shown = next(iter(video.read_frames(path))).astype(int)
    for index, colour in enumerate(colours):
        patch = shown[height // 4: 3 * height // 4,
                      index * width // 4 + width // 16: (index + 1) * width // 4 - width // 16]
        assert np.abs(np.median(patch.reshape(-1, 3), axis=0) - colour).max() <= 3, colour


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
    stabilizer = stabilize.Stabilizer(weight=0.6)
    expected = paintings[0]
    for index, painting in enumerate(paintings):
        if index > 0:
            expected = painting + 0.6 * (expected - painting)
        motion = stabilizer.prepare(frame)
        assert motion.offset == (0.0, 0.0)
        np.testing.assert_allclose(stabilizer.finish(motion, painting), expected, atol=1e-3)


def test_stabilizer_halves_the_flicker_of_a_pan_and_keeps_new_pixels():
    photo = np.random.default_rng(4).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    frames, flow = stabilize.pan_clip(photo, 8, (48, 36), velocity=(2, 1))
    noise = np.random.default_rng(5).normal(0, 0.1, frames.shape).astype(np.float32)
    painted = np.clip(frames / 255 * 0.6 + 0.2 + noise, 0, 1).astype(np.float32)
    stabilizer = stabilize.make_stabilizer("flow", weight=0.6)
    stabilized = np.stack([stabilizer.finish(stabilizer.prepare(frame), paint)
                           for frame, paint in zip(frames, painted)])
    flows = [(flow, stabilize.inside_frame(flow))] * 7
    before = stabilize.temporal_warping_error(painted, flows)
    assert stabilize.temporal_warping_error(stabilized, flows) < 0.5 * before
    # The columns and row that enter the picture have no past: they are painted alone.
    np.testing.assert_allclose(stabilized[1:, :, -2:], painted[1:, :, -2:])
    np.testing.assert_allclose(stabilized[1:, -1:], painted[1:, -1:])
    assert stabilize.make_stabilizer("none") is None


def grid_painter(canvas):
    """A painter whose strokes depend on the 4-pixel grid, as the network's do: the canvas
    times a pattern fixed to the canvas (periodic in 4 pixels)."""
    rows, columns = np.mgrid[0:canvas.shape[0], 0:canvas.shape[1]]
    pattern = 0.6 + 0.4 * (((rows % 4) * 4 + columns % 4) % 5) / 4
    return canvas * pattern[..., None].astype(np.float32)


@pytest.mark.parametrize("velocity", [(3, 2), (-1, 0)])
def test_the_canvas_follows_the_camera_so_a_grid_painter_does_not_flicker(velocity):
    photo = np.random.default_rng(7).integers(0, 256, (80, 100, 3), dtype=np.uint8)
    start = (30, 30) if min(velocity) < 0 else (0, 0)
    frames, flow = stabilize.pan_clip(photo, 6, (48, 40), velocity=velocity, start=start)
    flows = [(flow, stabilize.inside_frame(flow))] * 5
    interior = np.zeros((40, 48), bool)
    interior[4:-4, 4:-4] = True  # the canvas's mirrored edges are painted from the frame
    flows = [(flow, valid & interior) for flow, valid in flows]
    alone = np.stack([grid_painter(frame / np.float32(255)) for frame in frames])
    following = stabilize.Stabilizer(weight=0.0, hold_levels=0)
    on_canvas = np.stack([following(frame, grid_painter) for frame in frames])
    # Frame by frame the pattern slides over the content; on the canvas it moves with it
    # (up to the tracked shift's error, a few hundredths of a pixel, resampled).
    flicker = stabilize.temporal_warping_error(alone, flows)
    assert flicker > 10
    assert stabilize.temporal_warping_error(on_canvas, flows) < 0.1 * flicker


def test_the_canvas_follows_a_slow_pan_too():
    """A pan of a fraction of a pixel per frame (a slow drift) is followed: the grid
    painter's flicker falls by a third or more (sub-pixel shifts resample the canvas, so
    not to zero), where a canvas that stays put leaves it as it was."""
    import cv2

    photo = cv2.GaussianBlur(np.random.default_rng(7).integers(0, 256, (80, 100, 3),
                                                               dtype=np.uint8), (0, 0), 1.0)
    frames, flow = stabilize.pan_clip(photo, 6, (48, 40), velocity=(0.3, -0.2), start=(30, 30))
    interior = np.zeros((40, 48), bool)
    interior[4:-4, 4:-4] = True
    flows = [(flow, stabilize.inside_frame(flow) & interior)] * 5
    alone = np.stack([grid_painter(frame / np.float32(255)) for frame in frames])

    def painted(follow_camera):
        stabilizer = stabilize.Stabilizer(weight=0.0, follow_camera=follow_camera, hold_levels=0)
        return np.stack([stabilizer(frame, grid_painter) for frame in frames])

    flicker = stabilize.temporal_warping_error(alone, flows)
    assert stabilize.temporal_warping_error(painted(False), flows) > 0.95 * flicker
    assert stabilize.temporal_warping_error(painted(True), flows) < 0.7 * flicker


def test_camera_shift_is_the_pan_and_a_moving_square_leaves_the_camera_still():
    photo = np.random.default_rng(8).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    frames, _ = stabilize.pan_clip(photo, 2, (80, 60), velocity=(2.5, -1.5), start=(10, 20))
    grey = [stabilize._grey(frame) for frame in frames]
    np.testing.assert_allclose(stabilize.camera_shift(grey[1], grey[0]), (2.5, -1.5), atol=0.15)
    # A slow pan, a fraction of the agreement tolerance per frame, is a pan too.
    frames, _ = stabilize.pan_clip(photo, 2, (80, 60), velocity=(0.3, 0.15), start=(10, 20))
    grey = [stabilize._grey(frame) for frame in frames]
    np.testing.assert_allclose(stabilize.camera_shift(grey[1], grey[0]), (0.3, 0.15), atol=0.05)
    # Noise on a still picture is not.
    noise = np.random.default_rng(9).integers(-2, 3, grey[0].shape)
    noisy = np.clip(grey[0] + noise, 0, 255).astype(np.uint8)
    assert stabilize.camera_shift(noisy, grey[0]).tolist() == [0.0, 0.0]
    # A textured square moving over a flat wall is not the camera's motion.
    wall = np.full((60, 80), 128, np.uint8)
    square = photo[:16, :16, 0]
    before, after = wall.copy(), wall.copy()
    before[20:36, 20:36] = square
    after[22:38, 25:41] = square
    assert stabilize.camera_shift(after, before).tolist() == [0.0, 0.0]


def test_still_pixels_within_the_noise_are_held_and_changes_are_not():
    rng = np.random.default_rng(9)
    frame = rng.integers(20, 236, (40, 48, 3), dtype=np.uint8)
    stabilizer = stabilize.Stabilizer(hold_levels=5)
    first = stabilizer.prepare(frame).canvas
    noisy = (frame.astype(int) + rng.integers(-2, 3, frame.shape)).astype(np.uint8)
    noisy[10:20, 10:20] += 15
    motion = stabilizer.prepare(noisy)
    held = (motion.canvas == first).all(axis=-1)
    assert held[25:, 25:].all() and not held[12:18, 12:18].any()
    np.testing.assert_allclose(motion.canvas[12:18, 12:18], noisy[12:18, 12:18] / 255, atol=1e-6)
    assert 0.8 < motion.held_share < 1.0


def test_from_canvas_undoes_the_canvas_shift():
    photo = np.random.default_rng(10).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    frames, _ = stabilize.pan_clip(photo, 3, (56, 40), velocity=(1.5, 0.5))
    stabilizer = stabilize.Stabilizer()
    for frame in frames:
        motion = stabilizer.prepare(frame)
    assert motion.offset != (0.0, 0.0)
    back = motion.from_canvas(motion.canvas)
    np.testing.assert_allclose(back[4:-4, 4:-4], frame[4:-4, 4:-4] / 255, atol=0.03)


@pytest.mark.parametrize("channels", [1, 3])
def test_the_canvas_shift_is_opencvs_bicubic_translation(channels):
    """uint8 pictures shift by a separable filter: OpenCV's bicubic warp to within one grey
    level, whole pixels exactly, mirrored edges; float pictures by the warp itself."""
    import cv2

    rng = np.random.default_rng(11)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (37, 53, channels), dtype=np.uint8),
                               (0, 0), 1.0).reshape(37, 53, channels).squeeze()
    for dx, dy in [(1.3, -0.7), (-3.6, 2.25), (0.49, 0.0), (-2.0, 3.0), (5.0, -1.0)]:
        matrix = np.float32([[1, 0, dx], [0, 1, dy]])
        for image in (picture, picture.astype(np.float32) / 255):
            expected = cv2.warpAffine(image, matrix, (53, 37), flags=cv2.INTER_CUBIC,
                                      borderMode=cv2.BORDER_REFLECT_101)
            shifted = stabilize._translated(image, dx, dy)
            assert shifted.shape == image.shape and shifted.dtype == image.dtype
            tolerance = 1 if image.dtype == np.uint8 else 1e-6
            if dx == round(dx) and dy == round(dy):
                tolerance = 0
            assert np.abs(shifted.astype(np.float64) - expected).max() <= tolerance, (dx, dy)


def test_the_previous_output_moves_by_one_translation_where_the_camera_explains_it():
    """Where the flow is the camera's translation the previous output is translated
    (separably) instead of remapped pixel by pixel: the same pixels within two grey levels
    wherever the warp is used; pixels that move on their own are remapped as before."""
    import cv2

    rng = np.random.default_rng(12)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (0, 0), 1.5)
    previous_output = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
                                       (0, 0), 1.0)
    pan, _ = stabilize.pan_clip(photo, 3, (64, 48), velocity=(2.3, -1.4), start=(10, 30))
    square = photo[:12, :12]
    moving = [photo[40:88, 40:104].copy() for _ in range(3)]
    for t, frame in enumerate(moving):
        frame[18:30, 10 + 3 * t: 22 + 3 * t] = square
    for frames, whole_frame in ((pan, True), (moving, False)):
        stabilizer = stabilize.Stabilizer()
        for frame in frames:
            motion = stabilizer.prepare(frame)
        assert (motion.local is None) == whole_frame
        if not whole_frame:
            assert motion.local[18:30, 18:28].all() and not motion.local[:, 40:].any()
        warped = stabilizer._warped_previous(previous_output, motion)
        remapped = stabilizer._warp(previous_output, motion.flow, cubic=True)
        difference = np.abs(warped.astype(int) - remapped)[motion.reliable]
        assert motion.reliable.mean() > 0.5 and difference.max() <= 2
    # The band a translation brings in from outside the frame is what inside_frame finds.
    for shift in [(2.3, -1.4), (-0.5, 3.0), (0.0, 0.0)]:
        flow = np.broadcast_to(np.float32(shift), (48, 64, 2))
        np.testing.assert_array_equal(stabilize._inside_translation(48, 64, shift),
                                      stabilize.inside_frame(flow))


def test_stabilizer_weight_outside_0_1_is_refused():
    with pytest.raises(BadInput, match="weight"):
        stabilize.Stabilizer(weight=1.0)


# ------------------------------------------------------------------ the pipeline


def test_pipeline_paints_batches_in_order_through_paint_many():
    frames = [np.full((8, 12, 3), 10 * t, np.uint8) for t in range(7)]
    batches = []

    def paint(photo):
        return photo * 2

    def many(photos):
        batches.append(len(photos))
        return photos * 2

    paint.many = many
    written = []
    count = video.paint_frames(((frame, t, [f"sound {t}"]) for t, frame in enumerate(frames)),
                               paint, lambda out, t, sound: written.append((out, t, sound)),
                               batch_size=3)
    assert count == 7 and batches == [3, 3, 1]
    assert [t for _, t, _ in written] == list(range(7))
    assert [sound for _, _, sound in written] == [[f"sound {t}"] for t in range(7)]
    for (out, t, _), frame in zip(written, frames):
        np.testing.assert_array_equal(out, frame * 2)  # as uint8, ready to encode


def test_opencv_runs_on_one_thread_while_stabilized_pipelines_run_and_is_put_back_after():
    """The stabilizer's OpenCV calls run on `PIPELINE_THREADS` threads during a pipeline (the
    stages already run side by side); two pipelines at once leave the setting as it was
    before the first, and so does one that fails."""
    import threading

    import cv2

    kept = cv2.getNumThreads()
    cv2.setNumThreads(3)
    try:
        seen = []
        inner_started, outer_may_end = threading.Event(), threading.Event()

        class Recording(stabilize.Stabilizer):
            def prepare(self, frame):
                seen.append(cv2.getNumThreads())
                return super().prepare(frame)

        def frames(count, started=None, wait=None):
            for t in range(count):
                if t == 2 and started is not None:
                    started.set()
                if t == 2 and wait is not None:
                    assert wait.wait(30)
                yield np.full((16, 16, 3), 10 * t, np.uint8), t, []

        def inner():
            assert inner_started.wait(30)
            video.paint_frames(frames(4), lambda photo: photo, lambda *_: None,
                               stabilizer=Recording())
            outer_may_end.set()

        helper = threading.Thread(target=inner)
        helper.start()
        # The outer pipeline is still running when the inner one starts and ends.
        video.paint_frames(frames(6, inner_started, outer_may_end), lambda photo: photo,
                           lambda *_: None, stabilizer=Recording())
        helper.join(30)
        assert seen and set(seen) == {video.PIPELINE_THREADS}
        assert cv2.getNumThreads() == 3
        with pytest.raises(BadInput, match="disk full"):
            video.paint_frames(frames(4), lambda photo: photo,
                               lambda *_: (_ for _ in ()).throw(BadInput("disk full")),
                               stabilizer=Recording())
        assert cv2.getNumThreads() == 3
        # Frame by frame, OpenCV is not used and its setting not touched.
        video.paint_frames(frames(2), lambda photo: photo, lambda *_: None)
        assert cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(kept)


def test_the_encoder_runs_on_the_pipelines_threads(tmp_path):
    av = pytest.importorskip("av")
    for suffix in (".mp4", ".webm"):
        with av.open(str(tmp_path / f"out{suffix}"), "w") as output:
            encoder = video._VideoEncoder(output, video.video_codec(Path(f"x{suffix}")),
                                          (32, 16), 10, None)
            assert encoder.stream.codec_context.thread_count == video.PIPELINE_THREADS
            encoder.add(np.zeros((16, 32, 3), np.uint8), None, 0)
            encoder.close()


@pytest.mark.parametrize("stage", ["reading", "writing"])
def test_a_failing_stage_stops_the_pipeline_with_its_error(stage):
    def frames():
        for t in range(100):
            if stage == "reading" and t == 5:
                raise BadInput("cannot decode frame 5")
            yield np.zeros((8, 8, 3), np.uint8), t, []

    def write(out, t, sound):
        if stage == "writing" and t == 3:
            raise BadInput("disk full")

    with pytest.raises(BadInput, match="frame 5" if stage == "reading" else "disk full"):
        video.paint_frames(frames(), lambda photo: photo, write,
                           stabilizer=stabilize.Stabilizer())


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
                                  stabilizer=stabilize.Stabilizer(), max_frames=4)
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


@pytest.mark.slow
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


@pytest.mark.parametrize("argv", [["-", "--out", "painted.mp4"], ["clip.mp4", "--out", "-"]],
                         ids=["input -", "out -"])
def test_dash_is_named_as_a_standard_stream_video_does_not_offer(capsys, tmp_path, argv):
    # `stylize` reads `-` as standard input; video said "video '-' does not exist".
    assert main(["video", *[str(tmp_path / word) if word not in ("-", "--out") else word
                            for word in argv], "--style", "0"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is not offered" in err, err
    assert "does not exist" not in err and list(tmp_path.iterdir()) == []
