"""The files of `style-transfer stylize`: the photos it reads and the pictures it writes.

Every output path is decided and checked before the first picture is made:
- a photo given as a file writes OUT/STEM__LABEL.EXT; a photo found in a folder
  given as input keeps its sub-folder: OUT/SUB/STEM__LABEL.EXT;
- no two outputs share a path (photo.jpg and photo.png in one folder would);
- no output is an input of the run (a photo, the model, the mask, a style image);
- an existing output is replaced only with --overwrite.
`-` as an input reads a photo from standard input; `--out -` writes the one
picture to standard output (PNG unless --format says otherwise). With --json,
one JSON record per picture (input, output, style, size, seconds) replaces the
list of outputs. With several photos, one that cannot be read is reported and
skipped (exit 1 at the end); any other problem stops the run (exit 2).
"""

import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path, PurePath

from style_transfer.base.errors import BadInput
from style_transfer.base.files import check_destination, check_not_an_input
from style_transfer.cli.progress import ProgressBar, watched
from style_transfer.painting.config import MIN_PHOTO_PX

OUTPUT_FORMATS = ("png", "jpg", "webp")
EXIT_SOME_FILES_FAILED = 1
STANDARD_STREAM = "-"
STANDARD_STREAM_NAMES = {False: "standard input", True: "standard output"}


@dataclasses.dataclass(frozen=True)
class Photo:
    """An input photo and the name its outputs start with (its sub-folder included)."""

    path: Path
    name: PurePath


def add_output_options(parser):
    parser.add_argument("--out", default=None, metavar="OUT_DIR|FILE",
                        help="output folder (created if missing; a name ending in / is one), "
                        "or a file name when exactly one picture results; - writes it to "
                        "standard output")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default=None,
                        help="output format in a folder (default: png; a file name's extension "
                        "decides otherwise)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing outputs (never an input)")
    parser.add_argument("--quiet", action="store_true",
                        help="no output paths (one photo) and no progress bar (several)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON record per output picture (input, output, style, "
                        "size, seconds) instead of the output paths or the progress bar")


@contextlib.contextmanager
def standard_streams(args):
    """`-` as input or output: the photo from standard input goes through a temporary
    file, and the picture for standard output is written to one and copied out at the
    end, so that everything else works on files. `args.shown` maps those temporary
    names back to `-` for records; an error names them as the user gave them, never
    as the temporary files."""
    args.shown = {}
    if STANDARD_STREAM not in args.inputs and args.out != STANDARD_STREAM:
        yield
        return
    if args.inputs.count(STANDARD_STREAM) > 1:
        raise BadInput("standard input (-) can be read only once.")
    if args.out == STANDARD_STREAM and args.json:
        raise BadInput("--out - writes the picture to standard output, where --json would "
                       "print its records; use one of them.")
    # A stream the shell closed (`>&-`, `<&-`) is None in Python.
    if args.out == STANDARD_STREAM and sys.stdout is None:
        raise BadInput("--out - writes the picture to standard output, which is closed; "
                       "give a file name.")
    if STANDARD_STREAM in args.inputs and sys.stdin is None:
        raise BadInput("the photo - is read from standard input, which is closed; give a "
                       "file name.")
    with tempfile.TemporaryDirectory(prefix="style-transfer-") as folder:
        folder = Path(folder)
        if STANDARD_STREAM in args.inputs:
            # Pillow reads the format from the content, so the name needs no extension.
            photo = folder / "stdin"
            photo.write_bytes(sys.stdin.buffer.read())
            args.inputs = [str(photo) if name == STANDARD_STREAM else name for name in args.inputs]
            args.shown[str(photo)] = STANDARD_STREAM
        stdout_file = None
        if args.out == STANDARD_STREAM:
            stdout_file = folder / "out" / f"stdout.{args.format or 'png'}"
            args.out = str(stdout_file)
            args.shown[args.out] = STANDARD_STREAM
            args.quiet = True
        try:
            yield
        except BadInput as error:
            raise type(error)(as_given(args, str(error))) from None
        if stdout_file is not None and stdout_file.exists():
            sys.stdout.buffer.write(stdout_file.read_bytes())
            sys.stdout.buffer.flush()


def as_given(args, message):
    """`message` with the temporary files of the standard streams named as such."""
    for temporary in getattr(args, "shown", {}):
        message = message.replace(temporary, STANDARD_STREAM_NAMES[temporary == args.out])
    return message


def shown(args, path):
    """How `path` is named to the user (`-` for the standard streams)."""
    return getattr(args, "shown", {}).get(str(path), str(path))


def find_photos(inputs):
    """The photos of the INPUT arguments: files as given, folders searched recursively.

    Raises:
        BadInput: no input, a missing or unreadable folder, or no photo at all.
    """
    from style_transfer.base import images

    if not inputs:
        raise BadInput("pass at least one INPUT photo or folder.")
    photos = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            photos += [Photo(file, file.relative_to(path).with_suffix(""))
                       for file in images.find_images(path)]
        else:
            photos.append(Photo(path, PurePath(path.stem)))
    if not photos:
        raise BadInput(f"no image found in {', '.join(inputs)}.")
    return photos


def output_paths(args, photos, labels, inputs):
    """The output paths, one list per photo (one path per label), checked as above.

    Args:
        args: The command's arguments (--out, --format, --overwrite).
        photos: The `Photo`s.
        labels: The label of each picture made from one photo ("wave", "grid").
        inputs: Every file the run reads besides the photos (model, mask, ...).

    Raises:
        BadInput: see the module docstring.
    """
    from style_transfer.base import images

    if not args.out:
        raise BadInput("pass --out OUT_DIR (or --out FILE.png for a single picture).")
    out = Path(args.out)
    # A name ending in a slash is a folder, whatever its suffix ("--out painted.png/").
    suffix = "" if args.out.endswith(("/", os.sep)) else out.suffix.lower()
    if suffix in _picture_suffixes() and suffix not in images.SAVE_FORMATS:
        # A name like a picture's would otherwise become a folder of that name.
        raise BadInput(f"--out {shown(args, out)}: pictures are written as "
                       f"{', '.join(images.SAVE_FORMATS)}, not {out.suffix}; give such a file "
                       f"name or a folder.")
    if suffix in images.SAVE_FORMATS:
        count = len(photos) * len(labels)
        if count != 1:
            raise BadInput(f"--out {shown(args, out)} is a file name, but {count} pictures "
                           f"would result; give a folder.")
        if args.format and out.suffix.lower().lstrip(".") not in _extensions_of(args.format):
            raise BadInput(f"--format {args.format} does not match --out {out}.")
        targets = [[out]]
    else:
        check_destination(out, folder=True)
        extension = "." + (args.format or "png")
        targets = [[out / photo.name.parent / f"{photo.name.name}__{label}{extension}"
                    for label in labels] for photo in photos]
    protected = [photo.path for photo in photos] + [Path(path) for path in inputs if path]
    writers = {}
    for photo, paths in zip(photos, targets):
        for target in paths:
            check_not_an_input(target, protected)
            key = target.resolve()
            if writers.get(key) is photo:
                raise BadInput(f"two pictures of {shown(args, photo.path)} would be written to "
                               f"{shown(args, target)}: a style is asked for twice, or two "
                               f"styles' names make the same file name.")
            if key in writers and _same_file(writers[key].path, photo.path):
                raise BadInput(f"{shown(args, photo.path)} is given twice (as "
                               f"{shown(args, writers[key].path)} too); give each photo once.")
            if key in writers:
                raise BadInput(f"{writers[key].path} and {photo.path} would both be written "
                               f"to {target}; rename one or stylize them separately.")
            writers[key] = photo
            check_destination(target, args.overwrite)
    return targets


def _same_file(first, second):
    """Whether two photo paths name one file (a link, or a folder and a file in it)."""
    try:
        return first.samefile(second)
    except OSError:  # `-`'s copy, or a photo that is gone: compare the paths.
        return first.resolve() == second.resolve()


def _picture_suffixes():
    """The file name suffixes of pictures: those read here, and every one Pillow knows
    (.tga, .ppm, .pdf, ...)."""
    from PIL import Image

    from style_transfer.base import images

    Image.init()
    return {*images.IMAGE_EXTENSIONS, *Image.registered_extensions()}


def _extensions_of(image_format):
    return ("jpg", "jpeg") if image_format == "jpg" else (image_format,)


def load_photo(path, max_size):
    """A photo as float32 (H, W, 3) in [0, 1], downsized to `max_size` (long side) if larger,
    and its alpha channel (uint8 (H, W)) or None (`images.load_image_alpha`).

    Raises:
        images.ImageReadError: unreadable, or smaller than `MIN_PHOTO_PX` on a side.
    """
    from style_transfer.base import images

    photo, alpha = images.load_image_alpha(path, max_size=max_size)
    if min(photo.shape[:2]) < MIN_PHOTO_PX:
        size = f"{photo.shape[1]}x{photo.shape[0]} pixels"
        if max_size is not None and max(photo.shape[:2]) == max_size:
            # The file's own size is larger: say which option made it too small.
            size += f" once downsized to --max-size {max_size}"
        raise images.ImageReadError(
            f"{path} is {size}; the network needs at least {MIN_PHOTO_PX}x{MIN_PHOTO_PX}.")
    return photo, alpha


def paint_photos(args, photos, targets, labels, max_size, paint, keep_alpha=True):
    """Runs `paint(photo array) -> pictures` on every photo (downsized to `max_size`, the
    long side, if larger) and saves the pictures (`labels`: the style of each).

    A photo with transparency is painted composited on white; with `keep_alpha` (not for
    figures, whose pictures are not the photo's), its alpha channel is put back on its
    pictures where the format keeps one (PNG, WebP; `images.save_image`).

    Returns:
        The exit code: 0, or `EXIT_SOME_FILES_FAILED` if a photo of several
        could not be read (each is reported on the standard error).

    Raises:
        BadInput: with a single photo, any problem; otherwise any problem but
            an unreadable photo (a picture with NaN pixels, an output that
            cannot be written).
    """
    import numpy as np

    from style_transfer.base import images

    single = len(photos) == 1
    progress = None if args.quiet or args.json or single or not watched() else (
        ProgressBar("file"))
    failures = 0
    for number, (photo, paths) in enumerate(zip(photos, targets), start=1):
        started = time.perf_counter()
        try:
            photo_array, alpha = load_photo(photo.path, max_size)
            pictures = paint(photo_array)
        except images.ImageReadError as error:
            if single:
                raise
            failures += 1
            # The error names the photo (standard input as such, not its temporary file);
            # it starts a line of its own after the progress bar's.
            after_bar = "" if progress is None else "\n"
            print(f"{after_bar}style-transfer stylize: {as_given(args, str(error))}",
                  file=sys.stderr)
            continue
        seconds = time.perf_counter() - started
        for picture, target, label in zip(pictures, paths, labels):
            if not np.all(np.isfinite(picture)):
                raise BadInput(f"the model painted NaN or infinite pixels for "
                               f"{shown(args, photo.path)}: its weights overflow; use an "
                               f"earlier checkpoint or train again.")
            images.save_image(picture, target, overwrite=args.overwrite,
                              alpha=alpha if keep_alpha else None)
            if args.json:
                print(json.dumps(output_record(args, photo.path, target, label, picture,
                                               seconds)), flush=True)
            elif single and not args.quiet:
                print(target)
        if progress is not None:
            progress(number, len(photos))
    if progress is not None:
        progress.close()
    if failures:
        print(f"style-transfer stylize: {failures} of {len(photos)} files failed.",
              file=sys.stderr)
        return EXIT_SOME_FILES_FAILED
    return 0


def output_record(args, photo_path, target, label, picture, seconds):
    """The --json record of one output picture (`seconds`: painting its photo)."""
    height, width = picture.shape[:2]
    return {"input": shown(args, photo_path), "output": shown(args, target), "style": label,
            "size": [width, height], "seconds": round(seconds, 3)}
