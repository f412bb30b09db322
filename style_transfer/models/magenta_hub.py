"""Magenta's published arbitrary-stylization model on TensorFlow Hub, for comparison.

`style-transfer stylize --engine magenta-hub` runs it through the same command as
this project's own models.
"""

import numpy as np
import tensorflow as tf

from style_transfer.base import images
from style_transfer.models.hub import load_hub_model

# tfhub.dev handles now redirect to Kaggle Models, and the redirect can fail
# (tensorflow/hub#932): the model's current Kaggle handle.
MAGENTA_HUB_HANDLE = ("https://www.kaggle.com/models/google/arbitrary-image-stylization-v1/"
                      "TensorFlow1/256/2")
# Magenta's model was trained on 256 px style images and recommends that size.
MAGENTA_STYLE_SIZE_PX = 256

_hub_models = {}


def magenta_hub_stylize(content_image, style_image, handle=MAGENTA_HUB_HANDLE):
    """Magenta's published arbitrary-stylization TF Hub model, for comparison.

    Runs `hub.load(handle)(content, style)[0]` with both images float32 in [0, 1]
    as batches of one, the style resized to 256 x 256 as Magenta recommends. The
    model's two stride-2 convolutions round odd sides up, so for sides that are
    not multiples of 4 it returns up to 3 px more; the output is cropped to the
    photo's size.

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
    content = np.asarray(content_image, np.float32)
    outputs = hub_model(tf.constant(content[None]), tf.constant(style[None]))
    height, width = content.shape[:2]
    return np.clip(np.asarray(outputs[0])[0, :height, :width], 0.0, 1.0)
