"""Style loss of an arbitrary-style model on styles it never saw, against N-style models.

    python benchmarks/bench_arbitrary.py            # the proxy set-up (about 11 min on 2 shared CPU cores)
    python benchmarks/bench_arbitrary.py --quick    # tiny sizes and steps: a smoke test

Set-up (offline proxy): the images in ../shared/data. The style images are split in
two: `HELD_OUT_STYLES` are never shown to the arbitrary model; it trains on the others.
An N-style model (`training.train`) trains on the held-out styles themselves, with the
same steps, batch, crop size, width and learning rate. Both are measured with the same
loss network on the same centre crops of every content photo:

- arbitrary, held-out styles: the style loss of the arbitrary model given each
  held-out style image (a style it has not seen);
- N-style, its own styles: the style loss of the N-style model on the styles it
  was trained on (the best case a per-style table has);
- arbitrary, training styles: the arbitrary model on the styles it trained on;
- photo unchanged: the style loss of the content photo itself (what no stylization
  scores), for scale.

Without internet, the VGG loss network and the style encoder have seeded RANDOM weights
(--vgg-weights/--encoder-weights imagenet on a machine that can download them), so the
numbers are a relative proxy only: they compare the models under one fixed measure, not
the quality a person would see.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

from benchmarks import preamble  # noqa: E402
from style_transfer.base import images  # noqa: E402
from style_transfer.models import arbitrary  # noqa: E402
from style_transfer.painting import arbitrary_styles
from style_transfer.training import (
    arbitrary as arbitrary_training,
)  # noqa: E402
from style_transfer.training import (
    multi_style as training,
)
from style_transfer.training.config import ArbitraryConfig, LossConfig, TrainConfig  # noqa: E402
from style_transfer.training.losses import PerceptualLoss  # noqa: E402

HELD_OUT_STYLES = ("the_scream.jpg", "udnie.jpg", "wave.jpg")

FULL = {"image_size": 64, "style_size": 64, "batch_size": 4, "steps": 100, "alpha": 0.25}
QUICK = {"image_size": 32, "style_size": 32, "batch_size": 2, "steps": 6, "alpha": 0.25}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and steps")
    preamble.add_data_dir_argument(parser)
    parser.add_argument("--steps", type=int, default=None, help="training steps of each model")
    parser.add_argument("--vgg-weights", default="random")
    parser.add_argument("--encoder-weights", default="random")
    args = parser.parse_args(argv)
    setup = dict(QUICK if args.quick else FULL)
    if args.steps:
        setup["steps"] = args.steps
    content_dir, styles_dir = preamble.data_folders(parser, args)
    loss_config = LossConfig(vgg_weights=args.vgg_weights, style_size=setup["style_size"])

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        train_styles, held_out = _split_styles(styles_dir, work)
        common = {key: setup[key] for key in ("image_size", "batch_size", "steps", "alpha")}
        common.update(content_dir=content_dir, loss=loss_config,
                      checkpoint_every=setup["steps"])
        start = time.perf_counter()
        arbitrary_model = arbitrary_training.train_arbitrary(
            ArbitraryConfig(style_dir=train_styles, encoder_weights=args.encoder_weights,
                            **common),
            work / "arbitrary", progress=False)
        arbitrary_s = time.perf_counter() - start
        start = time.perf_counter()
        n_style_model = training.train(
            TrainConfig(style_images=held_out, sample_every=0, **common), work / "n_style",
            progress=False)
        n_style_s = time.perf_counter() - start

        loss = PerceptualLoss(config=loss_config)
        photos = _centre_crops(content_dir, setup["image_size"])
        held_out_images = [arbitrary_styles.load_style_image(path, setup["style_size"])
                           for path in held_out]
        train_images = [arbitrary_styles.load_style_image(path, setup["style_size"])
                        for path in sorted(train_styles.iterdir())]
        rows = [
            ("arbitrary, held-out styles (never seen)",
             _style_loss(loss, photos, held_out_images,
                         lambda index, batch: _arbitrary(arbitrary_model, batch,
                                                         held_out_images[index]))),
            ("N-style, its own styles",
             _style_loss(loss, photos, held_out_images,
                         lambda index, batch: np.asarray(
                             n_style_model(batch, np.full(len(batch), index, "int32"))))),
            ("arbitrary, its training styles",
             _style_loss(loss, photos, train_images,
                         lambda index, batch: _arbitrary(arbitrary_model, batch,
                                                         train_images[index]))),
            ("photo unchanged",
             _style_loss(loss, photos, held_out_images, lambda index, batch: batch)),
        ]

    print(f"set-up: {len(photos)} content photos, {len(train_images)} training styles, "
          f"{len(held_out_images)} held-out styles; {setup['steps']} steps of batch "
          f"{setup['batch_size']} at {setup['image_size']} px, alpha {setup['alpha']}, "
          f"VGG weights {args.vgg_weights}, encoder mobilenet_v2 weights {args.encoder_weights}; "
          f"training took {arbitrary_s:.0f} s (arbitrary) and {n_style_s:.0f} s (N-style)")
    print("| model, styles | style loss (mean) | relative to photo unchanged |")
    print("| --- | --- | --- |")
    reference = rows[-1][1]
    for name, value in rows:
        print(f"| {name} | {value:.4g} | {value / reference:.2f} |")
    return 0


def _split_styles(style_dir, work):
    """A folder of the training styles (links), and the held-out style paths."""
    paths = images.find_images(style_dir)
    held_out = [path for path in paths if path.name in HELD_OUT_STYLES]
    train_dir = work / "train_styles"
    train_dir.mkdir()
    for path in paths:
        if path.name not in HELD_OUT_STYLES:
            (train_dir / path.name).symlink_to(path)
    return train_dir, held_out


def _centre_crops(content_dir, size):
    return np.stack([images.center_square(images.load_image(path, shorter_side=size), size)
                     for path in images.find_images(content_dir)])


def _arbitrary(model, photos, style_image):
    embedding = arbitrary.style_embeddings(model, [style_image])
    return np.asarray(model.transformer(photos, np.repeat(embedding, len(photos), axis=0)))


def _style_loss(loss, photos, style_images, stylize):
    """Mean style loss over every (photo, style) pair; `stylize(style index, photos)`."""
    values = []
    for index, style in enumerate(style_images):
        stylized = stylize(index, photos)
        styles = np.repeat(style[None], len(photos), axis=0)
        values.append(np.asarray(loss(photos, stylized, styles)["style"]))
    return float(np.mean(values))


if __name__ == "__main__":
    sys.exit(main())
