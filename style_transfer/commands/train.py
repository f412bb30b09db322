"""`style-transfer train`: train one network on several styles (a thin layer over `training.train`)."""

from style_transfer.commands.help_formatter import HelpFormatter
from style_transfer.commands.loss_options import add_loss_options, loss_config


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
    add_loss_options(parser)
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
        loss_config=loss_config(args),
        checkpoint_every=args.checkpoint_every,
        sample_every=args.sample_every,
        seed=args.seed,
        resume=args.resume,
        progress=not args.quiet,
        jit_compile=args.jit_compile,
    )
    print(f"Trained model written to {args.out}/model.keras")
    return 0
