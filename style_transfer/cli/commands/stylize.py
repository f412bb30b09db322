"""`style-transfer stylize`: photos in the styles of a model, blends of them, grids.

    style-transfer stylize photo.jpg --contact-sheet --out sheet.png    # pretrained android-26
    style-transfer stylize --model magenta-monet photo.jpg --style 3 --out monet3.png
    style-transfer stylize --model styles.keras photo.jpg holiday/ --out painted/
    style-transfer stylize --model styles.keras photo.jpg --blend "wave=0.7,scream=0.3" --out out/
    style-transfer stylize --model styles.keras photo.jpg --mask sky.png --mask-styles wave,scream --out out/
    style-transfer stylize --model styles.keras photo.jpg --grid --style wave --style scream --out grid.png
    style-transfer stylize --model styles.keras photo.jpg --style wave --strength 0.6 --preserve-color --out soft.png
    style-transfer stylize --model styles.keras - --style wave --out - < photo.jpg > wave.png
    style-transfer stylize --model arbitrary.keras --style-image wave.jpg photo.jpg --out out/
    style-transfer stylize --engine magenta-hub --style-image wave.jpg photo.jpg --out out/
    style-transfer stylize --model styles.keras --styles
    style-transfer stylize --model styles.onnx photo.jpg --style 3 --out out.png   # an export
    style-transfer stylize photo.jpg --style 19 --runtime tensorflow --out out.png

A thin layer over `style_transfer.painting`: the options are `StylizeConfig`'s
fields. Everything the user asked for (the model, styles, blend, mask, output
paths) is checked before any picture is made; `photo_files` decides the outputs
(standard input and output, --json records).
"""

from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.cli import photo_files
from style_transfer.cli.options import add_config_options, config_from_args
from style_transfer.painting.config import MAGENTA_ENGINE, StylizeConfig

# Pairwise blends grow as k(k-1)/2 rows: past this, ask the user to pick styles.
MAX_GRID_STYLES = 6
# The size a mask's labels are checked at before any photo is read (any size checks them).
CHECKED_MASK_SIZE = (8, 8)
# Contact sheets show every style: their photos are downsized to this unless --max-size.
CONTACT_SHEET_PX = 256


def register(subparsers):
    parser = subparsers.add_parser("stylize", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="photos or folders of photos; - reads a photo from standard input")
    photo_files.add_output_options(parser)
    parser.add_argument("--styles", action="store_true",
                        help="list the styles of the model and exit")
    add_config_options(parser, StylizeConfig)
    parser.set_defaults(run=run)


def run(args):
    config = config_from_args(StylizeConfig, args)
    with photo_files.standard_streams(args):
        return _run(args, config)


def _run(args, config):
    if config.engine == MAGENTA_ENGINE:
        return _run_magenta_hub(args, config)
    from style_transfer.models.loading import load_model, model_path

    path = model_path(config.model)
    model = load_model(path, hub_encoder=config.hub_encoder)
    if args.styles:
        if not hasattr(model, "style_names"):
            raise BadInput(f"{path} is an arbitrary-style model: it paints with style images "
                           f"and has no styles of its own to list.")
        for index, name in enumerate(model.style_names):
            print(f"{index}\t{name}")
        return 0
    config.check_model(model)
    requested = _requested_styles(config, model)
    photos = photo_files.find_photos(args.inputs)
    labels = [config.figure.replace(" ", "-")] if config.figure else [label for label, _ in
                                                                     requested]
    targets = photo_files.output_paths(args, photos, labels,
                                       [path, config.mask, *config.style_images])
    max_size = config.max_size
    if config.contact_sheet and max_size is None:
        max_size = CONTACT_SHEET_PX
    if config.style_images:
        paint = config.painter(model)
        return photo_files.paint_photos(args, photos, targets, labels, max_size,
                                        lambda photo: [paint(photo)])
    config.prepare(model)
    return photo_files.paint_photos(args, photos, targets, labels, max_size,
                                    lambda photo: _paint(config, model, requested, photo),
                                    keep_alpha=not config.figure)


def _requested_styles(config, model):
    """[(label, style condition)] from the styles, the blend or the mask, checked against the
    model (a mask condition is ("mask", mask image, style ids): its size is each photo's)."""
    from PIL import ImageOps

    from style_transfer.base import images
    from style_transfer.models.style_names import style_index
    from style_transfer.painting import conditions

    if config.style_images:
        return config.conditions(model)
    names = model.style_names
    if config.mask:
        if not config.mask_styles:
            raise BadInput("`mask` needs `mask_styles` A,B,... (the style of each label).")
        ids = [style_index(style, names) for style in config.mask_styles.split(",")]
        mask = images.open_image(config.mask)
        try:
            mask.load()
            # Upright as a viewer shows it, as the photos are read.
            mask = ImageOps.exif_transpose(mask)
        except (OSError, ValueError) as error:
            raise images.ImageReadError(f"Cannot read mask {config.mask}: {error}") from None
        # Check the labels now, before any photo is read; at the mask's own size the weights
        # alone (height x width x styles floats) would take gigabytes for a large mask.
        conditions.mask_region_weights(mask, model.num_styles, ids, CHECKED_MASK_SIZE)
        _mask_mode(config, model)
        label = conditions.shortened_label(
            "mask-" + "+".join(conditions.style_label(index, names) for index in ids))
        return [(label, ("mask", mask, ids))]
    requested = config.conditions(model)
    if config.grid and len(requested) > MAX_GRID_STYLES:
        raise BadInput(
            f"a grid of {len(requested)} styles would have "
            f"{len(requested) * (len(requested) - 1) // 2} rows of blends; pick at most "
            f"{MAX_GRID_STYLES} with `style`."
        )
    return requested


def _mask_mode(config, model):
    """`mask_mode`; by default composite, or network for an export made with weight maps
    (it takes weight maps only, and composite paints each style alone)."""
    from style_transfer.models.runtimes import ExportedNetwork

    takes_maps = isinstance(model, ExportedNetwork) and model.style == "map"
    if config.mask_mode is None:
        return "network" if takes_maps else "composite"
    if config.mask_mode == "composite" and takes_maps:
        raise BadInput(f"`mask_mode` composite paints each style alone, but {model.path} was "
                       f"exported with weight maps and takes maps only; use `mask_mode` "
                       f"network, or a file exported without weight maps.")
    return config.mask_mode


def _paint(config, model, requested, photo):
    """The pictures of one photo: one per requested style, or the figure.

    A mask in composite mode makes weights for the styles it uses only
    (`mask_region_weights`: height x width x 2 floats for 2 styles of a model of 26);
    in network mode the network takes a weight map of every style of the model.
    """
    from style_transfer.painting import conditions, figures, stylize
    from style_transfer.painting.photo_options import apply

    if config.grid:
        return [figures.interpolation_grid(model, photo, [style for _, style in requested])[0]]
    if config.contact_sheet:
        return [figures.contact_sheet(model, photo, [style for _, style in requested])[0]]
    if config.mask and _mask_mode(config, model) == "composite":
        [(_, (_, mask, ids))] = requested
        used, weights = conditions.mask_region_weights(mask, model.num_styles, ids,
                                                       photo.shape[:2])
        painted = stylize.composite(model, photo, used, weights)
        return [apply(photo, painted, config.strength, config.preserve_color)]
    styles = []
    for _, style in requested:
        if isinstance(style, tuple) and style[0] == "mask":
            _, mask, ids = style
            style = conditions.mask_to_weight_map(mask, model.num_styles, ids, photo.shape[:2])
        styles.append(style)
    return stylize.stylize_many(model, photo, styles, normalize=config.normalize,
                                strength=config.strength, preserve_color=config.preserve_color)


def _run_magenta_hub(args, config):
    """Magenta's published arbitrary-style model from TF Hub, for comparison."""
    from style_transfer.base import images
    from style_transfer.models import magenta_hub
    from style_transfer.models.hub import import_tensorflow_hub
    from style_transfer.painting import photo_options

    import_tensorflow_hub()  # Before any work: the hub extra may be missing.
    handle = config.hub_handle or magenta_hub.MAGENTA_HUB_HANDLE
    photos = photo_files.find_photos(args.inputs)
    label = f"magenta-{Path(config.style_images[0]).stem}"
    targets = photo_files.output_paths(args, photos, [label], list(config.style_images))
    style_image = images.load_image(config.style_images[0])

    def paint(photo):
        painted = magenta_hub.magenta_hub_stylize(photo, style_image, handle)
        return [photo_options.preserve_color(photo, painted) if config.preserve_color
                else painted]

    return photo_files.paint_photos(args, photos, targets, [label], config.max_size, paint)
