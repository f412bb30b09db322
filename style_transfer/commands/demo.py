"""`style-transfer demo`: train a small multi-style model in minutes and draw what it does."""


from style_transfer.commands.train import HelpFormatter
from style_transfer.demo import DEMO_SETTINGS, QUICK_SETTINGS


def register(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="train a small multi-style model on bundled photos and draw its styles and blends",
        description="Train a small multi-style network (a few minutes on a laptop CPU) on the "
        "photos bundled with scikit-image, then write OUT/grid.png (two photos in every style "
        "and in blends of styles) and OUT/losses.png (the training curves). Without --styles "
        "three generated styles are used. The loss network is VGG-16 with ImageNet weights, "
        "downloaded once by Keras; offline, pass --vgg-weights random (much lower quality) "
        "or a local weights file.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--out", default="style_transfer_demo", metavar="DIR",
                        help="output folder")
    parser.add_argument("--styles", nargs="+", metavar="IMG", default=None,
                        help="style images (default: three generated styles)")
    parser.add_argument("--vgg-weights", default="imagenet", metavar="imagenet|random|PATH",
                        help="loss network weights: 'imagenet', 'random' (trials only) or a "
                        "local vgg16 .h5 file (no top)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps (default: {DEMO_SETTINGS['steps']}, with --quick "
                        f"{QUICK_SETTINGS['steps']})")
    parser.add_argument("--quick", action="store_true",
                        help=f"smaller and faster: {QUICK_SETTINGS['image_size']} px crops, "
                        f"alpha {QUICK_SETTINGS['alpha']} (rougher pictures)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the outputs of an earlier demo in the folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args):
    from style_transfer.demo import demo

    written = demo(
        args.out, style_images=args.styles, vgg_weights=args.vgg_weights, steps=args.steps,
        quick=args.quick, overwrite=args.overwrite, progress=not args.quiet, seed=args.seed,
    )
    print(f"Styles and blends: {written['grid']}")
    print(f"Training losses:   {written['losses']}")
    print(f"Model:             {written['model']}")
    return 0
