"""`style-transfer add-style`: add styles to a trained model (remove-style and
rename-style are in `edit_styles`).

    style-transfer add-style --model styles.keras --styles mosaic.jpg --content photos/ --out more.keras

A thin layer over `style_transfer.add_style`. The old styles of the model stay
bit-identical; the grown model is written atomically, never over the input model,
and over an existing file only with --overwrite.
"""

from style_transfer.add_style import INITS
from style_transfer.commands.loss_options import add_loss_options, loss_overrides


def register(subparsers):
    parser = subparsers.add_parser(
        "add-style",
        help="add styles to a trained model, training only their gamma/beta",
        description="Append one gamma/beta row per new style to every conditional instance "
        "norm of MODEL and train only those rows (a fresh Adam; every other weight and the "
        "old styles stay bit-identical). The loss, image size and batch size default to "
        "what MODEL was trained with. RUN_DIR receives run.json, checkpoint.npz, "
        "history.csv and logs/ as in `train`; --resume continues it.",
    )
    parser.add_argument("--model", required=True, metavar="MODEL.keras|NAME",
                        help="the trained style model, or the name of a pretrained one "
                        "(`style-transfer pretrained list`)")
    parser.add_argument("--styles", required=True, nargs="*", metavar="IMG",
                        help="the new style images, one per new style")
    parser.add_argument("--content", required=True, metavar="DIR",
                        help="folder of content photos (searched recursively)")
    parser.add_argument("--out", required=True, metavar="NEW_MODEL.keras",
                        help="the grown model")
    parser.add_argument("--style-names", nargs="+", metavar="NAME", default=None,
                        help="one name per new style (default: the file names without "
                        "extension)")
    parser.add_argument("--steps", type=int, default=2000, help="training steps")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="samples per step (default: the model's)")
    parser.add_argument("--image-size", type=int, default=None, metavar="PX",
                        help="side of the square training crops (default: the model's)")
    parser.add_argument("--init", choices=INITS, default="nearest",
                        help="starting rows: ones/zeros, the mean of the old styles, or a copy "
                        "of the old style whose stylizations are nearest (style loss) to the "
                        "new style")
    loss = parser.add_argument_group("loss options (default: the model's own loss)")
    add_loss_options(loss, defaults=None)
    parser.add_argument("--run-dir", default=None, metavar="RUN_DIR",
                        help="run folder (default: --out with the suffix .run)")
    parser.add_argument("--checkpoint-every", type=int, default=500, metavar="STEPS",
                        help="write a checkpoint every this many steps")
    parser.add_argument("--seed", type=int, default=0, help="fixes the crops and style draws")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in RUN_DIR from its last checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out (never the input model)")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the training step with XLA")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_add)


def _run_add(args):
    from style_transfer.add_style import add_styles
    from style_transfer.model_file import model_path

    add_styles(
        model_path(args.model),
        args.styles,
        args.content,
        args.out,
        style_names=args.style_names,
        steps=args.steps,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        image_size=args.image_size,
        loss_overrides=loss_overrides(args),
        init=args.init,
        run_dir=args.run_dir,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.quiet,
        jit_compile=args.jit_compile,
    )
    print(f"Model with the new styles written to {args.out}")
    return 0
