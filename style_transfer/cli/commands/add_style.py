"""`style-transfer add-style`: add styles to a trained model (remove-style and
rename-style are in `edit_styles`).

    style-transfer add-style --model styles.keras --styles mosaic.jpg --content photos/ --out more.keras

A thin layer over `style_transfer.training.add_style`; its options are `AddStyleConfig`'s
fields. The old styles of the model stay bit-identical; the grown model is
written atomically, never over the input model, and over an existing file only
with --overwrite.
"""

import dataclasses
from pathlib import Path

from style_transfer.cli.options import add_config_options, add_run_options, config_from_args
from style_transfer.training.config import AddStyleConfig


def register(subparsers):
    parser = subparsers.add_parser(
        "add-style",
        help="add styles to a trained model, training only their gamma/beta",
        description="Append one gamma/beta row per new style to every conditional instance "
        "norm of MODEL and train only those rows (a fresh Adam; every other weight and the "
        "old styles stay bit-identical). The loss, image size and batch size default to "
        "what MODEL was trained with. RUN_DIR is laid out as for `train`; --resume "
        "continues it exactly.",
    )
    add_run_options(parser, "NEW_MODEL.keras", "the grown model")
    parser.add_argument("--run-dir", default=None, metavar="RUN_DIR",
                        help="run folder (default: --out with the suffix .run)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out (never the input model)")
    add_config_options(parser, AddStyleConfig)
    parser.set_defaults(run=_run_add, needs_tensorflow=True)  # `cli.keras_backend`


def _run_add(args):
    config = config_from_args(AddStyleConfig, args)
    from style_transfer.models.loading import model_path
    from style_transfer.training.add_style import add_styles

    # A pretrained model's name becomes its cached file once the options are known good.
    config = dataclasses.replace(config, model=str(model_path(config.model)))
    add_styles(config, args.out, run_dir=args.run_dir, resume=args.resume,
               overwrite=args.overwrite, progress=not args.quiet)
    if Path(args.out).is_file():  # Not on a worker other than the chief.
        print(f"Model with the new styles written to {args.out}")
    return 0
