"""`style-transfer stylize` with style images: an arbitrary-style model, or Magenta's hub model.

    style-transfer stylize --model arbitrary.keras --style-image wave.jpg photo.jpg --out out/
    style-transfer stylize --model arbitrary.keras --style-image a.jpg --style-image b.jpg \
        --blend-weights 0.3,0.7 --strength 0.8 photo.jpg --out out/
    style-transfer stylize --model hub_arbitrary.keras --hub-encoder ~/models/encoder/ ...
    style-transfer stylize --engine magenta-hub --style-image wave.jpg photo.jpg --out out/

Not a subcommand of its own: `commands/stylize.py` calls `add_options(parser)`
and hands over to `run(args)` for an arbitrary-style model or the hub engine.
Outputs follow `stylize_files`.
"""

from pathlib import Path

from style_transfer.cli.commands import stylize_files
from style_transfer.base.errors import BadInput

NETWORK_ENGINE = "network"
MAGENTA_ENGINE = "magenta-hub"
MODEL_CLASS = "ArbitraryStyleModel"
# The options of this mode, refused with a model of trained styles (default: unset).
STYLE_IMAGE_OPTIONS = ("--style-image", "--blend-weights", "--hub-encoder", "--hub-handle")


def add_options(parser):
    group = parser.add_argument_group(
        "style images",
        "with a model made by `train-arbitrary`, or --engine magenta-hub: paint in the style "
        "of any image",
    )
    group.add_argument("--style-image", action="append", default=None, metavar="IMAGE",
                       help="a style image; repeat to blend several")
    group.add_argument("--blend-weights", default=None, metavar="W1,W2,...",
                       help="convex weights of the style images (default: equal)")
    group.add_argument("--hub-encoder", default=None, metavar="HANDLE",
                       help="for a model trained with --encoder-hub: the TF Hub model to run "
                       "as its encoder (URL or local SavedModel folder). Running a hub model "
                       "runs its TensorFlow graph, so name only one you trust; the model file's "
                       "own record of its encoder is never followed")
    group.add_argument("--engine", choices=(NETWORK_ENGINE, MAGENTA_ENGINE),
                       default=NETWORK_ENGINE,
                       help="'network': the --model file; 'magenta-hub': Magenta's published "
                       "TF Hub model (comparison; one style image, strength 1; needs the hub "
                       "extra)")
    group.add_argument("--hub-handle", default=None, metavar="HANDLE",
                       help="with --engine magenta-hub: its URL or local SavedModel folder "
                       "(default: its Kaggle Models URL, "
                       "arbitrary-image-stylization-v1/TensorFlow1/256/2)")


def refuse_options(args, options, reason):
    """Refuses any of `options` ("--grid", ...) that was given: it does not apply `reason`."""
    for option in options:
        if getattr(args, option.lstrip("-").replace("-", "_")) not in (None, False, []):
            raise BadInput(f"{option} does not apply {reason}.")


def run(args, model_path=None):
    """Stylizes `args.inputs` with `args.style_image` into `args.out`, as `stylize` does:
    with the arbitrary-style model at `model_path`, or with --engine magenta-hub."""
    from style_transfer.cli.commands.stylize import TABLE_OPTIONS

    magenta = args.engine == MAGENTA_ENGINE
    refuse_options(args, TABLE_OPTIONS,
                   "with --engine magenta-hub" if magenta else
                   f"with {model_path}, an arbitrary-style model (it paints with --style-image)")
    if magenta:
        refuse_options(args, ("--model", "--hub-encoder", "--blend-weights"),
                       "with --engine magenta-hub (it takes one --style-image at full strength)")
        if args.strength != 1.0:
            raise BadInput("--strength does not apply with --engine magenta-hub (it takes one "
                           "--style-image at full strength).")
    elif args.hub_handle:
        raise BadInput("--hub-handle applies to --engine magenta-hub; the encoder of a model "
                       "trained with --encoder-hub is given with --hub-encoder.")
    if not args.style_image:
        raise BadInput("pass at least one --style-image (an arbitrary-style model paints with "
                       "style images).")
    if magenta and len(args.style_image) != 1:
        raise BadInput("--engine magenta-hub takes one --style-image.")
    blend_weights = parse_blend_weights(args.blend_weights, len(args.style_image))

    from style_transfer.base import images
    from style_transfer.models import arbitrary
    from style_transfer.painting import photo_options

    if magenta:
        from style_transfer.models import magenta_hub
        from style_transfer.models.hub import import_tensorflow_hub

        import_tensorflow_hub()  # Before any work: the hub extra may be missing.
        handle = args.hub_handle or magenta_hub.MAGENTA_HUB_HANDLE

        def stylize(photo, style_images):
            painted = magenta_hub.magenta_hub_stylize(photo, style_images[0], handle)
            return photo_options.preserve_color(photo, painted) if args.preserve_color else painted
    else:
        model = arbitrary.load_arbitrary_model(model_path, hub_encoder=args.hub_encoder)

        def stylize(photo, style_images):
            return arbitrary.stylize_arbitrary(model, photo, style_images, blend_weights,
                                               args.strength, args.preserve_color)
    photos = stylize_files.find_photos(args.inputs)
    label = Path(args.style_image[0]).stem if len(args.style_image) == 1 else "blend"
    label = f"magenta-{label}" if magenta else label
    targets = stylize_files.output_paths(args, photos, [label],
                                         [model_path, *args.style_image])
    style_images = [images.load_image(path) for path in args.style_image]
    return stylize_files.paint_photos(args, photos, targets, [label], args.max_size,
                                      lambda photo: [stylize(photo, style_images)])


def parse_blend_weights(text, count):
    """The --blend-weights of `count` style images (None: equal), as numbers."""
    from style_transfer.base.settings import parse_number

    if text is None:
        return None
    weights = [parse_number(part, "--blend-weights weight") for part in text.split(",")]
    if len(weights) != count:
        raise BadInput(f"--blend-weights gives {len(weights)} weights for {count} "
                       f"--style-image; give one per style image.")
    return weights
