"""`style-transfer train`: train one network on several styles (a thin layer over `training.train`).

Its options are `TrainConfig`'s fields.
"""

from pathlib import Path

from style_transfer.cli.options import add_config_options, add_run_options, config_from_args
from style_transfer.training.config import TrainConfig


def register(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a multi-style network on a folder of photos and a few style images",
        description="Train one network on several styles at once (Dumoulin et al. 2017): "
        "each sample of each batch is a random crop of a content photo and a random style. "
        "RUN_DIR receives run.json (the settings), checkpoint.npz (every --checkpoint-every "
        "steps, on Ctrl-C and at the end), history.csv (the losses), logs/ (TensorBoard, with "
        "the tensorboard extra: losses, per-style losses, sample grids) and, at the end, "
        "model.keras. One process trains in a folder at a time. Defaults follow Magenta's "
        "image_stylization except the batch size (4, as pytorch/examples).",
    )
    add_run_options(parser, "RUN_DIR", "run folder: new or empty, or a run to continue with "
                    "--resume")
    add_config_options(parser, TrainConfig)
    parser.set_defaults(run=run, needs_tensorflow=True)  # `cli.keras_backend`


def run(args):
    config = config_from_args(TrainConfig, args)
    from style_transfer.training.multi_style import train
    from style_transfer.training.run import MODEL_FILE

    train(config, args.out, resume=args.resume, progress=not args.quiet)
    if (Path(args.out) / MODEL_FILE).is_file():  # Not on a worker other than the chief.
        print(f"Trained model written to {args.out}/{MODEL_FILE}")
    return 0
