"""`style-transfer video`: a video file (or a camera) painted in a style, steady in time, with its sound.

    style-transfer video holiday.mp4 --style 19 --out painted.mp4
    style-transfer video holiday.mp4 --blend "3=0.5,19=0.5" --max-size 640 --out painted.mp4
    style-transfer video holiday.mp4 --model arbitrary.keras --style-image wave.jpg --out wave.mp4
    style-transfer video holiday.mp4 --style 19 --stabilize none --out flickering.mp4
    style-transfer video holiday.mp4 --style 19 --xla --out painted.mp4      # faster per frame
    style-transfer video --camera 0 --style 19 --frames 300 --out live.mp4

A thin layer over `style_transfer.painting.video`: the options are
`VideoConfig`'s fields, the model and styles chosen as in `stylize`.
Everything is checked before the first frame is painted; the output is written
under a temporary name and renamed when complete, and never replaces an
existing file without --overwrite, nor the input.
"""

import json
import warnings
from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.cli.options import add_config_options, config_from_args, integer_between
from style_transfer.cli.progress import ProgressBar, watched
from style_transfer.painting.config import VideoConfig


def register(subparsers):
    from style_transfer.painting.video import MAX_CAMERA_INDEX, MAX_FRAMES, VIDEO_CODECS

    parser = subparsers.add_parser("video", description=__doc__.split("\n\n")[0])
    parser.add_argument("input", nargs="?", metavar="INPUT",
                        help="a video file (anything FFmpeg reads)")
    parser.add_argument("--out", required=True, metavar="OUT",
                        help=f"the output video ({', '.join(VIDEO_CODECS)})")
    parser.add_argument("--camera", type=integer_between(0, MAX_CAMERA_INDEX), default=None,
                        metavar="INDEX", help=f"paint what camera INDEX sees (OpenCV) instead "
                        f"of INPUT, until Ctrl-C or --frames (from 0 to {MAX_CAMERA_INDEX})")
    parser.add_argument("--frames", type=integer_between(1, MAX_FRAMES), default=None,
                        metavar="N", help=f"with --camera: stop after N frames (from 1 to "
                        f"{MAX_FRAMES})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON record (input, output, style, size, seconds, "
                        "frames, fps, duration_s, audio) instead of the progress bar")
    add_config_options(parser, VideoConfig)
    parser.set_defaults(run=run)


def run(args):
    from style_transfer.painting import stabilize, video

    config = config_from_args(VideoConfig, args)

    if (args.input is None) == (args.camera is None):
        raise BadInput("give either an INPUT video or --camera INDEX.")
    if args.frames is not None and args.camera is None:
        raise BadInput("--frames N goes with --camera.")
    # `-` is a file name to FFmpeg, but `stylize` reads it as a standard stream: say so.
    if args.input == "-" or args.out == "-":
        stream = "standard input (INPUT -)" if args.input == "-" else "standard output (--out -)"
        raise BadInput(f"video reads and writes files only (a video's container is read and "
                       f"written out of order): {stream} is not offered; give a file name.")
    out = Path(args.out)
    video.video_codec(out)
    if args.input is not None:
        # An unreadable input, or frames too small to paint, fail before the model loads.
        info = video.probe(args.input)
        video.output_size(info.width, info.height, config.max_size)
    model = config.load()
    label = config.conditions(model)[0][0]
    paint = config.painter(model)
    stabilizer = stabilize.make_stabilizer(config.stabilize, config.stabilize_weight)
    progress = None if args.quiet or args.json or not watched() else ProgressBar("frame")
    options = dict(stabilizer=stabilizer, max_size=config.max_size, overwrite=args.overwrite,
                   progress=progress, batch_size=config.batch_size)
    # The warnings of the painting (a file cut short) are shown once the bar's line ends.
    with warnings.catch_warnings(record=True) as caught:
        try:
            if args.camera is not None:
                record = video.stylize_camera(paint, args.camera, out, max_frames=args.frames,
                                              **options)
            else:
                record = video.stylize_video(paint, args.input, out, **options)
        finally:
            if progress is not None:
                progress.close()
    for warning in caught:
        warnings.showwarning(warning.message, warning.category, warning.filename,
                             warning.lineno)
    record = {"input": record.pop("input"), "output": record.pop("output"), "style": label,
              **record}
    if args.json:
        print(json.dumps(record))
    elif not args.quiet:
        print(f"{out}: {record['frames']} frames, {record['duration_s']} s, "
              f"{record['size'][0]}x{record['size'][1]}, sound {record['audio'] or 'none'}")
    return 0
