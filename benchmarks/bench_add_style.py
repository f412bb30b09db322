"""Adding a style to the pretrained android-26 network by training only its gamma/beta,
against a one-style network of the same architecture trained from scratch.

    python benchmarks/bench_add_style.py            # the proxy set-up (about 15 min of CPU time)
    python benchmarks/bench_add_style.py --quick    # tiny sizes and steps: a smoke test

Set-up (offline proxy): the images in ../shared/data; 64 px crops, batch 4, Adam
1e-3, seed 0, and a VGG-16 loss network with seeded RANDOM weights (`random_seed=0`;
no ImageNet weights without internet), its default layers with style weight 1e-3
per layer and style images at 64 px.

1. base: the pretrained android-26 network (`style_transfer.load_pretrained`): 26 real
   styles on real shared weights, the trunk of Dumoulin et al.'s experiment.
2. added: `NEW_STYLE` appended to it (`add_style.add_styles`), only its gamma/beta
   rows trained for S = `new_steps` steps, once per row initialization (`INITS`).
3. scratch: a one-style network of the same (android-slim) architecture trained from
   scratch on `NEW_STYLE` for 4 S steps, every weight trainable.

Reported: the training curves of the new style's style loss (history.csv, moving
average over `smooth` steps), the steps each run needs to come within 10% of the
from-scratch run's final style loss, and the style and content losses of every model on
the same centre crops of every content photo. The random loss network makes these a
relative proxy: one fixed measure to compare the ways of training, not the quality a
person would see.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

from benchmarks import preamble  # noqa: E402
from style_transfer.base import images  # noqa: E402
from style_transfer.models import pretrained  # noqa: E402
from style_transfer.models.loading import load_pretrained
from style_transfer.training import add_style  # noqa: E402
from style_transfer.training import multi_style as training
from style_transfer.training.config import AddStyleConfig, LossConfig, TrainConfig  # noqa: E402
from style_transfer.training.logs import read_history  # noqa: E402
from style_transfer.training.losses import PerceptualLoss  # noqa: E402

BASE = "android-26"
BASE_ARCHITECTURE = "android-slim"
NEW_STYLE = "the_scream.jpg"
INITS = ("nearest", "identity")
WITHIN = 0.10

FULL = {"image_size": 64, "style_size": 64, "batch_size": 4, "new_steps": 150, "smooth": 15}
QUICK = {"image_size": 32, "style_size": 32, "batch_size": 2, "new_steps": 2, "smooth": 1}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and steps")
    preamble.add_data_dir_argument(parser)
    preamble.add_results_dir_argument(parser, "add_style_curves.png and add_style.json")
    args = parser.parse_args(argv)
    setup = dict(QUICK if args.quick else FULL)
    content_dir, styles_dir = preamble.data_folders(parser, args)
    loss_config = LossConfig(vgg_weights="random", random_seed=0,
                             style_layer_weights=(1e-3,) * 4, style_size=setup["style_size"])
    common = {"content_dir": content_dir, "image_size": setup["image_size"],
              "batch_size": setup["batch_size"], "learning_rate": 1e-3, "seed": 0}
    new_steps = setup["new_steps"]
    print(f"set-up: {json.dumps(setup)}; base {BASE}; random VGG-16 (seed 0)", flush=True)

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        # A fresh conversion of the base, not a cached file from elsewhere.
        os.environ[pretrained.CACHE_ENVIRONMENT_VARIABLE] = str(work / "cache")
        base_path = pretrained.ensure_cached(BASE)
        base = load_pretrained(BASE)
        wall = {}
        runs, added = {}, {}
        for init in INITS:
            start = time.perf_counter()
            config = AddStyleConfig(
                model=base_path, style_images=[styles_dir / NEW_STYLE], steps=new_steps,
                init=init, checkpoint_every=new_steps, loss_overrides=loss_config.to_dict(),
                **common,
            )
            added[init] = add_style.add_styles(config, work / f"added_{init}.keras",
                                               progress=False)
            wall[f"added ({init})"] = time.perf_counter() - start
            runs[f"added ({init})"] = read_history(work / f"added_{init}.run")
            print(f"added ({init}): {new_steps} steps in {wall[f'added ({init})']:.0f} s",
                  flush=True)

        start = time.perf_counter()
        scratch = training.train(
            TrainConfig(style_images=[styles_dir / NEW_STYLE], steps=4 * new_steps,
                        checkpoint_every=4 * new_steps, architecture=BASE_ARCHITECTURE,
                        loss=loss_config, sample_every=0, **common),
            work / "scratch", progress=False)
        wall["scratch"] = time.perf_counter() - start
        runs["scratch"] = read_history(work / "scratch")
        print(f"scratch: {4 * new_steps} steps in {wall['scratch']:.0f} s", flush=True)

        evaluation = _evaluate(added, scratch, content_dir, styles_dir, loss_config,
                               setup["image_size"], new_row=base.num_styles)

    curves = {name: _smoothed(history["style"], setup["smooth"])
              for name, history in runs.items()}
    target = (1 + WITHIN) * curves["scratch"][-1]
    reach = {name: _first_step_at_or_below(curve, target) for name, curve in curves.items()}
    results = {"setup": setup, "base": BASE, "new_style": NEW_STYLE,
               "wall_s": wall, "scratch_final_style": float(curves["scratch"][-1]),
               "target_style": float(target), "steps_to_target": reach,
               "evaluation": evaluation}
    results_dir = preamble.results_folder(args)
    preamble.write_json(results_dir / "add_style.json", results)
    _plot(curves, target, setup, results_dir / "add_style_curves.png")
    _print_tables(results, new_steps)
    return 0


def _evaluate(added, scratch, content_dir, styles_dir, loss_config, image_size, new_row):
    """Mean style and content loss on centre crops of every content photo, per model."""
    photos = np.stack([
        images.center_square(images.load_image(path, max_size=4 * image_size), image_size)
        for path in sorted(content_dir.iterdir())
    ])
    loss = PerceptualLoss(
        [images.load_image(styles_dir / NEW_STYLE, max_size=2 * loss_config.style_size)],
        loss_config)

    def measure(model, model_style, loss_style):
        batch = len(photos)
        stylized = model(photos, np.full((batch,), model_style, "int32"))
        losses = loss(photos, stylized, np.full((batch,), loss_style, "int32"))
        return {f"{part}_loss": float(np.mean(losses[part])) for part in ("style", "content")}

    rows = [{"model": f"added ({init})", "style": NEW_STYLE, **measure(model, new_row, 0)}
            for init, model in added.items()]
    rows.append({"model": "scratch (one style)", "style": NEW_STYLE, **measure(scratch, 0, 0)})
    photo = loss(photos, photos, np.zeros((len(photos),), "int32"))
    rows.append({"model": "photo unchanged (for scale)", "style": NEW_STYLE,
                 "style_loss": float(np.mean(photo["style"])), "content_loss": 0.0})
    return rows


def _smoothed(values, window):
    """Trailing moving average (the first points average what there is)."""
    values = np.asarray(values, dtype=float)
    sums = np.cumsum(values)
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    shifted = np.concatenate([np.zeros(window), sums])[: len(values)]
    return (sums - shifted) / counts


def _first_step_at_or_below(curve, target):
    below = np.flatnonzero(curve <= target)
    return int(below[0]) + 1 if below.size else None


def _plot(curves, target, setup, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for name, curve in curves.items():
        axes.plot(np.arange(1, len(curve) + 1), curve, label=name)
    axes.axhline(target, color="grey", linestyle="--",
                 label=f"scratch final + {WITHIN:.0%}")
    axes.set_xlabel("training step")
    axes.set_ylabel(f"style loss of {NEW_STYLE} (moving avg, {setup['smooth']} steps)")
    axes.set_yscale("log")
    axes.set_title(f"New style on {BASE}: gamma/beta only ({setup['new_steps']} steps) vs "
                   f"from scratch ({4 * setup['new_steps']} steps)\n{setup['image_size']} px, "
                   f"android-slim architecture, random VGG-16 (seed 0)", fontsize=9)
    axes.legend(fontsize=8)
    figure.tight_layout()
    preamble.save_figure(figure, path, dpi=100)


def _print_tables(results, new_steps):
    print("\n| run | steps | wall s | steps to within 10% of scratch final |")
    print("| --- | ---: | ---: | ---: |")
    for name, reached in results["steps_to_target"].items():
        steps = 4 * new_steps if name == "scratch" else new_steps
        shown = reached if reached is not None else f"not in {steps}"
        print(f"| {name} | {steps} | {results['wall_s'][name]:.0f} | {shown} |")
    print("\n| model | style | style loss | content loss |")
    print("| --- | --- | ---: | ---: |")
    for row in results["evaluation"]:
        print(f"| {row['model']} | {row['style']} | {row['style_loss']:.4g} | "
              f"{row['content_loss']:.4g} |")


if __name__ == "__main__":
    sys.exit(main())
