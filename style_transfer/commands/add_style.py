"""`style-transfer add-style`, `remove-style`, `rename-style`: edit a trained model's styles.

    style-transfer add-style --model styles.keras --styles mosaic.jpg --content photos/ --out more.keras
    style-transfer remove-style --model more.keras --style mosaic --out fewer.keras
    style-transfer rename-style --model more.keras --style mosaic --to tiles --out renamed.keras

A thin layer over `style_transfer.add_style`. The old styles of the model stay
bit-identical; outputs are written atomically and never replace an existing file
(the input model included) without --overwrite.
"""

import dataclasses

from style_transfer.commands.options import (
    HelpFormatter, add_config_options, add_run_options, config_from_args,
)
from style_transfer.config import AddStyleConfig


def register(subparsers):
    _register_add(subparsers)
    _register_remove(subparsers)
    _register_rename(subparsers)


def _register_add(subparsers):
    parser = subparsers.add_parser(
        "add-style",
        help="add styles to a trained model, training only their gamma/beta",
        description="Append one gamma/beta row per new style to every conditional instance "
        "norm of MODEL and train only those rows (a fresh Adam; every other weight and the "
        "old styles stay bit-identical). The loss, image size and batch size default to "
        "what MODEL was trained with. RUN_DIR is laid out as for `train`; --resume "
        "continues it exactly.",
        formatter_class=HelpFormatter,
    )
    add_run_options(parser, "NEW_MODEL.keras", "the grown model")
    parser.add_argument("--run-dir", default=None, metavar="RUN_DIR",
                        help="run folder (default: --out with the suffix .run)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out (the input model included)")
    add_config_options(parser, AddStyleConfig)
    parser.set_defaults(run=_run_add)


def _register_remove(subparsers):
    parser = subparsers.add_parser(
        "remove-style",
        help="drop a style from a trained model (the others stay bit-identical)",
        description="Write a copy of MODEL without one style: its row leaves every "
        "gamma/beta table; the other styles stylize exactly as before.",
        formatter_class=HelpFormatter,
    )
    _add_edit_arguments(parser)
    parser.set_defaults(run=_run_remove)


def _register_rename(subparsers):
    parser = subparsers.add_parser(
        "rename-style",
        help="rename a style of a trained model",
        description="Write a copy of MODEL in which one style has another name.",
        formatter_class=HelpFormatter,
    )
    _add_edit_arguments(parser)
    parser.add_argument("--to", required=True, metavar="NEW_NAME", help="the new name")
    parser.set_defaults(run=_run_rename)


def _add_edit_arguments(parser):
    parser.add_argument("--model", required=True, metavar="MODEL.keras|NAME",
                        help="the trained style model, or the name of a pretrained one "
                        "(`style-transfer pretrained list`)")
    parser.add_argument("--style", required=True, metavar="NAME", help="the style's name")
    parser.add_argument("--out", required=True, metavar="NEW_MODEL.keras",
                        help="where the edited model is written")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out (the input model included)")


def _run_add(args):
    config = config_from_args(AddStyleConfig, args)
    from style_transfer.add_style import add_styles
    from style_transfer.model_file import model_path

    # A pretrained model's name becomes its cached file once the options are known good.
    config = dataclasses.replace(config, model=str(model_path(config.model)))
    add_styles(config, args.out, run_dir=args.run_dir, resume=args.resume,
               overwrite=args.overwrite, progress=not args.quiet)
    print(f"Model with the new styles written to {args.out}")
    return 0


def _run_remove(args):
    from style_transfer.add_style import remove_style

    return _edit(args, lambda model: remove_style(model, args.style),
                 f"Model without {args.style!r} written to {args.out}")


def _run_rename(args):
    from style_transfer.add_style import rename_style

    return _edit(args, lambda model: rename_style(model, args.style, args.to),
                 f"Model with {args.style!r} renamed {args.to!r} written to {args.out}")


def _edit(args, change, message):
    from style_transfer.add_style import check_output_path
    from style_transfer.model_file import load_style_model, model_path, save_model

    path = model_path(args.model)
    check_output_path(path, args.out, args.overwrite)
    edited = change(load_style_model(path))
    save_model(edited, args.out, overwrite=args.overwrite)
    print(message)
    return 0
