"""`style-transfer stylize` with style images: an arbitrary-style model, or Magenta's hub model.

    style-transfer stylize --model arbitrary.keras --style-image wave.jpg photo.jpg --out out/
    style-transfer stylize --model arbitrary.keras --style-image a.jpg --style-image b.jpg \
        --blend-weights 0.3,0.7 --strength 0.8 photo.jpg --out out/
    style-transfer stylize --engine magenta-hub --style-image wave.jpg photo.jpg --out out/

Not a subcommand of its own: `commands/stylize.py` calls `add_options(parser)` and
hands over to `run(args)` when `uses_style_images(args)`.
"""

import time
from pathlib import Path

from style_transfer import images
from style_transfer.errors import BadInput

ENGINES = ("network", "magenta-hub")


def add_options(parser):
    group = parser.add_argument_group(
        "arbitrary styles",
        "with a model made by `train-arbitrary` (or --engine magenta-hub): style images "
        "instead of trained style ids",
    )
    group.add_argument("--style-image", action="append", default=[], metavar="IMAGE",
                       help="a style image; repeat to blend several")
    group.add_argument("--blend-weights", default=None, metavar="W1,W2,...",
                       help="convex weights of the style images (default: equal)")
    group.add_argument("--engine", choices=ENGINES, default="network",
                       help="'network': the --model file; 'magenta-hub': Magenta's published "
                       "TF Hub model (comparison; one style image, strength 1)")
    group.add_argument("--hub-handle", default=None, metavar="HANDLE",
                       help="with --engine magenta-hub: its URL or local SavedModel folder "
                       "(default: its Kaggle Models URL, "
                       "arbitrary-image-stylization-v1/TensorFlow1/256/2)")


def uses_style_images(args):
    """Whether `stylize` should hand over: style images, the hub engine, or an arbitrary model."""
    from style_transfer.arbitrary import is_arbitrary_model_file

    return (bool(args.style_image) or args.engine != "network"
            or bool(args.model and is_arbitrary_model_file(args.model)))


def run(args):
    """Stylizes `args.inputs` with `args.style_image` into `args.out` (a folder, or a file
    name for one picture), following the `stylize` command's output conventions."""
    from style_transfer import arbitrary, photo_options
    from style_transfer.commands.stylize import output_record, report_outputs

    photo_options.check_strength(args.strength)
    if not args.style_image:
        raise BadInput("pass at least one --style-image (an arbitrary-style model paints with "
                       "style images).")
    if not args.out:
        raise BadInput("pass --out OUT_DIR (or --out FILE.png for a single picture).")
    style_images = [images.load_image(path) for path in args.style_image]
    blend_weights = parse_blend_weights(args.blend_weights)
    if args.engine == "magenta-hub":
        if len(style_images) != 1 or args.strength != 1.0 or blend_weights is not None:
            raise BadInput("--engine magenta-hub takes one --style-image, and no "
                           "--strength or --blend-weights (its hub signature takes images).")
        from style_transfer import magenta_hub

        handle = args.hub_handle or magenta_hub.MAGENTA_HUB_HANDLE

        def stylize(photo):
            painted = magenta_hub.magenta_hub_stylize(photo, style_images[0], handle)
            return photo_options.preserve_color(photo, painted) if args.preserve_color else painted
    else:
        if not args.model:
            raise BadInput("pass --model ARBITRARY.keras (made by train-arbitrary), or "
                           "--engine magenta-hub.")
        model = arbitrary.load_arbitrary_model(args.model)

        def stylize(photo):
            return arbitrary.stylize_arbitrary(model, photo, style_images, blend_weights,
                                               args.strength, args.preserve_color)
    files = _input_files(args.inputs)
    out = Path(args.out)
    single_file = out.suffix.lower() in images.SAVE_FORMATS
    if single_file and len(files) != 1:
        raise BadInput(f"--out {out} is a file name, but {len(files)} pictures would result; "
                       f"give a folder.")
    label = Path(args.style_image[0]).stem if len(style_images) == 1 else "blend"
    if args.engine == "magenta-hub":
        label = f"magenta-{label}"
    extension = "." + (getattr(args, "format", None) or "png")
    (out.parent if single_file else out).mkdir(parents=True, exist_ok=True)
    for path in files:
        started = time.perf_counter()
        target = out if single_file else out / f"{path.stem}__{label}{extension}"
        photo = images.load_image(path, max_size=args.max_size)
        painted = stylize(photo)
        images.save_image(painted, target, overwrite=args.overwrite)
        report_outputs(args, [output_record(path, target, label, painted,
                                            time.perf_counter() - started)])
    return 0


def parse_blend_weights(text):
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise BadInput(f"--blend-weights must be numbers separated by commas; received "
                       f"{text!r}.") from None


def _input_files(inputs):
    files = []
    for name in inputs:
        path = Path(name)
        files.extend(images.find_images(path) if path.is_dir() else [path])
    if not files:
        raise BadInput("pass at least one INPUT photo or folder.")
    return files
