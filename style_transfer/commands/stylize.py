"""`style-transfer stylize`: photos in the styles of a trained model, blends of them, grids.

    style-transfer stylize photo.jpg --contact-sheet --out sheet.png    # pretrained android-26
    style-transfer stylize --model magenta-monet photo.jpg --style 3 --out monet3.png
    style-transfer stylize --model styles.keras photo.jpg holiday/ --out painted/
    style-transfer stylize --model styles.keras photo.jpg --style wave --out wave.png
    style-transfer stylize --model styles.keras photo.jpg --blend "wave=0.7,scream=0.3" --out out/
    style-transfer stylize --model styles.keras photo.jpg --mask sky.png --mask-styles wave,scream --out out/
    style-transfer stylize --model styles.keras photo.jpg --grid --style wave --style scream --out grid.png
    style-transfer stylize --model styles.keras photo.jpg --style wave --strength 0.6 --preserve-color --out soft.png
    style-transfer stylize --model styles.keras - --style wave --out - < photo.jpg > wave.png
    style-transfer stylize --model styles.keras holiday/ --style wave --json --out painted/
    style-transfer stylize --model styles.keras --styles
    style-transfer stylize --model styles.onnx photo.jpg --style 3 --out out.png   # an export
    style-transfer stylize photo.jpg --style 19 --runtime tensorflow --out out.png

A thin layer over `style_transfer.stylize`. Everything the user asked for (the
model, styles, blend, mask, output paths) is checked before any picture is
made; `stylize_files` describes the outputs (standard input and output, --json
records). With an arbitrary-style model or --engine magenta-hub,
`stylize_arbitrary` takes over.
"""

from style_transfer.commands import photo_options, stylize_arbitrary, stylize_files
from style_transfer.commands.options import integer_at_least
from style_transfer.errors import BadInput
from style_transfer.pretrained import DEFAULT_MODEL
from style_transfer.runtimes import RUNTIMES

# Pairwise blends grow as k(k-1)/2 rows: past this, ask the user to pick styles.
MAX_GRID_STYLES = 6
# Contact sheets show every style: their photos are downsized to this unless --max-size.
CONTACT_SHEET_PX = 256
# The options of a table-of-styles model, refused with style images (default: unset).
TABLE_OPTIONS = ("--styles", "--style", "--blend", "--normalize", "--mask", "--mask-styles",
                 "--mask-mode", "--grid", "--contact-sheet", "--xla")


def register(subparsers):
    parser = subparsers.add_parser("stylize", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="photos or folders of photos; - reads a photo from standard input")
    parser.add_argument("--model", default=None, metavar="MODEL.keras|NAME",
                        help="a model made by `train` (or `train-arbitrary`: see below), or the "
                        "name of a pretrained one (`style-transfer pretrained list`; default: "
                        f"{DEFAULT_MODEL}, which works offline with the [pretrained] extra)")
    stylize_files.add_output_options(parser)
    parser.add_argument("--max-size", type=integer_at_least(stylize_files.MIN_PHOTO_PX),
                        default=None, metavar="PX",
                        help="downsize photos whose long side is larger (default: full size)")
    photo_options.add_options(parser)
    styles = parser.add_argument_group("trained styles", "with a model made by `train`")
    styles.add_argument("--styles", action="store_true", help="list the model's styles and exit")
    styles.add_argument("--style", action="append", default=None, metavar="NAME|INDEX",
                        help="a style (repeat for one output per style; default: every style)")
    styles.add_argument("--blend", default=None, metavar="A=W,B=W",
                        help="a convex blend by names or indices, e.g. 'wave=0.7,scream=0.3'")
    styles.add_argument("--normalize", action="store_true",
                        help="divide --blend weights by their sum instead of requiring sum 1")
    styles.add_argument("--mask", default=None, metavar="MASK.png",
                        help="spatial blend: a label mask (value k -> k-th of --mask-styles) or, "
                        "for two styles, a greyscale mask of soft weights")
    styles.add_argument("--mask-styles", default=None, metavar="A,B,...",
                        help="the styles of the mask's labels, in order")
    styles.add_argument("--mask-mode", choices=("composite", "network"), default=None,
                        help="composite (the default): each style on the whole photo, mixed per "
                        "pixel (regions exactly in their style); network: per-pixel gamma/beta "
                        "in one pass (faster; shared normalization statistics let regions drift)")
    figure = styles.add_mutually_exclusive_group()
    figure.add_argument("--grid", action="store_true",
                        help="one picture: the photo, each style and pairwise blends at 0, "
                        "0.25, 0.5, 0.75, 1")
    figure.add_argument("--contact-sheet", action="store_true",
                        help="one picture: the photo and each style (or each --style), "
                        f"labelled with its index and name, to choose from (photos downsized "
                        f"to {CONTACT_SHEET_PX} px unless --max-size)")
    styles.add_argument("--xla", action="store_true",
                        help="compile the network with XLA: 10-20%% faster per picture after a "
                        "compilation of a few seconds per picture size; for many pictures of "
                        "one size")
    styles.add_argument("--runtime", choices=RUNTIMES, default=None,
                        help="what paints: auto (the default: the fastest installed, litert "
                        "with the litert extra, else onnxruntime with the onnx extra, else "
                        "tensorflow; $STYLE_TRANSFER_RUNTIME sets another), tensorflow, "
                        "onnxruntime or litert (the network converted once, cached)")
    stylize_arbitrary.add_options(parser)
    parser.set_defaults(run=run)


def run(args):
    with stylize_files.standard_streams(args):
        return _run(args)


def _run(args):
    from style_transfer.model_file import model_path, read_model_config

    if args.engine == stylize_arbitrary.MAGENTA_ENGINE:
        return stylize_arbitrary.run(args)
    from style_transfer import runtimes

    path = model_path(args.model or DEFAULT_MODEL)
    exported = runtimes.is_export(path)
    if not exported and read_model_config(path).get("class_name") == stylize_arbitrary.MODEL_CLASS:
        return stylize_arbitrary.run(args, path)
    stylize_arbitrary.refuse_options(
        args, stylize_arbitrary.STYLE_IMAGE_OPTIONS,
        f"with {path}, a model of trained styles (choose them with --style or --blend)")
    figure = _figure(args)
    if args.mask_styles and not args.mask:
        raise BadInput("--mask-styles needs --mask.")
    if args.mask and (args.blend or args.style or figure):
        raise BadInput("--mask cannot be combined with --style, --blend, --grid or "
                       "--contact-sheet.")
    if args.mask_mode and not args.mask:
        raise BadInput("--mask-mode needs --mask.")
    if args.blend and (args.style or figure):
        raise BadInput("--blend cannot be combined with --style, --grid or --contact-sheet.")
    if args.normalize and not args.blend:
        raise BadInput("--normalize applies to --blend weights only.")
    if figure and (args.strength != 1.0 or args.preserve_color):
        raise BadInput(f"--{figure} shows the styles themselves; it takes no --strength or "
                       f"--preserve-color.")

    from style_transfer import stylize
    from style_transfer.model_file import load_style_model

    model = runtimes.ExportedNetwork(path) if exported else load_style_model(path)
    if args.xla and exported:
        raise BadInput(f"--xla compiles a .keras model; {path} is an exported file.")
    if args.styles:
        for index, name in enumerate(model.style_names):
            print(f"{index}\t{name}")
        return 0
    requested = _requested_styles(args, model)
    photos = stylize_files.find_photos(args.inputs)
    labels = [figure] if figure else [label for label, _ in requested]
    targets = stylize_files.output_paths(args, photos, labels, [path, args.mask])
    if args.xla:
        stylize.use_xla(model)
    stylize.use_runtime(model, args.runtime or runtimes.default_runtime(model))
    max_size = args.max_size
    if args.contact_sheet and max_size is None:
        max_size = CONTACT_SHEET_PX
    return stylize_files.paint_photos(args, photos, targets, labels, max_size,
                                      lambda photo: _paint(args, model, requested, photo))


def _requested_styles(args, model):
    """[(label, style condition)] from --style / --blend / --mask, checked against the model."""
    from style_transfer import conditions, images

    names = model.style_names
    if args.mask:
        if not args.mask_styles:
            raise BadInput("--mask needs --mask-styles A,B,... (the style of each label).")
        ids = [conditions.style_index(style, names) for style in args.mask_styles.split(",")]
        mask = images.open_image(args.mask)
        try:
            mask.load()
        except (OSError, ValueError) as error:
            raise images.ImageReadError(f"Cannot read mask {args.mask}: {error}") from None
        # Check the labels now, on the mask's own size, before any photo is read.
        conditions.mask_to_weight_map(mask, model.num_styles, ids, (mask.height, mask.width))
        label = "mask-" + "+".join(conditions.style_label(index, names) for index in ids)
        return [(label, ("mask", mask, ids))]
    if args.blend:
        weights = conditions.parse_blend(args.blend, names, normalize=args.normalize)
        return [(conditions.style_label(weights, names), weights)]
    indices = [conditions.style_index(style, names) for style in args.style or []]
    indices = indices or list(range(len(names)))
    if args.grid and len(indices) > MAX_GRID_STYLES:
        raise BadInput(
            f"--grid with {len(indices)} styles would have {len(indices) * (len(indices) - 1) // 2} "
            f"rows of blends; pick at most {MAX_GRID_STYLES} with --style."
        )
    return [(conditions.style_label(index, names), index) for index in indices]


def _paint(args, model, requested, photo):
    """The pictures of one photo: one per requested style, or the grid."""
    from style_transfer import figures, stylize
    from style_transfer.conditions import mask_to_weight_map
    from style_transfer.photo_options import apply

    if args.grid:
        return [figures.interpolation_grid(model, photo, [style for _, style in requested])[0]]
    if args.contact_sheet:
        return [figures.contact_sheet(model, photo, [style for _, style in requested])[0]]
    styles = []
    for _, style in requested:
        if isinstance(style, tuple) and style[0] == "mask":
            _, mask, ids = style
            style = mask_to_weight_map(mask, model.num_styles, ids, photo.shape[:2])
        styles.append(style)
    if args.mask and args.mask_mode != "network":
        painted = stylize.composite_blend(model, photo, styles[0])
        return [apply(photo, painted, args.strength, args.preserve_color)]
    return stylize.stylize_many(model, photo, styles, normalize=args.normalize,
                                strength=args.strength, preserve_color=args.preserve_color)


def _figure(args):
    """The figure asked for ("grid" or "contact-sheet"), or None."""
    return "grid" if args.grid else "contact-sheet" if args.contact_sheet else None
