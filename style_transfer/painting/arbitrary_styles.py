"""Painting in the style of any image, with an arbitrary-style model (Ghiasi et al. 2017).

The network is conditioned on a style embedding: one style image's, a convex
blend of several, moved toward the photo's own embedding by a strength s:
e = s e_style + (1 - s) e_photo (s = 0 is the network's rendering of the photo in
its own "style").
"""

import numpy as np
from keras import ops

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.models.arbitrary import (
    blend_embeddings,
    style_embeddings,
    toward_photo_embedding,
)
from style_transfer.painting import photo_options, tiling


def load_style_image(path, size):
    """A style image file as a centred square (size, size, 3) float32 in [0, 1]."""
    return images.center_square(images.load_image(path, shorter_side=size), size)


def conditioning_embedding(model, content_image, style_images, blend_weights=None, strength=1.0):
    """The embedding the network is conditioned on: s e_style + (1 - s) e_photo.

    Args:
        model: An `ArbitraryStyleModel`.
        content_image: The photo (H, W, 3) in [0, 1].
        style_images: One or more style images (H, W, 3) in [0, 1].
        blend_weights: Convex weights, one per style image (default: equal).
        strength: s in [0, 1]; 0 conditions on the photo's own embedding.

    Returns:
        The embedding (embedding_dim,).
    """
    if len(style_images) == 0:
        raise BadInput("at least one style image is needed.")
    strength = photo_options.check_strength(strength)
    style = blend_embeddings(style_embeddings(model, style_images), blend_weights)
    return toward_photo_embedding(model, content_image, style, strength)


def stylize_arbitrary(model, content_image, style_images, blend_weights=None, strength=1.0,
                      preserve_color=False):
    """Paints a photo in the style of one style image, or of a blend of several.

    Arguments as in `conditioning_embedding`; `preserve_color` keeps the
    photo's colours (`photo_options.preserve_color`).

    Returns:
        The stylized photo (H, W, 3) float32 in [0, 1].
    """
    embedding = conditioning_embedding(model, content_image, style_images, blend_weights,
                                       strength)
    return paint_with_embedding(model, content_image, embedding, preserve_color)


def paint_with_embedding(model, content_image, embedding, preserve_color=False):
    """The style network conditioned on `embedding` (embedding_dim,), on one photo
    (layer by layer in tiles above `tiling.TILE_ABOVE_PIXELS`, as `stylize.run_network`)."""
    content = np.asarray(content_image, np.float32)
    photo_options.check_picture_size(*content.shape[:2])
    if content.shape[0] * content.shape[1] > tiling.TILE_ABOVE_PIXELS:
        painted = tiling.run_tiled(model.transformer, content, np.asarray(embedding, np.float32))
    else:
        painted = ops.convert_to_numpy(model.transformer(content[None], embedding[None]))[0]
    painted = photo_options.check_painted(painted)
    return photo_options.preserve_color(content, painted) if preserve_color else painted
