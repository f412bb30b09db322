"""`style-transfer export`: a style model as a TensorFlow SavedModel or a TFLite file.

    style-transfer export --model styles.keras --format savedmodel --out served/
    style-transfer export --model styles.keras --format tflite --image-size 384 --out styles.tflite

Inputs of the exported model: `input_image` (batch, H, W, 3) float32 in [0, 1]
and `style_weights` (batch, num_styles) convex weights (one-hot for one style);
output `stylized_image`. See `style_transfer.export`.
"""

from style_transfer import export
from style_transfer.errors import BadInput


def register(subparsers):
    parser = subparsers.add_parser(
        "export", help="export a style model as a SavedModel or TFLite file",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--model", required=True, metavar="MODEL.keras|NAME",
                        help="a trained style model, or the name of a pretrained one "
                        "(`style-transfer pretrained list`)")
    parser.add_argument("--format", choices=export.FORMATS, required=True,
                        help="savedmodel: a folder, any picture size; tflite: one file, a fixed size")
    parser.add_argument("--out", required=True, metavar="PATH",
                        help="the SavedModel folder or the .tflite file")
    parser.add_argument("--image-size", type=int, default=export.DEFAULT_TFLITE_IMAGE_SIZE,
                        metavar="PX", help="tflite only: the square picture side it takes")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export")
    parser.set_defaults(run=run)


def run(args):
    from style_transfer.model_file import load_style_model, model_path

    model = load_style_model(model_path(args.model))
    if args.format == "savedmodel":
        path = export.export_savedmodel(model, args.out, overwrite=args.overwrite)
    else:
        if args.image_size < 8:
            raise BadInput(f"--image-size must be at least 8 pixels; received {args.image_size}.")
        path = export.export_tflite(model, args.out, image_size=args.image_size,
                                    overwrite=args.overwrite)
    print(path)
    return 0
