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
  already), and imports none of the classes' modules until a file names one:
  importing this package imports neither Keras nor TensorFlow, so that the
  command line starts in a fraction of a second.
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


# The Keras classes of the package: their registered names and the modules that define them.
KERAS_CLASSES = {
    "style_transfer>StyleTransferNetwork": "style_transfer.models.network",
    "style_transfer>ConvBlock": "style_transfer.models.network",
    "style_transfer>ResidualBlock": "style_transfer.models.network",
    "style_transfer>UpsampleConvBlock": "style_transfer.models.network",
    "style_transfer>ArbitraryStyleModel": "style_transfer.models.arbitrary",
    "style_transfer>HubModule": "style_transfer.models.hub",
    "style_transfer>RandomStyle": "style_transfer.augment",
}


def _register_keras_classes():
    """Registers every Keras class of the package with Keras, without importing any of them.

    Each name stands for its class until the class's module is imported (which
    registers the class itself, over the stand-in): a file that names the class
    makes the stand-in import that module and hand the config to the class. So
    this runs safely in the middle of any import, Keras's own included.
    """
    import keras

    registered = keras.saving.get_custom_objects()
    for name, module in KERAS_CLASSES.items():
        registered.setdefault(name, _stand_in(name, module))


def _stand_in(registered_name, module):
    import importlib

    class_name = registered_name.partition(">")[2]

    class StandIn:
        @classmethod
        def from_config(cls, config):
            return getattr(importlib.import_module(module), class_name).from_config(config)

    StandIn.__name__ = StandIn.__qualname__ = class_name
    StandIn.__doc__ = f"Stands for {module}.{class_name} until that module is imported."
    return StandIn


on_import("keras", then(_register_keras_classes))


def __getattr__(name):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'style_transfer' has no attribute {name!r}")
