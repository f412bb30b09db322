"""`style-transfer export`: a style model as a TensorFlow SavedModel or a TFLite file.

    style-transfer export --model styles.keras --format savedmodel --out served/
    style-transfer export --model styles.keras --format tflite --image-size 384 --out styles.tflite

Inputs of the exported model: `input_image` (batch, H, W, 3) float32 in [0, 1]
and `style_weights` (batch, num_styles) convex weights (one-hot for one style);
output `stylized_image`. See `style_transfer.models.export`.
"""

from style_transfer.base.files import check_destination, check_not_an_input
from style_transfer.cli.options import integer_between
from style_transfer.models.export import (
    DEFAULT_TFLITE_IMAGE_SIZE,
    FORMATS,
    MAX_IMAGE_SIZE,
    MIN_IMAGE_SIZE,
)


def register(subparsers):
    parser = subparsers.add_parser("export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, metavar="MODEL.keras|NAME",
                        help="a trained style model, or the name of a pretrained one "
                        "(`style-transfer pretrained list`)")
    parser.add_argument("--format", choices=FORMATS, required=True,
                        help="savedmodel: a folder, any picture size; tflite: one file, a fixed size")
    parser.add_argument("--out", required=True, metavar="PATH",
                        help="the SavedModel folder or the .tflite file (never the input model)")
    parser.add_argument("--image-size", type=integer_between(MIN_IMAGE_SIZE, MAX_IMAGE_SIZE),
                        default=None, metavar="PX", help=f"tflite only: the square picture "
                        f"side it takes (default: {DEFAULT_TFLITE_IMAGE_SIZE}; from "
                        f"{MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing export (never the input model)")
    parser.set_defaults(run=run)


def run(args):
    from style_transfer.base.errors import BadInput
    from style_transfer.models import export
    from style_transfer.models.loading import load_style_model, model_path

    folder = args.format == "savedmodel"
    if folder and args.image_size is not None:
        raise BadInput("--image-size applies to --format tflite only (a SavedModel takes any "
                       "picture size).")
    path = model_path(args.model)
    check_not_an_input(args.out, path, folder=folder)
    if folder:
        export.check_replaceable_export(args.out, args.overwrite)
    else:
        check_destination(args.out, args.overwrite)
    model = load_style_model(path)
    if folder:
        written = export.export_savedmodel(model, args.out, overwrite=args.overwrite)
    else:
        written = export.export_tflite(model, args.out, overwrite=args.overwrite,
                                       image_size=args.image_size or DEFAULT_TFLITE_IMAGE_SIZE)
    print(written)
    return 0
