"""`style-transfer train`: train one network on several styles (a thin layer over `training.train`)."""

import argparse

from style_transfer.losses import LossConfig

_DEFAULT_LOSS = LossConfig()


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: ...)" for options that have a default to show."""

    def _get_help_string(self, action):
        if action.required or action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def register(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a multi-style network on a folder of photos and a few style images",
        description="Train one network on several styles at once (Dumoulin et al. 2017): "
        "each sample of each batch is a random crop of a content photo and a random style. "
        "RUN_DIR receives run.json (the settings), checkpoint.npz (every --checkpoint-every "
        "steps), history.csv (the losses), logs/ (TensorBoard: losses, per-style losses, "
        "sample grids) and, at the end, model.keras. Defaults follow Magenta's "
        "image_stylization except the batch size (4, as pytorch/examples).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--content", required=True, metavar="DIR",
                        help="folder of content photos (searched recursively)")
    parser.add_argument("--styles", required=True, nargs="*", metavar="IMG",
                        help="style images, one per style")
    parser.add_argument("--out", required=True, metavar="RUN_DIR",
                        help="run folder: new or empty, or a run to continue with --resume")
    parser.add_argument("--style-names", nargs="+", metavar="NAME", default=None,
                        help="one name per style (default: the style file names without "
                        "extension)")
    parser.add_argument("--image-size", type=int, default=256, metavar="PX",
                        help="side of the square training crops, pixels")
    parser.add_argument("--batch-size", type=int, default=4, help="samples per step")
    parser.add_argument("--steps", type=int, default=40_000,
                        help="total training steps (Magenta: 40,000 at batch 16)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--alpha", type=float, default=1.0,
                        help="width multiplier of the network (0.25-0.5 trains fast on a CPU)")
    parser.add_argument("--vgg", choices=("vgg16", "vgg19"), default=_DEFAULT_LOSS.vgg,
                        help="loss network")
    parser.add_argument("--vgg-weights", default=_DEFAULT_LOSS.vgg_weights,
                        metavar="imagenet|random|PATH",
                        help="loss network weights: 'imagenet' (downloaded once by Keras), "
                        "'random' (for trials only: much lower quality) or a local .h5 file")
    parser.add_argument("--pooling", choices=("max", "avg"), default=_DEFAULT_LOSS.pooling,
                        help="loss network pooling (Magenta replaces max by average pooling)")
    parser.add_argument("--content-layer", default=_DEFAULT_LOSS.content_layer,
                        help="VGG layer of the content loss")
    parser.add_argument("--style-layers", nargs="+", default=list(_DEFAULT_LOSS.style_layers),
                        metavar="LAYER", help="VGG layers of the style loss")
    parser.add_argument("--content-weight", type=float, default=_DEFAULT_LOSS.content_weight,
                        help="weight of the content loss")
    parser.add_argument("--style-weight", type=float,
                        default=_DEFAULT_LOSS.style_layer_weights[0],
                        help="weight of the style loss of each style layer")
    parser.add_argument("--tv-weight", type=float, default=_DEFAULT_LOSS.tv_weight,
                        help="weight of the total variation loss")
    parser.add_argument("--style-size", type=int, default=_DEFAULT_LOSS.style_size, metavar="PX",
                        help="long side to which style images are resized for their Gram "
                        "targets")
    parser.add_argument("--checkpoint-every", type=int, default=500, metavar="STEPS",
                        help="write a checkpoint every this many steps")
    parser.add_argument("--sample-every", type=int, default=500, metavar="STEPS",
                        help="log sample stylizations to TensorBoard every this many steps "
                        "(0: never)")
    parser.add_argument("--seed", type=int, default=0,
                        help="fixes the initial weights, the crops and the style draws")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in RUN_DIR from its last checkpoint (same "
                        "settings; --steps may grow)")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the training step with XLA (slower on CPU; try it on "
                        "a GPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args):
    from style_transfer.training import train

    loss_config = LossConfig(
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
    train(
        args.content,
        args.styles,
        args.out,
        style_names=args.style_names,
        image_size=args.image_size,
        batch_size=args.batch_size,
        steps=args.steps,
        learning_rate=args.learning_rate,
        alpha=args.alpha,
        loss_config=loss_config,
        checkpoint_every=args.checkpoint_every,
        sample_every=args.sample_every,
        seed=args.seed,
        resume=args.resume,
        progress=not args.quiet,
        jit_compile=args.jit_compile,
    )
    print(f"Trained model written to {args.out}/model.keras")
    return 0
