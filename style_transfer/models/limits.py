"""What a model may be: the bounds of every size a model file can set, defined once.

A model file may come from anyone, and the numbers in its config decide how much
memory Keras allocates before a single weight is read; training accepts the same
bounds, so that every model it writes can be loaded again. Light: no TensorFlow,
no Keras.
"""

import math

from style_transfer.base.errors import BadInput

# Bounds of the numbers in a config that size the network (and the memory Keras
# allocates for it before any weight is read).
MAX_STYLES = 10_000
MAX_ALPHA = 4.0
MAX_EMBEDDING_DIM = 10_000
MAX_STYLE_IMAGE_PX = 4096
# The layer-width presets of `network.ARCHITECTURES`.
ARCHITECTURES = ("magenta", "android-slim")
# Style encoders of the arbitrary-style model: keras.applications backbones, or a TF Hub model.
APPLICATION_ENCODERS = ("mobilenet_v2", "inception_v3")
HUB_ENCODER = "hub"


def check_network_size(config, path):
    """Refuses a config whose numbers would make Keras allocate more than any model needs."""
    bounds = {"num_styles": (1, MAX_STYLES), "alpha": (1e-3, MAX_ALPHA),
              "embedding_dim": (1, MAX_EMBEDDING_DIM),
              "style_image_size": (1, MAX_STYLE_IMAGE_PX)}
    for field, (low, high) in bounds.items():
        value = config.get(field)
        if value is None:
            continue
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or not low <= value <= high):
            raise BadInput(f"{path} is damaged: its config gives {field}={value!r} (expected "
                           f"{low:g} to {high:g}).")
