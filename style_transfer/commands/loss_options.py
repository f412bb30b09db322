"""The loss options shared by `train`, `train-arbitrary` and `add-style`."""

import collections

from style_transfer.losses import LossConfig

STYLE_SIZE_HELP = "long side to which style images are resized for their Gram targets"


def add_loss_options(parser, defaults=LossConfig(), style_size_help=STYLE_SIZE_HELP):
    """Adds --vgg, --vgg-weights, --pooling, --content-layer, --style-layers, the
    three loss weights and --style-size to `parser` (a parser or an argument group).

    Args:
        parser: Where the options go.
        defaults: The `LossConfig` holding the defaults, or `None`: every option
            then defaults to `None`, meaning "keep the model's own" (see
            `loss_overrides`).
        style_size_help: The help of --style-size.
    """
    if defaults is None:
        default = collections.defaultdict(lambda: None)
    else:
        default = {
            **defaults.to_dict(),
            "style_layers": list(defaults.style_layers),
            "style_weight": defaults.style_layer_weights[0],
        }
    parser.add_argument("--vgg", choices=("vgg16", "vgg19"), default=default["vgg"],
                        help="loss network")
    parser.add_argument("--vgg-weights", default=default["vgg_weights"],
                        metavar="imagenet|random|PATH",
                        help="loss network weights: 'imagenet' (downloaded once by Keras), "
                        "'random' (for trials only: much lower quality) or a local .h5 file")
    parser.add_argument("--pooling", choices=("max", "avg"), default=default["pooling"],
                        help="loss network pooling (Magenta replaces max by average pooling)")
    parser.add_argument("--content-layer", default=default["content_layer"],
                        help="VGG layer of the content loss")
    parser.add_argument("--style-layers", nargs="+", default=default["style_layers"],
                        metavar="LAYER", help="VGG layers of the style loss")
    parser.add_argument("--content-weight", type=float, default=default["content_weight"],
                        help="weight of the content loss")
    parser.add_argument("--style-weight", type=float, default=default["style_weight"],
                        help="weight of the style loss of each style layer")
    parser.add_argument("--tv-weight", type=float, default=default["tv_weight"],
                        help="weight of the total variation loss")
    parser.add_argument("--style-size", type=int, default=default["style_size"], metavar="PX",
                        help=style_size_help)


def loss_config(args):
    """The `LossConfig` of options added with defaults."""
    return LossConfig(
        vgg=args.vgg,
        vgg_weights=args.vgg_weights,
        pooling=args.pooling,
        content_layer=args.content_layer,
        style_layers=tuple(args.style_layers),
        content_weight=args.content_weight,
        style_layer_weights=(args.style_weight,) * len(args.style_layers),
        tv_weight=args.tv_weight,
        style_size=args.style_size,
    )


def loss_overrides(args):
    """The options given on the command line (added with `defaults=None`), as
    `LossConfig` field names -> values; `style_layer_weights` is one number."""
    overrides = {
        "vgg": args.vgg,
        "vgg_weights": args.vgg_weights,
        "pooling": args.pooling,
        "content_layer": args.content_layer,
        "style_layers": None if args.style_layers is None else tuple(args.style_layers),
        "content_weight": args.content_weight,
        "style_layer_weights": args.style_weight,
        "tv_weight": args.tv_weight,
        "style_size": args.style_size,
    }
    return {name: value for name, value in overrides.items() if value is not None}
