"""Training an arbitrary-style model (Ghiasi et al. 2017) over a folder of style images.

Each sample of a batch pairs a random crop of a content photo with a style image
drawn from the folder; the Gram targets come from the drawn style images on the
fly (`StyleImageLoss`), so the folder may be large. The run folder has the layout
of `style_transfer.training` and resumes exactly.
"""

import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf
from keras import ops

from style_transfer import images, training
from style_transfer.arbitrary import (
    DEFAULT_EMBEDDING_DIM, HUB_ENCODER, create_arbitrary_model, load_style_image,
)
from style_transfer.errors import BadInput
from style_transfer.losses import (
    LossConfig, build_loss_network, gram_matrix, preprocess_for_vgg, total_variation,
)
from style_transfer.model_file import save_model


class StyleImageLoss:
    """The perceptual losses of `losses.PerceptualLoss`, with the Gram targets of each
    sample computed from its own style image (batch, S, S, 3) in the same VGG pass
    budget: one pass over photos and stylizations, one over the style images.

    Call arguments:
        content_images, stylized_images: (batch, H, W, 3) in [0, 1].
        style_images: (batch, S, S, 3) in [0, 1], the style of each sample.

    Returns:
        A dict of per-sample losses (batch,): `"total"`, `"content"`, `"style"`, `"tv"`.
    """

    def __init__(self, config=LossConfig()):
        self.config = config
        self.network = build_loss_network(config)

    def gram_targets(self, style_images):
        """{style layer: (batch, C, C)} Gram matrices of the style images' VGG features."""
        features = self.network(preprocess_for_vgg(style_images))
        return {name: gram_matrix(features[name], self.config.gram_divides_channels)
                for name in self.config.style_layers}

    def __call__(self, content_images, stylized_images, style_images):
        config = self.config
        batch = ops.shape(content_images)[0]
        targets = self.gram_targets(ops.stop_gradient(ops.cast(style_images, "float32")))
        both = ops.concatenate([stylized_images, ops.cast(content_images, "float32")], axis=0)
        features = self.network(preprocess_for_vgg(both))
        photo_content = ops.stop_gradient(features[config.content_layer][batch:])
        content = config.content_weight * ops.mean(
            ops.square(features[config.content_layer][:batch] - photo_content), axis=(1, 2, 3))
        style = ops.zeros_like(content)
        for name, weight in zip(config.style_layers, config.style_layer_weights):
            gram = gram_matrix(features[name][:batch], config.gram_divides_channels)
            style = style + weight * ops.mean(
                ops.square(gram - ops.stop_gradient(targets[name])), axis=(1, 2))
        if config.tv_weight > 0:
            tv = config.tv_weight * total_variation(stylized_images)
        else:
            tv = ops.zeros_like(content)
        return {"total": content + style + tv, "content": content, "style": style, "tv": tv}


def train_arbitrary(
    content_dir,
    style_dir,
    out_dir,
    *,
    image_size=256,
    batch_size=8,
    steps=40_000,
    learning_rate=1e-3,
    alpha=1.0,
    embedding_dim=DEFAULT_EMBEDDING_DIM,
    encoder="mobilenet_v2",
    encoder_weights="imagenet",
    hub_handle=None,
    train_encoder=False,
    loss_config=LossConfig(),
    checkpoint_every=500,
    seed=0,
    resume=False,
    progress=True,
):
    """Trains an `ArbitraryStyleModel` on a folder of style images; returns it.

    Each sample of each batch is a random crop of a content photo paired with a
    style image drawn uniformly from `style_dir` (a stateless draw from (seed,
    step), as in `training.train`). Style images are centre-cropped squares of
    `loss_config.style_size` pixels; the encoder sees them and the loss network
    computes their Gram targets on the fly. The run folder has the layout of
    `training.train` (run.json, checkpoint.npz written atomically, history.csv,
    TensorBoard logs/, model.keras at the end) and resumes exactly.

    Args:
        content_dir: Folder of content photos (searched recursively).
        style_dir: Folder of style images (searched recursively); the more, the
            better the model generalizes to styles it has not seen.
        out_dir: The run folder; new or empty unless `resume`.
        image_size: Side of the square content crops, pixels.
        batch_size: Samples per step (Magenta's arbitrary model: 8).
        steps: Total training steps.
        learning_rate: Adam's learning rate.
        alpha: Width multiplier of the style network.
        embedding_dim: Length of the style embedding.
        encoder, hub_handle, train_encoder: See `ArbitraryStyleModel`.
        encoder_weights: See `ArbitraryStyleModel.load_encoder_weights`.
        loss_config: A `LossConfig` (loss network, layers, weights, style size).
        checkpoint_every: Write a checkpoint every this many steps (and at the end).
        seed: Fixes the initial weights, the crops and the style draws.
        resume: Continue the run in `out_dir` from its last checkpoint (same
            settings; `steps` and `checkpoint_every` may change).
        progress: Show a progress bar with the losses and the time left.

    Raises:
        BadInput: a missing or empty folder, a bad value, an encoder that cannot
            be loaded, or an `out_dir` holding something else.
    """
    for name, value, minimum in (("image_size", image_size, training.MIN_IMAGE_SIZE_PX),
                                 ("batch_size", batch_size, 1), ("steps", steps, 1),
                                 ("checkpoint_every", checkpoint_every, 1),
                                 ("embedding_dim", embedding_dim, 1)):
        training.check_positive_integer(name, value, minimum)
    if not learning_rate > 0:
        raise BadInput(f"learning_rate must be positive; received {learning_rate!r}.")
    if not alpha > 0:
        raise BadInput(f"alpha must be positive; received {alpha!r}.")
    style_paths, style_pixels = load_style_folder(style_dir, loss_config.style_size)
    content_dir = Path(content_dir)
    settings = {
        "content_dir": str(content_dir.resolve()),
        "style_dir": str(Path(style_dir).resolve()),
        "style_sha256": [training.file_sha256(path) for path in style_paths],
        "image_size": image_size,
        "batch_size": batch_size,
        "learning_rate": float(learning_rate),
        "alpha": float(alpha),
        "embedding_dim": embedding_dim,
        "encoder": encoder,
        "encoder_weights": None if encoder == HUB_ENCODER else str(encoder_weights),
        "hub_handle": hub_handle,
        "train_encoder": bool(train_encoder),
        "seed": seed,
        "loss": loss_config.to_dict(),
        "steps": steps,
        "checkpoint_every": checkpoint_every,
    }
    out_dir = Path(out_dir)
    training.check_run_dir(out_dir, settings, resume)
    checkpoint = training.read_checkpoint(out_dir) if resume else None
    start_step = checkpoint["step"] if checkpoint else 0
    if start_step > steps:
        raise BadInput(f"{out_dir} has already trained {start_step} steps; pass --steps "
                       f"{start_step} or more to resume it.")
    dataset = training.content_batches(content_dir, image_size, batch_size, seed, start_step)
    loss = StyleImageLoss(loss_config)
    training_config = {key: settings[key] for key in (
        "image_size", "batch_size", "steps", "learning_rate", "encoder_weights", "seed", "loss")}
    training_config["num_style_images"] = len(style_paths)
    model = create_arbitrary_model(
        encoder=encoder, encoder_weights=encoder_weights, hub_handle=hub_handle,
        train_encoder=train_encoder, embedding_dim=embedding_dim, alpha=alpha,
        style_image_size=loss_config.style_size, seed=seed, training_config=training_config,
    )
    optimizer = training.start_run(out_dir, model, learning_rate, settings, checkpoint)
    train_step = _ArbitraryTrainer(model, optimizer, loss)
    # uint8 keeps a large style folder small in memory: 192 KiB per 256 px style.
    style_pixels = tf.constant(style_pixels)
    history = training.History(out_dir / training.HISTORY_FILE, [], start_step)
    # Per style image columns would not scale to a large folder: batch means only.
    log_writer = tf.summary.create_file_writer(str(out_dir / training.LOG_DIR))
    batches = iter(dataset)

    def log(step, style_ids, losses, recent_means):
        if step % training.LOG_EVERY_STEPS == 0:
            with log_writer.as_default(step=step):
                for part, value in zip(training.LOSS_PARTS, recent_means):
                    training.write_scalar(f"loss/{part}", value)

    step = training.run_steps(
        lambda style_ids: train_step(next(batches), tf.gather(style_pixels, style_ids)),
        model=model, optimizer=optimizer, run_dir=out_dir, history=history,
        start_step=start_step, steps=steps, seed=seed, batch_size=batch_size,
        num_styles=len(style_pixels), checkpoint_every=checkpoint_every,
        progress=progress, on_step=log, on_close=lambda step: log_writer.close(),
    )

    model.training_config["steps"] = step
    save_model(model, out_dir / training.MODEL_FILE)
    return model


class _ArbitraryTrainer:
    """The compiled training step: embed the style images, stylize, measure, update.

    Call arguments:
        content_images: Photos (batch, S, S, 3) float32 in [0, 1].
        style_images: The style of each sample (batch, S', S', 3) uint8.

    Returns:
        The per-sample losses, a dict of (batch,) tensors.
    """

    def __init__(self, model, optimizer, loss):
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self._step = tf.function(self._train_step)

    def __call__(self, content_images, style_images):
        return self._step(content_images, style_images)

    def _train_step(self, content_images, style_images):
        style_images = tf.cast(style_images, tf.float32) / 255.0
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            stylized = self.model(content_images, style_images, training=True)
            losses = self.loss(content_images, stylized, style_images)
            mean_loss = tf.reduce_mean(losses["total"])
        self.optimizer.apply(tape.gradient(mean_loss, variables), variables)
        return losses


def load_style_folder(folder, size):
    """Every readable image under `folder` as a centred square of `size` px.

    Returns:
        (paths, uint8 array (num_styles, size, size, 3)); unreadable files are
        left out with a warning.

    Raises:
        BadInput: the folder is missing or holds no readable image.
    """
    paths, squares, unreadable = [], [], []
    for path in images.find_images(folder):
        try:
            squares.append(load_style_image(path, size))
            paths.append(path)
        except images.ImageReadError:
            unreadable.append(path.name)
    if unreadable:
        warnings.warn(f"left out {len(unreadable)} unreadable style images: "
                      f"{', '.join(unreadable[:5])}", stacklevel=2)
    if not paths:
        raise BadInput(f"style folder {str(folder)!r} holds no readable image.")
    return paths, np.round(np.stack(squares) * 255.0).astype(np.uint8)
