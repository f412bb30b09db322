"""Magenta's published arbitrary-stylization model on TensorFlow Hub, for comparison.

`style-transfer stylize --engine magenta-hub` runs it through the same command as
this project's own models.
"""

import numpy as np
import tensorflow as tf

from style_transfer import images
from style_transfer.hub import load_hub_model

MAGENTA_HUB_HANDLE = "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2"
# Magenta's model was trained on 256 px style images and recommends that size.
MAGENTA_STYLE_SIZE_PX = 256

_hub_models = {}


def magenta_hub_stylize(content_image, style_image, handle=MAGENTA_HUB_HANDLE):
    """Magenta's published arbitrary-stylization TF Hub model, for comparison.

    Runs `hub.load(handle)(content, style)[0]` with both images float32 in [0, 1]
    as batches of one, the style resized to 256 x 256 as Magenta recommends.

    Args:
        content_image: The photo (H, W, 3) in [0, 1].
        style_image: The style image (H, W, 3) in [0, 1].
        handle: The hub handle (URL, or a local folder of the downloaded model).

    Returns:
        The stylized photo (H, W, 3) float32 in [0, 1].
    """
    if handle not in _hub_models:
        _hub_models[handle] = load_hub_model(handle)
    hub_model = _hub_models[handle]
    style = images.center_square(style_image, MAGENTA_STYLE_SIZE_PX)
    outputs = hub_model(tf.constant(np.asarray(content_image, np.float32)[None]),
                        tf.constant(style[None]))
    return np.clip(np.asarray(outputs[0])[0], 0.0, 1.0)
