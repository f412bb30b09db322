"""`style-transfer train-arbitrary`: train one model for any style image (Ghiasi et al. 2017)."""

import argparse

from style_transfer.commands.loss_options import add_loss_options, loss_config

NAME = "train-arbitrary"


def register(subparsers):
    parser = subparsers.add_parser(
        NAME,
        help="train a model that stylizes with any style image (style encoder + embedding)",
        description="Train an arbitrary-style model over a folder of style images: a style "
        "encoder (an ImageNet backbone or a TF Hub model) maps each style image to a "
        "100-d embedding from which every gamma/beta of the style network is predicted. "
        "Writes RUN_DIR/model.keras; --resume continues a stopped run exactly.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--content", required=True, metavar="DIR",
                        help="folder of content photos (searched recursively)")
    parser.add_argument("--styles", required=True, metavar="DIR",
                        help="folder of style images (searched recursively)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder")
    parser.add_argument("--steps", type=int, default=40_000, help="training steps")
    parser.add_argument("--batch-size", type=int, default=8, help="samples per step")
    parser.add_argument("--image-size", type=int, default=256,
                        help="side of the square content crops, pixels")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--alpha", type=float, default=1.0,
                        help="width multiplier of the style network")
    parser.add_argument("--embedding-dim", type=int, default=100,
                        help="length of the style embedding")
    encoder = parser.add_mutually_exclusive_group()
    encoder.add_argument("--encoder", default="mobilenet_v2",
                         choices=["mobilenet_v2", "inception_v3"],
                         help="keras.applications style encoder")
    encoder.add_argument("--encoder-hub", metavar="HANDLE", default=None,
                         help="use a TF Hub image feature-vector model as the encoder: a "
                         "URL, or a local SavedModel folder (works offline)")
    parser.add_argument("--encoder-weights", default="imagenet", metavar="WEIGHTS",
                        help="'imagenet' (downloaded once), 'random' (offline trials only) or "
                        "the path of a weights file")
    parser.add_argument("--train-encoder", action="store_true",
                        help="fine-tune the encoder too (slower); otherwise it is frozen")
    add_loss_options(parser, style_size_help="side of the square style images (encoder "
                     "input and Gram targets)")
    parser.add_argument("--checkpoint-every", type=int, default=500, metavar="STEPS")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args):
    from style_transfer.arbitrary import HUB_ENCODER
    from style_transfer.arbitrary_training import train_arbitrary

    train_arbitrary(
        args.content, args.styles, args.out,
        image_size=args.image_size, batch_size=args.batch_size, steps=args.steps,
        learning_rate=args.learning_rate, alpha=args.alpha, embedding_dim=args.embedding_dim,
        encoder=HUB_ENCODER if args.encoder_hub else args.encoder,
        encoder_weights=args.encoder_weights, hub_handle=args.encoder_hub,
        train_encoder=args.train_encoder, loss_config=loss_config(args),
        checkpoint_every=args.checkpoint_every, seed=args.seed, resume=args.resume,
        progress=not args.quiet,
    )
    print(f"wrote {args.out}/model.keras")
    return 0
