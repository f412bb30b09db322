"""`style-transfer remove-style`, `rename-style`: edit a trained model's styles.

    style-transfer remove-style --model more.keras --style mosaic --out fewer.keras
    style-transfer rename-style --model more.keras --style mosaic --to tiles --out renamed.keras

A thin layer over `style_transfer.models.editing.remove_style` / `rename_style`. The
other styles stay bit-identical; the edited model is written atomically to --out,
which is never the input model.
"""


def register(subparsers):
    from style_transfer.models.style_names import MAX_STYLE_NAME_LENGTH

    remove = subparsers.add_parser(
        "remove-style",
        description="Write a copy of MODEL without one style: its row leaves every "
        "gamma/beta table; the other styles stylize exactly as before.",
    )
    _add_edit_arguments(remove)
    remove.set_defaults(run=_run_remove)

    rename = subparsers.add_parser(
        "rename-style", description="Write a copy of MODEL in which one style has another name.",
    )
    _add_edit_arguments(rename)
    rename.add_argument("--to", dest="new_name", required=True, metavar="NEW_NAME",
                        help=f"the new name: 1 to {MAX_STYLE_NAME_LENGTH} characters, no ',' '=' "
                        "or control characters, not all digits (those select a style by index)")
    rename.set_defaults(run=_run_rename)


def _add_edit_arguments(parser):
    parser.add_argument("--model", required=True, metavar="MODEL.keras|NAME",
                        help="the trained style model, or the name of a pretrained one "
                        "(`style-transfer pretrained list`)")
    parser.add_argument("--style", required=True, metavar="NAME|INDEX",
                        help="the style, by name or index")
    parser.add_argument("--out", required=True, metavar="NEW_MODEL.keras",
                        help="where the edited model is written (never the input model)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out")


def _run_remove(args):
    from style_transfer.models.editing import remove_style

    return _edit(args, lambda model: remove_style(model, args.style),
                 f"Model without style {args.style!r} written to {args.out}")


def _run_rename(args):
    from style_transfer.models.editing import rename_style

    return _edit(args, lambda model: rename_style(model, args.style, args.new_name),
                 f"Model with style {args.style!r} renamed {args.new_name!r} written to "
                 f"{args.out}")


def _edit(args, change, message):
    from style_transfer.models.loading import load_style_model, model_path
    from style_transfer.models.saving import check_output_path, save_model

    path = model_path(args.model)
    check_output_path(path, args.out, args.overwrite)
    edited = change(load_style_model(path))
    save_model(edited, args.out, overwrite=args.overwrite)
    print(message)
    return 0
