"""`style-transfer export`: a style model as a TensorFlow SavedModel, an ONNX or a TFLite file.

    style-transfer export --model styles.keras --format savedmodel --out served/
    style-transfer export --model styles.keras --format tflite --image-size 384 --out styles.tflite
    style-transfer export --model android-26 --format onnx --out styles.onnx
    style-transfer export --model styles.keras --format tflite --quantize int8 --out int8.tflite

Inputs of the exported model: `input_image` (batch, H, W, 3) float32 in [0, 1]
and `style_weights` (batch, num_styles) convex weights (one-hot for one style);
output `stylized_image`; --weight-maps takes `style_weight_map` (batch, H, W,
num_styles) instead. ONNX and TFLite exports are checked in their own runtime
before they are written (see `style_transfer.models.export`). ONNX and TFLite run on
TensorFlow, JAX or PyTorch (`KERAS_BACKEND`), `--part encoder` on TensorFlow or PyTorch,
a SavedModel on TensorFlow only.
"""

from style_transfer.base.files import check_destination, check_not_an_input
from style_transfer.cli.options import integer_between
from style_transfer.models.export import (
    FORMATS,
    MAX_IMAGE_SIZE,
    MIN_IMAGE_SIZE,
    PARTS,
    QUANTIZATIONS,
)


def register(subparsers):
    parser = subparsers.add_parser("export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, metavar="MODEL.keras|NAME",
                        help="a trained style model, or the name of a pretrained one "
                        "(`style-transfer pretrained list`)")
    parser.add_argument("--format", choices=FORMATS, required=True,
                        help="savedmodel: a folder; onnx: one file, any picture size; tflite: "
                        "one file, any size whose sides are multiples of 4 (or --image-size)")
    parser.add_argument("--out", required=True, metavar="PATH",
                        help="the SavedModel folder, or the .onnx or .tflite file (never the "
                        "input model)")
    parser.add_argument("--image-size", type=integer_between(MIN_IMAGE_SIZE, MAX_IMAGE_SIZE),
                        default=None, metavar="PX", help="tflite only: one fixed square side it takes "
                        f"(default: any size; from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE})")
    parser.add_argument("--quantize", choices=QUANTIZATIONS, default="none",
                        help="tflite only: float16 weights, or int8 (dynamic range; full "
                        "integer with --calibration)")
    parser.add_argument("--calibration", default=None, metavar="DIR",
                        help="with --quantize int8: a folder of your photos for full integer int8")
    parser.add_argument("--weight-maps", action="store_true",
                        help="onnx, tflite: a per-pixel weight map input (spatial blends)")
    parser.add_argument("--part", choices=PARTS, default="network",
                        help="onnx, arbitrary-style models: the style network or the style encoder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing export (never the input model)")
    parser.set_defaults(run=run)


def run(args):
    import sys
    from pathlib import Path

    from style_transfer.base.errors import BadInput
    from style_transfer.models import export
    from style_transfer.models.loading import load_style_model, model_path

    folder = args.format == "savedmodel"
    _check_backend(args.format, args.part)
    if folder and args.image_size is not None:
        raise BadInput("--image-size applies to --format tflite only (a SavedModel takes any "
                       "picture size).")
    export.check_options(args.format, args.image_size, args.quantize, args.calibration,
                         args.weight_maps, args.part)
    path = model_path(args.model)
    check_not_an_input(args.out, path, folder=folder)
    if folder:
        export.check_replaceable_export(args.out, args.overwrite)
    else:
        check_destination(args.out, args.overwrite)
        if Path(args.out).suffix.lower() != f".{args.format}":
            # `--model` takes an export by its suffix: any other name could not be painted with.
            raise BadInput(f"--out {args.out}: a {args.format} export is a .{args.format} "
                           f"file; give such a name.")
    if folder:
        print(export.export_savedmodel(load_style_model(path), args.out,
                                       overwrite=args.overwrite))
        return 0
    written = export.export_file(path, args.out, args.format, image_size=args.image_size,
                                 quantize=args.quantize, calibration=args.calibration,
                                 weight_maps=args.weight_maps, part=args.part,
                                 overwrite=args.overwrite)
    print(written)
    print(f"style-transfer export: {written.summary()}", file=sys.stderr)
    return 0


def _check_backend(export_format, part):
    """A SavedModel is written by TensorFlow. The ONNX and TFLite files of the style network
    are made from its weights (`portable`, TensorFlow ops) on TensorFlow, JAX or PyTorch;
    the style encoder (`--part encoder`) is the Keras model traced by its backend's exporter,
    which JAX lacks (`export.export_embedding_onnx`)."""
    from style_transfer.cli.keras_backend import check_keras_backend
    from style_transfer.models.export import ENCODER_BACKENDS

    if export_format == "savedmodel":
        check_keras_backend(f"export --format {export_format}", needs_tensorflow=True)
    elif part == "encoder" and export_format == "onnx":
        check_keras_backend("export --part encoder", runs_on=ENCODER_BACKENDS)
    else:
        check_keras_backend(f"export --format {export_format}",
                            runs_on=("tensorflow", "jax", "torch"))
