"""Multi-style feed-forward style transfer (Dumoulin et al. 2017) on the `cbn` layers.

    import style_transfer

    model = style_transfer.load_model("android-26")       # or "styles.keras"
    painting = style_transfer.stylize(model, photo, "19")  # photo: (H, W, 3) in [0, 1]

    import keras
    model = keras.saving.load_model("styles.keras")       # Keras's own loader works too

The package is split by concern, each part importing only the ones below it:
`base` (errors, files, images, settings), `models` (the networks, loading,
saving, pretrained, export), `painting` (stylize, blends, video), `training`
(configs, data, losses, runs), and the applications on top (`cli`, `web`,
`demo`).

Importing it:
- selects the TensorFlow backend unless `KERAS_BACKEND` already names one (the
  application's input pipeline is `tf.data`);
- turns on TensorFlow's caching CPU allocator (`TF_CPU_ALLOCATOR_USE_BFC`)
  unless that variable is set: where TensorFlow's default allocator hands every
  large tensor back to the C library, each full-resolution op pays a page fault
  per 4 KiB; the cache keeps freed blocks for reuse. How much that saves depends
  on the host (BENCHMARKS.md, "Allocator"); it takes effect only if TensorFlow
  has not allocated anything yet, so import this package first;
- registers this package's Keras classes, so that `keras.saving.load_model`
  loads every model it saves, in safe mode, as Keras documents for custom
  models. The registration happens when Keras is imported (at once if it is
  already): importing this package imports neither Keras nor TensorFlow, so
  that the command line starts in a fraction of a second.
"""

import os

from style_transfer.base.import_hooks import on_import, then

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

# The public names and the modules that define them (imported on first use).
_PUBLIC = {
    "StyleTransferNetwork": "style_transfer.models.network",
    "ArbitraryStyleModel": "style_transfer.models.arbitrary",
    "load_model": "style_transfer.models.loading",
    "save_model": "style_transfer.models.saving",
    "load_pretrained": "style_transfer.models.loading",
    "stylize": "style_transfer.painting.stylize",
    "painter": "style_transfer.painting.stylize",
    "PaintConfig": "style_transfer.painting.config",
}
__all__ = list(_PUBLIC)


def _register_keras_classes():
    """Imports the modules that define (and register) the package's Keras classes."""
    import style_transfer.models.arbitrary  # noqa: F401  (and, through it, network and hub)


on_import("keras", then(_register_keras_classes))


def __getattr__(name):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'style_transfer' has no attribute {name!r}")
