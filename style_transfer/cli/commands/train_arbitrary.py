"""`style-transfer train-arbitrary`: train one model for any style image (Ghiasi et al. 2017).

A thin layer over `arbitrary_training.train_arbitrary`; its options are
`ArbitraryConfig`'s fields.
"""

from pathlib import Path

from style_transfer.cli.options import add_config_options, add_run_options, config_from_args
from style_transfer.training.config import HUB_ENCODER, ArbitraryConfig

NAME = "train-arbitrary"


def register(subparsers):
    parser = subparsers.add_parser(
        NAME,
        help="train a model that stylizes with any style image (style encoder + embedding)",
        description="Train an arbitrary-style model over a folder of style images: a style "
        "encoder (an ImageNet backbone or a TF Hub model) maps each style image to a "
        "100-d embedding from which every gamma/beta of the style network is predicted. "
        "RUN_DIR is laid out as for `train` and receives model.keras at the end; --resume "
        "continues a stopped run exactly.",
    )
    add_run_options(parser, "RUN_DIR", "run folder: new or empty, or a run to continue with "
                    "--resume")
    add_config_options(parser, ArbitraryConfig)
    parser.set_defaults(run=run, needs_tensorflow=True)  # `cli.keras_backend`


def run(args):
    config = config_from_args(ArbitraryConfig, args,
                              encoder=HUB_ENCODER if args.hub_handle else args.encoder)
    from style_transfer.training.arbitrary import train_arbitrary
    from style_transfer.training.run import MODEL_FILE

    train_arbitrary(config, args.out, resume=args.resume, progress=not args.quiet)
    if (Path(args.out) / MODEL_FILE).is_file():  # Not on a worker other than the chief.
        print(f"Trained model written to {args.out}/{MODEL_FILE}")
    return 0
