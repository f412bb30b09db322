"""`style-transfer pretrained list | get`: trained networks to paint with, no training needed.

    style-transfer pretrained list
    style-transfer pretrained get android-26 --out android26.keras
    style-transfer pretrained get magenta-monet \
        --from ~/Downloads/multistyle-pastiche-generator-monet.ckpt --out monet.keras

A thin layer over `style_transfer.models.pretrained`. Any command that takes
`--model FILE.keras` also takes a pretrained model's name; `get` writes the
converted model to a file of your own (to rename its styles, add styles, export it).
"""

from style_transfer.base.errors import BadInput


def register(subparsers):
    parser = subparsers.add_parser(
        "pretrained",
        description=__doc__.split("\n\n")[0],
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="name, styles, architecture, source, licence, and whether it is cached",
        description="List the pretrained networks: for each its name, styles, architecture, "
        "source, licence, whether it is cached and, for a download, its URL; then the cache "
        "folder.",
    )
    listing.set_defaults(run=_run_list)
    get = actions.add_parser(
        "get",
        help="convert a pretrained network (once; it is cached) and write it to --out",
        description="Convert a pretrained network into this package's format, verifying it "
        "(see `style_transfer.models.pretrained`), cache it, and write a copy to --out. Magenta's "
        "checkpoints are downloaded on first use; --from converts a copy you downloaded "
        "yourself (e.g. on a machine with internet access) instead.",
    )
    get.add_argument("name", metavar="NAME", help="a name from `style-transfer pretrained list`")
    get.add_argument("--out", required=True, metavar="MODEL.keras", help="where to write it")
    get.add_argument("--from", dest="source_file", default=None, metavar="FILE",
                     help="convert this local checkpoint or ONNX file instead of the "
                     "registered source")
    get.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    get.set_defaults(run=_run_get)


def _run_list(args):
    from style_transfer.models import pretrained
    from style_transfer.models.network import ARCHITECTURES

    for entry in pretrained.REGISTRY.values():
        cached = "cached" if pretrained.is_cached(entry.name) else "not cached yet"
        print(f"{entry.name}: {entry.num_styles} styles, {entry.architecture} "
              f"({ARCHITECTURES[entry.architecture].describe()}), {cached}")
        print(f"    source:  {entry.source}")
        print(f"    licence: {entry.licence}")
        if entry.url:
            print(f"    download (on first use): {entry.url}")
    print(f"cache: {pretrained.cache_dir()}")
    return 0


def _run_get(args):
    import shutil

    from style_transfer.base.files import atomic_path, check_destination, check_not_an_input
    from style_transfer.models import pretrained

    if not args.out.endswith(".keras"):
        raise BadInput(f"model files end in .keras; received --out {args.out!r}.")
    if args.source_file:
        check_not_an_input(args.out, args.source_file)
    # Before a conversion (and a download) that a refused --out would waste.
    check_destination(args.out, args.overwrite)
    cached = pretrained.ensure_cached(args.name, args.source_file)
    with atomic_path(args.out, overwrite=args.overwrite) as temporary:
        shutil.copyfile(cached, temporary)
    print(f"{args.name} written to {args.out}")
    return 0
