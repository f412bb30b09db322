"""`style-transfer video`: a video file (or a camera) painted in a style, steady in time, with its sound.

    style-transfer video holiday.mp4 --style 19 --out painted.mp4
    style-transfer video holiday.mp4 --blend "3=0.5,19=0.5" --max-size 640 --out painted.mp4
    style-transfer video holiday.mp4 --model arbitrary.keras --style-image wave.jpg --out wave.mp4
    style-transfer video holiday.mp4 --style 19 --stabilize none --out flickering.mp4
    style-transfer video --camera 0 --style 19 --frames 300 --out live.mp4

A thin layer over `style_transfer.painting.video` and `stylize.painter`. The model is a
`.keras` file or a pretrained name (default: android-26, the [pretrained]
extra); styles are chosen as in `stylize`. Everything is checked before the
first frame is painted; the output is written under a temporary name and
renamed when complete, and never replaces an existing file without
--overwrite, nor the input.
"""

import json
import sys
from pathlib import Path

from style_transfer.cli.commands import photo_options
from style_transfer.cli.options import decimal_number, integer_at_least
from style_transfer.cli.photo_files import MIN_PHOTO_PX
from style_transfer.base.errors import BadInput
from style_transfer.models.pretrained import DEFAULT_MODEL


def register(subparsers):
    from style_transfer.painting.stabilize import DEFAULT_STABILIZE_WEIGHT, STABILIZE_METHODS
    from style_transfer.painting.video import VIDEO_CODECS

    parser = subparsers.add_parser("video", description=__doc__.split("\n\n")[0])
    parser.add_argument("input", nargs="?", metavar="INPUT",
                        help="a video file (anything FFmpeg reads)")
    parser.add_argument("--out", required=True, metavar="OUT",
                        help=f"the output video ({', '.join(VIDEO_CODECS)})")
    parser.add_argument("--camera", type=integer_at_least(0), default=None, metavar="INDEX",
                        help="paint what camera INDEX sees (OpenCV) instead of INPUT, until "
                        "Ctrl-C or --frames")
    parser.add_argument("--frames", type=integer_at_least(1), default=None, metavar="N",
                        help="with --camera: stop after N frames")
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="MODEL.keras|NAME",
                        help="a style model file, or the name of a pretrained one "
                        "(`style-transfer pretrained list`)")
    parser.add_argument("--style", default=None, metavar="NAME|INDEX", help="a style of the model")
    parser.add_argument("--blend", default=None, metavar="A=W,B=W",
                        help="a convex blend by names or indices, e.g. '3=0.7,19=0.3'")
    parser.add_argument("--normalize", action="store_true",
                        help="divide --blend weights by their sum instead of requiring sum 1")
    parser.add_argument("--style-image", action="append", default=[], metavar="IMAGE",
                        help="with an arbitrary-style model: a style image (repeat to blend)")
    parser.add_argument("--blend-weights", default=None, metavar="W1,W2,...",
                        help="convex weights of the style images (default: equal)")
    parser.add_argument("--hub-encoder", default=None, metavar="HANDLE",
                        help="for an arbitrary-style model trained with --encoder-hub: the TF "
                        "Hub model to run as its encoder (only one you trust; see stylize)")
    photo_options.add_options(parser)
    parser.add_argument("--stabilize", choices=STABILIZE_METHODS, default="flow",
                        help="flow: blend each frame with the previous one, warped by optical "
                        "flow where it is reliable; none: every frame painted alone (flickers)")
    parser.add_argument("--stabilize-weight", type=decimal_number,
                        default=DEFAULT_STABILIZE_WEIGHT,
                        metavar="W", help="weight of the warped previous frame, in [0, 1)")
    parser.add_argument("--max-size", type=integer_at_least(MIN_PHOTO_PX), default=None,
                        metavar="PX",
                        help="downsize frames whose long side is larger")
    parser.add_argument("--xla", action="store_true",
                        help="compile the network with XLA (one compilation of a few seconds; "
                        "pays off on long videos)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON record (input, output, style, size, seconds, "
                        "frames, fps, duration, audio) instead of the progress bar")
    parser.set_defaults(run=run)


def run(args):
    from style_transfer.painting import stylize, video
    from style_transfer.cli.commands.stylize_arbitrary import parse_blend_weights

    if (args.input is None) == (args.camera is None):
        raise BadInput("give either an INPUT video or --camera INDEX.")
    if args.frames is not None and args.camera is None:
        raise BadInput("--frames N goes with --camera.")
    out = Path(args.out)
    video.video_codec(out)
    if args.input is not None:
        video.probe(args.input)  # an unreadable input fails before the model loads
    model = _load_model(args.model, args.hub_encoder)
    if args.xla and not args.style_image:
        stylize.use_xla(model)
    style, style_images, label = _style_choice(args, model)
    paint = stylize.painter(model, style, style_images=style_images,
                            blend_weights=parse_blend_weights(args.blend_weights,
                                                              len(args.style_image)),
                            normalize=args.normalize, strength=args.strength,
                            preserve_color=args.preserve_color)
    stabilizer = video.make_stabilizer(args.stabilize, args.stabilize_weight)
    progress = None if args.quiet or args.json else _ProgressBar()
    options = dict(stabilizer=stabilizer, max_size=args.max_size, overwrite=args.overwrite,
                   progress=progress)
    if args.camera is not None:
        record = video.stylize_camera(paint, args.camera, out, max_frames=args.frames, **options)
    else:
        record = video.stylize_video(paint, args.input, out, **options)
    record = {"input": record.pop("input"), "output": record.pop("output"), "style": label,
              **record}
    if args.json:
        print(json.dumps(record))
    elif not args.quiet:
        print(f"\n{out}: {record['frames']} frames, {record['duration_s']} s, "
              f"{record['size'][0]}x{record['size'][1]}, sound {record['audio'] or 'none'}")
    return 0


def _load_model(name_or_path, hub_encoder):
    """A model file (a table of styles or arbitrary styles), or a pretrained model's name."""
    from style_transfer.models.loading import load_arbitrary_model
    from style_transfer.cli.commands.stylize_arbitrary import MODEL_CLASS
    from style_transfer.models.loading import load_style_model, model_path
    from style_transfer.models.saving import read_model_config

    path = model_path(name_or_path)
    if read_model_config(path).get("class_name") == MODEL_CLASS:
        return load_arbitrary_model(path, hub_encoder=hub_encoder)
    if hub_encoder is not None:
        raise BadInput(f"--hub-encoder applies to arbitrary-style models; {path} has a table "
                       f"of styles.")
    return load_style_model(path)


def _style_choice(args, model):
    """(style, style images, label) from --style / --blend / --style-image."""
    from style_transfer.base import images
    from style_transfer.painting import conditions
    from style_transfer.models.arbitrary import ArbitraryStyleModel

    if isinstance(model, ArbitraryStyleModel):
        if args.style or args.blend:
            raise BadInput("an arbitrary-style model paints with --style-image, not --style or "
                           "--blend.")
        if not args.style_image:
            raise BadInput("pass --style-image IMAGE (an arbitrary-style model paints with "
                           "style images).")
        label = "+".join(Path(path).stem for path in args.style_image)
        return None, [images.load_image(path) for path in args.style_image], label
    if args.style_image:
        raise BadInput("--style-image needs an arbitrary-style model (train-arbitrary); this "
                       "model has a table of styles: use --style or --blend.")
    if args.style and args.blend:
        raise BadInput("--style and --blend cannot be combined.")
    choice = args.blend or args.style
    if choice is None:
        raise BadInput(f"choose a style with --style NAME|INDEX or --blend; the model's styles "
                       f"are: {', '.join(model.style_names)}.")
    weights = conditions.style_weights(choice, model.style_names, normalize=args.normalize)
    return weights, None, conditions.style_label(weights, model.style_names)


class _ProgressBar:
    """Frames done, rate and time left (Keras's bar; a counter when the length is unknown)."""

    def __init__(self):
        self.bar = None

    def __call__(self, done, expected):
        if self.bar is None:
            import keras

            self.bar = keras.utils.Progbar(expected, unit_name="frame")
        self.bar.update(done)
        sys.stdout.flush()
