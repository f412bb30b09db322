"""`style-transfer demo`: real styles on a bundled photo in seconds; `--train` trains a model."""

from style_transfer.base.errors import BadInput
from style_transfer.base.settings import MAX_SEED
from style_transfer.cli.options import integer_between
from style_transfer.demo import DEMO_SETTINGS, QUICK_SETTINGS
from style_transfer.training.config import MAX_STEPS

# Options of the training demo only, with their defaults (to tell whether one was given).
TRAINING_OPTIONS = {"styles": None, "vgg_weights": "imagenet", "steps": None, "quick": False,
                    "seed": 0}


def register(subparsers):
    parser = subparsers.add_parser(
        "demo",
        description="Paint scikit-image's photo of a cat with the pretrained android-26 "
        "network (no training, no download; needs the [pretrained] extra): "
        "OUT/contact_sheet.png (each of the 26 styles), OUT/blends.png (three styles and "
        "their convex blends), OUT/spatial_blend.png (one style inside an ellipse, another "
        "outside). With --train, train a small multi-style network instead (a few minutes "
        "on a laptop CPU) and write OUT/grid.png and OUT/losses.png; its loss network is "
        "VGG-16 with ImageNet weights, downloaded once by Keras (offline: --vgg-weights "
        "random, much lower quality, or a local weights file).",
    )
    parser.add_argument("--out", default="style_transfer_demo", metavar="DIR",
                        help="output folder")
    parser.add_argument("--model", default=None, metavar="NAME|MODEL.keras",
                        help="the network to paint with (default: android-26)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the outputs of an earlier demo in the folder")
    training = parser.add_argument_group("training demo (--train)")
    training.add_argument("--train", action="store_true",
                          help="train a small multi-style network instead of painting with a "
                          "pretrained one")
    training.add_argument("--styles", nargs="+", metavar="IMG", default=None,
                          help="style images (default: three generated styles)")
    training.add_argument("--vgg-weights", default="imagenet", metavar="imagenet|random|PATH",
                          help="loss network weights: 'imagenet', 'random' (trials only) or a "
                          "local vgg16 .h5 file (no top)")
    training.add_argument("--steps", type=integer_between(1, MAX_STEPS), default=None,
                          help=f"training steps (default: {DEMO_SETTINGS['steps']}, with "
                          f"--quick {QUICK_SETTINGS['steps']}; from 1 to {MAX_STEPS})")
    training.add_argument("--quick", action="store_true",
                          help=f"smaller and faster: {QUICK_SETTINGS['image_size']} px crops, "
                          f"alpha {QUICK_SETTINGS['alpha']} (rougher pictures)")
    training.add_argument("--seed", type=integer_between(0, MAX_SEED), default=0,
                          help=f"seed of the training run (from 0 to {MAX_SEED})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args):
    from style_transfer import demo

    if not args.train:
        given = [name for name, default in TRAINING_OPTIONS.items()
                 if getattr(args, name) != default]
        if given:
            option = "--" + given[0].replace("_", "-")
            raise BadInput(f"{option} belongs to the training demo; add --train.")
        written = demo.demo(args.out, model=args.model, overwrite=args.overwrite)
        print(f"Every style:     {written['contact_sheet']}")
        print(f"Blends:          {written['blends']}")
        print(f"Spatial blend:   {written['spatial_blend']}")
        return 0
    from style_transfer.cli.keras_backend import check_keras_backend

    check_keras_backend("demo --train", needs_tensorflow=True)
    if args.model:
        raise BadInput("--model paints with a trained network; the training demo (--train) "
                       "trains its own.")
    written = demo.training_demo(
        args.out, style_images=args.styles, vgg_weights=args.vgg_weights, steps=args.steps,
        quick=args.quick, overwrite=args.overwrite, progress=not args.quiet, seed=args.seed,
    )
    print(f"Styles and blends: {written['grid']}")
    print(f"Training losses:   {written['losses']}")
    print(f"Model:             {written['model']}")
    return 0
