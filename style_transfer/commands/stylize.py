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

A thin layer over `style_transfer.stylize`. Everything the user asked for (the
model, styles, blend, mask, output paths) is checked before any picture is
made. With several input files, a file that fails is reported and skipped, and
the command exits with 1 at the end; with one picture any problem is an error
(exit 2). Outputs are written atomically and never replace an existing file
without --overwrite. `-` as an input reads a photo from standard input; `--out -`
writes the one picture to standard output (PNG unless --format says otherwise).
With --json, one JSON record per output picture (input, output, style, size,
seconds) replaces the list of outputs.
"""

import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

from style_transfer import images
from style_transfer.commands import photo_options, stylize_arbitrary
from style_transfer.errors import BadInput
from style_transfer.pretrained import DEFAULT_MODEL

STANDARD_STREAM = "-"

OUTPUT_FORMATS = ("png", "jpg", "webp")
EXIT_SOME_FILES_FAILED = 1
# Pairwise blends grow as k(k-1)/2 rows: past this, ask the user to pick styles.
MAX_GRID_STYLES = 6
# Contact sheets show every style: their photos are downsized to this unless --max-size.
CONTACT_SHEET_PX = 256


def register(subparsers):
    parser = subparsers.add_parser(
        "stylize",
        help="paint photos in a trained model's styles, blends or spatial blends",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="photos or folders of photos; - reads a photo from standard input")
    parser.add_argument("--model", default=None, metavar="MODEL.keras|NAME",
                        help="a trained style model, or the name of a pretrained one "
                        "(`style-transfer pretrained list`; default: "
                        f"{DEFAULT_MODEL}, which works offline with the [pretrained] extra)")
    parser.add_argument("--out", default=None, metavar="OUT_DIR|FILE",
                        help="output folder (created if missing), or a file name when exactly "
                        "one picture results; - writes it to standard output")
    parser.add_argument("--styles", action="store_true", help="list the model's styles and exit")
    parser.add_argument("--style", action="append", default=[], metavar="NAME|INDEX",
                        help="a style (repeat for one output per style; default: every style)")
    parser.add_argument("--blend", default=None, metavar="A=W,B=W",
                        help="a convex blend by names or indices, e.g. 'wave=0.7,scream=0.3'")
    parser.add_argument("--normalize", action="store_true",
                        help="divide --blend weights by their sum instead of requiring sum 1")
    parser.add_argument("--mask", default=None, metavar="MASK.png",
                        help="spatial blend: a label mask (value k -> k-th of --mask-styles) or, "
                        "for two styles, a greyscale mask of soft weights")
    parser.add_argument("--mask-styles", default=None, metavar="A,B,...",
                        help="the styles of the mask's labels, in order")
    parser.add_argument("--mask-mode", choices=("composite", "network"), default="composite",
                        help="composite: each style on the whole photo, mixed per pixel (regions "
                        "exactly in their style); network: per-pixel gamma/beta in one pass "
                        "(faster; shared normalization statistics let regions drift)")
    figure = parser.add_mutually_exclusive_group()
    figure.add_argument("--grid", action="store_true",
                        help="one picture: the photo, each style and pairwise blends at 0, "
                        "0.25, 0.5, 0.75, 1")
    figure.add_argument("--contact-sheet", action="store_true",
                        help="one picture: the photo and each style (or each --style), "
                        f"labelled with its index and name, to choose from (photos downsized "
                        f"to {CONTACT_SHEET_PX} px unless --max-size)")
    parser.add_argument("--max-size", type=int, default=None, metavar="PX",
                        help="downsize photos whose long side is larger")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default=None,
                        help="output format in a folder (default png; a file name's extension "
                        "decides otherwise)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--xla", action="store_true",
                        help="compile the network with XLA: 10-20%% faster per picture after a "
                        "compilation of a few seconds per picture size; for many pictures of "
                        "one size")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no list of outputs")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON record per output picture (input, output, style, "
                        "size, seconds) instead of the list of outputs")
    photo_options.add_options(parser)
    stylize_arbitrary.add_options(parser)
    parser.set_defaults(run=run)


def run(args):
    with _standard_streams(args) as redirected:
        code = _run(redirected)
        if redirected.stdout_file is not None and code == 0:
            sys.stdout.buffer.write(Path(redirected.out).read_bytes())
            sys.stdout.buffer.flush()
    return code


@contextlib.contextmanager
def _standard_streams(args):
    """`-` as input or output: the photo from standard input goes through a temporary file,
    and the picture for standard output is written to one, so that every path below works
    on files. `args.shown` maps those temporary names back to `-` for messages and records."""
    args.stdout_file = None
    args.shown = {}
    if STANDARD_STREAM not in args.inputs and args.out != STANDARD_STREAM:
        yield args
        return
    if args.inputs.count(STANDARD_STREAM) > 1:
        raise BadInput("standard input (-) can be read only once.")
    if args.out == STANDARD_STREAM and args.json:
        raise BadInput("--out - writes the picture to standard output, where --json would "
                       "print its records; use one of them.")
    with tempfile.TemporaryDirectory(prefix="style-transfer-") as folder:
        folder = Path(folder)
        if STANDARD_STREAM in args.inputs:
            # Pillow reads the format from the content, so the name needs no extension.
            photo = folder / "stdin"
            photo.write_bytes(sys.stdin.buffer.read())
            args.inputs = [str(photo) if name == STANDARD_STREAM else name for name in args.inputs]
            args.shown[str(photo)] = STANDARD_STREAM
        if args.out == STANDARD_STREAM:
            args.out = str(folder / "out" / f"stdout.{args.format or 'png'}")
            args.stdout_file = args.out
            args.shown[args.out] = STANDARD_STREAM
            args.quiet = True
        yield args


def _shown(args, path):
    return args.shown.get(str(path), str(path))


def _run(args):
    if stylize_arbitrary.uses_style_images(args):
        return stylize_arbitrary.run(args)
    from style_transfer import photo_options as options
    from style_transfer import stylize
    from style_transfer.model_file import load_style_model, model_path

    model = load_style_model(model_path(args.model or DEFAULT_MODEL))
    if args.xla:
        stylize.use_xla(model)
    if args.styles:
        for index, name in enumerate(model.style_names):
            print(f"{index}\t{name}")
        return 0
    options.check_strength(args.strength)
    if _figure(args) and (args.strength != 1.0 or args.preserve_color):
        raise BadInput(f"--{_figure(args)} shows the styles themselves; it takes no "
                       f"--strength or --preserve-color.")
    requested = _requested_styles(args, model)
    files = _input_files(args.inputs)
    outputs_per_file = 1 if _figure(args) else len(requested)
    single_file = _single_output_file(args, len(files) * outputs_per_file)
    if args.max_size is not None and args.max_size < 8:
        raise BadInput(f"--max-size must be at least 8 pixels; received {args.max_size}.")
    out_dir = single_file.parent if single_file else Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"--out {out_dir} is a file, not a folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    extension = single_file.suffix if single_file else "." + (args.format or "png")

    if len(files) == 1:
        records = _stylize_file(files[0], args, model, requested, out_dir, extension, single_file)
        report_outputs(args, records)
        return 0
    progress = None if args.quiet or args.json else _progress_bar(len(files))
    failures = 0
    for number, path in enumerate(files, start=1):
        try:
            report_outputs(args, _stylize_file(path, args, model, requested, out_dir, extension,
                                               None), listing=False)
        except (BadInput, FileExistsError, FileNotFoundError, OSError) as error:
            failures += 1
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(f"\nstyle-transfer stylize: {path}: {message}", file=sys.stderr)
        if progress is not None:
            progress.update(number)
    if failures:
        print(f"style-transfer stylize: {failures} of {len(files)} files failed.", file=sys.stderr)
        return EXIT_SOME_FILES_FAILED
    return 0


def report_outputs(args, records, listing=True):
    """Prints a JSON line per record with --json, else (when `listing`) the output paths."""
    for record in records:
        record = {**record, "input": _shown(args, record["input"]),
                  "output": _shown(args, record["output"])}
        if args.json:
            print(json.dumps(record), flush=True)
        elif listing and not args.quiet:
            print(record["output"])


def output_record(path, target, style, picture, seconds):
    """The --json record of one output picture."""
    height, width = picture.shape[:2] if hasattr(picture, "shape") else picture.size[::-1]
    return {"input": str(path), "output": str(target), "style": style, "size": [width, height],
            "seconds": round(seconds, 3)}


def _requested_styles(args, model):
    """[(label, style condition)] from --style / --blend / --mask, checked against the model."""
    from style_transfer import conditions

    names = model.style_names
    if args.mask_styles and not args.mask:
        raise BadInput("--mask-styles needs --mask.")
    if args.mask:
        if args.blend or args.style or _figure(args):
            raise BadInput("--mask cannot be combined with --style, --blend, --grid or "
                           "--contact-sheet.")
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
        if args.style or _figure(args):
            raise BadInput("--blend cannot be combined with --style, --grid or --contact-sheet.")
        weights = conditions.parse_blend(args.blend, names, normalize=args.normalize)
        return [(conditions.style_label(weights, names), weights)]
    indices = [conditions.style_index(style, names) for style in args.style] or list(range(len(names)))
    if args.grid and len(indices) > MAX_GRID_STYLES:
        raise BadInput(
            f"--grid with {len(indices)} styles would have {len(indices) * (len(indices) - 1) // 2} "
            f"rows of blends; pick at most {MAX_GRID_STYLES} with --style."
        )
    return [(conditions.style_label(index, names), index) for index in indices]


def _input_files(inputs):
    if not inputs:
        raise BadInput("pass at least one INPUT photo or folder.")
    files = []
    for name in inputs:
        path = Path(name)
        files.extend(images.find_images(path) if path.is_dir() else [path])
    if not files:
        raise BadInput(f"no image found in {', '.join(inputs)}.")
    return files


def _single_output_file(args, num_outputs):
    """The --out file name when --out names a picture (and exactly one results), else None."""
    if not args.out:
        raise BadInput("pass --out OUT_DIR (or --out FILE.png for a single picture).")
    out = Path(args.out)
    if out.suffix.lower() not in images.SAVE_FORMATS:
        return None
    if num_outputs != 1:
        raise BadInput(
            f"--out {_shown(args, out)} is a file name, but {num_outputs} pictures would result; "
            f"give a folder."
        )
    if args.format and out.suffix.lower().lstrip(".") not in _extensions_of(args.format):
        raise BadInput(f"--format {args.format} does not match --out {out}.")
    return out


def _extensions_of(image_format):
    return ("jpg", "jpeg") if image_format == "jpg" else (image_format,)


def _stylize_file(path, args, model, requested, out_dir, extension, single_file):
    """Stylizes one input file in every requested style; returns a record per output."""
    from style_transfer import figures, stylize
    from style_transfer import photo_options as options

    started = time.perf_counter()

    if single_file is None:
        labels = [_figure(args)] if _figure(args) else [label for label, _ in requested]
        targets = [out_dir / f"{path.stem}__{label}{extension}" for label in labels]
    else:
        targets = [single_file]
    for target in targets:
        if target.resolve() == path.resolve():
            raise BadInput(f"{target} is an input; inputs are never overwritten.")
        if target.exists() and not args.overwrite:
            raise FileExistsError(f"{target} exists; pass --overwrite to replace it.")
    max_size = args.max_size
    if args.contact_sheet and max_size is None:
        max_size = CONTACT_SHEET_PX
    photo = images.load_image(path, max_size=max_size)
    if min(photo.shape[:2]) < 8:
        raise BadInput(f"{path} is {photo.shape[1]}x{photo.shape[0]} pixels; the network needs "
                       f"at least 8x8.")
    if args.grid:
        styles = [condition for _, condition in requested]
        pictures = [figures.interpolation_grid(model, photo, styles)[0]]
        labels = [_figure(args)]
    elif args.contact_sheet:
        styles = [condition for _, condition in requested]
        pictures = [figures.contact_sheet(model, photo, styles)[0]]
        labels = [_figure(args)]
    else:
        styles = [_resolve(condition, model, photo.shape[:2]) for _, condition in requested]
        if args.mask and args.mask_mode == "composite":
            pictures = [options.apply(photo, stylize.composite_blend(model, photo, styles[0]),
                                      args.strength, args.preserve_color)]
        else:
            pictures = stylize.stylize_many(model, photo, styles, normalize=args.normalize,
                                            strength=args.strength,
                                            preserve_color=args.preserve_color)
        labels = [label for label, _ in requested]
    for picture, target in zip(pictures, targets):
        images.save_image(picture, target, overwrite=args.overwrite)
    seconds = time.perf_counter() - started
    return [output_record(path, target, label, picture, seconds)
            for picture, target, label in zip(pictures, targets, labels)]


def _figure(args):
    """The figure asked for ("grid" or "contact-sheet"), or None."""
    return "grid" if args.grid else "contact-sheet" if args.contact_sheet else None


def _resolve(condition, model, size):
    from style_transfer.conditions import mask_to_weight_map

    if isinstance(condition, tuple) and condition[0] == "mask":
        _, mask, ids = condition
        return mask_to_weight_map(mask, model.num_styles, ids, size)
    return condition


def _progress_bar(total):
    import keras

    return keras.utils.Progbar(total, unit_name="file")
