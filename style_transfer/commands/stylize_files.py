"""The files of `style-transfer stylize`: the photos it reads and the pictures it writes.

Every output path is decided and checked before the first picture is made:
- a photo given as a file writes OUT/STEM__LABEL.EXT; a photo found in a folder
  given as input keeps its sub-folder: OUT/SUB/STEM__LABEL.EXT;
- no two outputs share a path (photo.jpg and photo.png in one folder would);
- no output is an input of the run (a photo, the model, the mask, a style image);
- an existing output is replaced only with --overwrite.
With several photos, one that cannot be read is reported and skipped (exit 1 at
the end); any other problem stops the run (exit 2).
"""

import dataclasses
import sys
from pathlib import Path, PurePath

from style_transfer.errors import BadInput
from style_transfer.files import check_destination, check_not_an_input

OUTPUT_FORMATS = ("png", "jpg", "webp")
EXIT_SOME_FILES_FAILED = 1
# The network's two stride-2 convolutions and 9x9 reflection padding need this much.
MIN_PHOTO_PX = 8


@dataclasses.dataclass(frozen=True)
class Photo:
    """An input photo and the name its outputs start with (its sub-folder included)."""

    path: Path
    name: PurePath


def add_output_options(parser):
    parser.add_argument("--out", default=None, metavar="OUT_DIR|FILE",
                        help="output folder (created if missing), or a file name when exactly "
                        "one picture results")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default=None,
                        help="output format in a folder (default: png; a file name's extension "
                        "decides otherwise)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing outputs (never an input)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no list of outputs")


def find_photos(inputs):
    """The photos of the INPUT arguments: files as given, folders searched recursively.

    Raises:
        BadInput: no input, a missing or unreadable folder, or no photo at all.
    """
    from style_transfer import images

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
    from style_transfer import images

    if not args.out:
        raise BadInput("pass --out OUT_DIR (or --out FILE.png for a single picture).")
    out = Path(args.out)
    if out.suffix.lower() in images.SAVE_FORMATS:
        count = len(photos) * len(labels)
        if count != 1:
            raise BadInput(f"--out {out} is a file name, but {count} pictures would result; "
                           f"give a folder.")
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
            if key in writers:
                raise BadInput(f"{writers[key]} and {photo.path} would both be written to "
                               f"{target}; rename one or stylize them separately.")
            writers[key] = photo.path
            check_destination(target, args.overwrite)
    return targets


def _extensions_of(image_format):
    return ("jpg", "jpeg") if image_format == "jpg" else (image_format,)


def load_photo(path, max_size):
    """A photo as float32 (H, W, 3) in [0, 1], downsized to `max_size` (long side) if larger.

    Raises:
        images.ImageReadError: unreadable, or smaller than `MIN_PHOTO_PX` on a side.
    """
    from style_transfer import images

    photo = images.load_image(path, max_size=max_size)
    if min(photo.shape[:2]) < MIN_PHOTO_PX:
        raise images.ImageReadError(
            f"{path} is {photo.shape[1]}x{photo.shape[0]} pixels; the network needs at least "
            f"{MIN_PHOTO_PX}x{MIN_PHOTO_PX}.")
    return photo


def paint_photos(args, photos, targets, max_size, paint):
    """Runs `paint(photo array) -> pictures` on every photo (downsized to `max_size`, the
    long side, if larger) and saves the pictures.

    Returns:
        The exit code: 0, or `EXIT_SOME_FILES_FAILED` if a photo of several
        could not be read (each is reported on the standard error).

    Raises:
        BadInput: with a single photo, any problem; otherwise any problem but
            an unreadable photo (a picture with NaN pixels, an output that
            cannot be written).
    """
    import numpy as np

    from style_transfer import images

    single = len(photos) == 1
    progress = None if args.quiet or single else _progress_bar(len(photos))
    failures = 0
    for number, (photo, paths) in enumerate(zip(photos, targets), start=1):
        try:
            pictures = paint(load_photo(photo.path, max_size))
        except images.ImageReadError as error:
            if single:
                raise
            failures += 1
            print(f"\nstyle-transfer stylize: {photo.path}: {error}", file=sys.stderr)
            continue
        for picture, target in zip(pictures, paths):
            if not np.all(np.isfinite(picture)):
                raise BadInput(f"the model painted NaN or infinite pixels for {photo.path}: "
                               f"its weights overflow; use an earlier checkpoint or train again.")
            images.save_image(picture, target, overwrite=args.overwrite)
            if single and not args.quiet:
                print(target)
        if progress is not None:
            progress.update(number)
    if failures:
        print(f"style-transfer stylize: {failures} of {len(photos)} files failed.",
              file=sys.stderr)
        return EXIT_SOME_FILES_FAILED
    return 0


def _progress_bar(total):
    import keras

    return keras.utils.Progbar(total, unit_name="file")
