"""What the application benchmarks share: the set-up a user gets, the data folder, results files.

A benchmark script starts with

    if __package__ in (None, ""):  # Run as a file: make `benchmarks` importable.
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import preamble  # noqa: E402  (first: before TensorFlow is imported)

Importing this module sets up what users of `style_transfer` get before any
TensorFlow op runs: the TensorFlow backend and its caching CPU allocator
(importing `style_transfer` sets both unless the environment already does), with
TensorFlow's C++ log lines below errors hidden. The layer benchmark, which
compares Keras backends as they come, does not import it.

The machine a figure was taken on is described by `benchmarks.machine`, which
every script prints with its tables.
"""

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import style_transfer  # noqa: E402,F401  (sets the backend and the allocator)
from style_transfer.base.files import atomic_write  # noqa: E402

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPOSITORY = BENCHMARKS_DIR.parent
RESULTS_DIR = BENCHMARKS_DIR / "results"
# The test images live beside the checkout, not in it (shared/data/content, .../styles).
DEFAULT_DATA_DIR = REPOSITORY.parent / "shared" / "data"


def add_data_dir_argument(parser):
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="folder of the test images, with content/ and styles/ "
                        "(default: %(default)s)")


def add_results_dir_argument(parser, what):
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        help=f"where {what} are written (default: %(default)s)")


def data_folders(parser, args):
    """(content folder, styles folder) of --data-dir; a parser error if either is missing."""
    folders = args.data_dir / "content", args.data_dir / "styles"
    for folder in folders:
        if not folder.is_dir():
            parser.error(f"--data-dir {args.data_dir} has no folder {folder.name}/ (the test "
                         f"images: content/ and styles/)")
    return folders


def results_folder(args):
    """--results-dir, created if missing."""
    args.results_dir.mkdir(parents=True, exist_ok=True)
    return args.results_dir


def write_json(path, value):
    """Writes `value` as indented JSON, atomically (`style_transfer.base.files.atomic_write`)."""
    with atomic_write(path, "w") as file:
        json.dump(value, file, indent=1, default=str)


def save_figure(figure, path, dpi=110):
    """Saves a matplotlib figure as a PNG file, atomically, and closes it."""
    import matplotlib.pyplot as plt

    with atomic_write(path) as file:
        figure.savefig(file, format="png", dpi=dpi)
    plt.close(figure)


def android_network(quick, num_styles=26):
    """The pretrained android-26 network, or (`quick`) an untrained network of its
    architecture with `num_styles` styles: smoke tests need neither the wheel nor its cost."""
    if quick:
        from style_transfer.models.network import StyleTransferNetwork

        model = StyleTransferNetwork(num_styles, architecture="android-slim")
        model.build()
        return model
    from style_transfer.models.loading import load_pretrained

    return load_pretrained("android-26")
