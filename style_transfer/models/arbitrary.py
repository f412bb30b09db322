"""Arbitrary styles (Ghiasi et al. 2017): any style image -> a style embedding -> every gamma/beta.

    style image (S x S, [0, 1]) -> encoder: an ImageNet backbone (keras.applications)
        or a TF Hub image feature-vector model -> mean-pooled features
      -> bottleneck Dense (100): the style embedding e
    photo (B, H, W, 3) -> StyleTransferNetwork(embedding_dim=100) whose every conditional
        instance norm predicts gamma/beta with a linear head from e -> stylized photo

One Keras model, `ArbitraryStyleModel`, holds the three parts and saves as one `.keras`
file. `train_arbitrary` trains it over a folder of style images (each sample of a
batch draws its own style; the Gram targets come from the drawn style images on the
fly, so the folder may be large). The stylize API conditions the network on a style
image, on a blend of several (a convex combination of their embeddings), and at a
strength s: e = s e_style + (1 - s) e_photo, where e_photo is the photo's own
embedding (s = 0 is the network's rendering of the photo in its own "style").
`magenta_hub_stylize` runs Magenta's published TF Hub model for comparison.

Reference: Ghiasi et al., "Exploring the structure of a real-time, arbitrary neural
artistic stylization network", BMVC 2017, https://arxiv.org/abs/1705.06830.
"""

import contextlib
import contextvars
import warnings
from pathlib import Path

import keras
import numpy as np
from keras import ops

import cbn
from style_transfer.base import images
from style_transfer.base.downloads import download_failure
from style_transfer.base.errors import BadInput, RandomWeightsWarning
from style_transfer.base.files import not_a_regular_file
from style_transfer.base.settings import check_seed
from style_transfer.models import limits
from style_transfer.models.hub import HubModule
from style_transfer.models.limits import HUB_ENCODER
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.models.saving import read_model_config

DEFAULT_EMBEDDING_DIM = 100

# keras.applications backbones: (constructor, the layer whose output is mean-pooled,
# smallest input side). Ghiasi et al. cut InceptionV3 at Mixed_6e, Keras's "mixed7".
ENCODERS = {
    "mobilenet_v2": (keras.applications.MobileNetV2, "out_relu", 32),
    "inception_v3": (keras.applications.InceptionV3, "mixed7", 75),
}

RANDOM_ENCODER_WARNING = (
    "the style encoder has RANDOM weights (encoder_weights='random'): it trains and runs, "
    "but its embeddings do not describe styles the way ImageNet features do; use it for "
    "tests and smoke runs only."
)

# The TF Hub encoder the caller of `loading.load_model` trusts (None: none).
_trusted_hub_encoder = contextvars.ContextVar("trusted_hub_encoder", default=None)


@contextlib.contextmanager
def trusted_hub_encoder(path, hub_encoder):
    """Models of the `.keras` file `path` built in this block run `hub_encoder` (a TF Hub
    handle the caller trusts, or None) as their style encoder, if they have a hub encoder.

    Raises:
        BadInput: a hub encoder is given but the file's model has none.
    """
    encoder = read_model_config(path)["config"].get("encoder")
    if hub_encoder is not None and encoder != HUB_ENCODER:
        raise BadInput(f"`hub_encoder` applies to a model trained with a TF Hub encoder; the "
                       f"encoder of {path} is {encoder!r}.")
    token = _trusted_hub_encoder.set(hub_encoder)
    try:
        yield
    finally:
        _trusted_hub_encoder.reset(token)


@keras.saving.register_keras_serializable(package="style_transfer")
class ArbitraryStyleModel(keras.Model):
    """Stylizes photos with any style image: style encoder, bottleneck, style network.

    The constructor builds the architecture; a keras.applications encoder starts
    from random weights and `load_encoder_weights` fills it (ImageNet, seeded
    random or a file); `create_arbitrary_model` does both. A TF Hub encoder
    comes with the hub model's weights (see `HubModule`).

    Args:
        encoder: `"mobilenet_v2"` (default: 2.2M weights, fast), `"inception_v3"`
            (Ghiasi et al.'s choice, cut at Mixed_6e), or `"hub"` for a TF Hub
            image feature-vector model given by `hub_handle`.
        hub_handle: With `encoder="hub"`: a TF Hub URL or a local SavedModel
            folder of a model mapping images (batch, S, S, 3) in [0, 1] to
            feature vectors (batch, F).
        train_encoder: Whether training also fine-tunes the encoder (its batch
            normalization then runs in training mode); otherwise it is frozen.
        embedding_dim: Length of the style embedding (Ghiasi et al.: 100).
        alpha: Width multiplier of the style network.
        style_image_size: Side, in pixels, of the square style images the encoder
            sees (others are resized to it; Magenta: 256).
        training_config: JSON-serializable record of how the model was trained.

    Call arguments:
        content_images: Photos (batch, H, W, 3) in [0, 1].
        style_images: Square style images (batch, S, S, 3) in [0, 1], one per photo.

    Returns:
        Stylized images (batch, H, W, 3) in [0, 1], float32.

    Reference: [Ghiasi et al., 2017](https://arxiv.org/abs/1705.06830).
    """

    def __init__(self, encoder="mobilenet_v2", hub_handle=None, train_encoder=False,
                 embedding_dim=DEFAULT_EMBEDDING_DIM, alpha=1.0, style_image_size=256,
                 training_config=None, **kwargs):
        super().__init__(**kwargs)
        if encoder == HUB_ENCODER:
            if not hub_handle:
                raise BadInput("encoder 'hub' needs a hub_handle (a TF Hub URL or a local "
                               "SavedModel folder).")
        elif encoder in ENCODERS:
            if hub_handle is not None:
                raise BadInput(f"hub_handle is only used with encoder 'hub'; received "
                               f"encoder={encoder!r} and hub_handle={hub_handle!r}.")
            minimum = ENCODERS[encoder][2]
            if style_image_size < minimum:
                raise BadInput(f"{encoder} needs style images of at least {minimum} px; "
                               f"received style_image_size={style_image_size}.")
        else:
            raise BadInput(f"encoder must be one of {sorted([*ENCODERS, HUB_ENCODER])}; "
                           f"received {encoder!r}.")
        self.encoder_name = encoder
        self.hub_handle = hub_handle
        self.train_encoder = bool(train_encoder)
        self.embedding_dim = embedding_dim
        self.alpha = float(alpha)
        self.style_image_size = int(style_image_size)
        self.training_config = dict(training_config or {})
        if encoder == HUB_ENCODER:
            self.encoder = HubModule(hub_handle, trainable=self.train_encoder, name="encoder")
        else:
            self.encoder = _application_encoder(encoder)
            self.encoder.trainable = self.train_encoder
        self.bottleneck = keras.layers.Dense(embedding_dim, name="bottleneck")
        self.transformer = StyleTransferNetwork(
            embedding_dim=embedding_dim, alpha=alpha, name="transformer"
        )

    def build(self, content_shape=None, style_shape=None):
        if self.encoder_name == HUB_ENCODER:  # Its output's width is known once it has run.
            size = self.style_image_size
            self.embed(ops.zeros((1, size, size, 3)))
        else:  # A Keras application: built, and its output's width is in its config.
            self.bottleneck.build((None, self.encoder.output_shape[-1]))
        self.transformer.build()
        self.built = True

    def embed(self, style_images, training=None):
        """Style embeddings (batch, embedding_dim) of square style images (batch, S, S, 3)."""
        style_images = ops.cast(ops.convert_to_tensor(style_images), "float32")
        size = self.style_image_size
        if tuple(style_images.shape[1:3]) != (size, size):
            style_images = ops.image.resize(style_images, (size, size), antialias=True)
        if self.encoder_name != HUB_ENCODER:
            style_images = style_images * 2.0 - 1.0  # Both backbones take [-1, 1].
        features = self.encoder(style_images, training=training)
        return self.bottleneck(ops.cast(features, "float32"))

    def call(self, content_images, style_images, training=None):
        return self.transformer(content_images, self.embed(style_images, training=training),
                                training=training)

    def load_encoder_weights(self, weights="imagenet", seed=0):
        """Fills a keras.applications encoder with `"imagenet"` weights (downloaded once
        and cached by Keras), seeded `"random"` weights (offline tests; warns), or the
        weights in a local file (the backbone's no-top .h5 or .weights.h5).

        Raises:
            BadInput: a hub encoder, a missing file, weights that cannot be
                downloaded (no internet), or a `seed` that is not an integer from 0
                to 2**31 - 1 (`MAX_SEED`).
        """
        seed = check_seed("seed", seed)
        if self.encoder_name == HUB_ENCODER:
            raise BadInput("a TF Hub encoder comes with its own weights; encoder_weights "
                           "applies to keras.applications encoders only.")
        if weights == "random":
            warnings.warn(RANDOM_ENCODER_WARNING, RandomWeightsWarning, stacklevel=2)
            _seed_kernels(self.encoder, seed)
            return
        constructor = ENCODERS[self.encoder_name][0]
        problem = weights != "imagenet" and not_a_regular_file(Path(weights).expanduser())
        if problem:
            raise BadInput(f"encoder weights file {weights!r}: {problem} (pass 'imagenet', "
                           f"'random' or the path of a weights file).")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input shape undefined: 224 px weights".
                pretrained = constructor(include_top=False, input_shape=(None, None, 3),
                                         weights=str(Path(weights).expanduser())
                                         if weights != "imagenet" else weights)
        except Exception as error:  # get_file and h5py raise many types.
            raise BadInput(
                f"could not load {self.encoder_name} weights {weights!r} "
                f"({download_failure(error)}); without internet pass "
                f"`encoder_weights` random (for trials) or the path of a local weights "
                f"file, or `hub_handle` with a local SavedModel folder."
            ) from None
        for layer in self.encoder.layers:
            if layer.weights:
                layer.set_weights(pretrained.get_layer(layer.name).get_weights())

    @classmethod
    def from_config(cls, config):
        limits.check_network_size(config)  # Before anything is built.
        if config.get("encoder") == HUB_ENCODER:
            handle = _trusted_hub_encoder.get()
            if handle is None:
                raise BadInput(
                    f"the model's style encoder is the TF Hub model "
                    f"{config.get('hub_handle')!r}, and running it runs its TensorFlow graph, "
                    f"so a model file cannot choose it: if you trust it, name it yourself "
                    f"(`style_transfer.load_model(path, hub_encoder=HANDLE)`, or --hub-encoder HANDLE)."
                )
            config = {**config, "hub_handle": handle}
        return cls(**config)

    def get_config(self):
        return {
            "name": self.name,
            "encoder": self.encoder_name,
            "hub_handle": self.hub_handle,
            "train_encoder": self.train_encoder,
            "embedding_dim": self.embedding_dim,
            "alpha": self.alpha,
            "style_image_size": self.style_image_size,
            "training_config": self.training_config,
        }


def _application_encoder(name):
    """The backbone up to its cut layer, mean-pooled: images in [-1, 1] -> (batch, F)."""
    constructor, cut_layer, _ = ENCODERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backbone = constructor(include_top=False, weights=None, input_shape=(None, None, 3))
    features = keras.layers.GlobalAveragePooling2D(name="mean_pool")(
        backbone.get_layer(cut_layer).output)
    return keras.Model(backbone.input, features, name="encoder")


def _seed_kernels(model, seed):
    """He-normal kernels from `seed` (biases and batch norm keep their constant init).

    The fan-in of a depthwise kernel (kh, kw, C, 1) is kh kw, not kh kw C: with the
    default Glorot scale the features of a random MobileNetV2 vanish (about 1e-12).
    """
    for index, variable in enumerate(model.weights):
        if len(variable.shape) < 2:
            continue
        shape = tuple(variable.shape)
        receptive = int(np.prod(shape[:-2]))
        fan_in = receptive if "depthwise" in variable.path else receptive * shape[-2]
        rng = np.random.default_rng(seed * 10_000 + index)
        variable.assign(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32))


def create_arbitrary_model(encoder="mobilenet_v2", encoder_weights="imagenet", hub_handle=None,
                           train_encoder=False, embedding_dim=DEFAULT_EMBEDDING_DIM, alpha=1.0,
                           style_image_size=256, seed=0, training_config=None):
    """A new, built `ArbitraryStyleModel` with its encoder's weights loaded.

    `seed` fixes the initial weights of the bottleneck and the style network (and
    of a `"random"` encoder). The style network's gamma/beta heads start at zero,
    so a new model ignores the style until it is trained. The model's name is
    fixed, not numbered as Keras numbers repeated names, because checkpoints key
    its variables by their paths, which start with it.

    Raises:
        BadInput: a `seed` that is not an integer from 0 to 2**31 - 1 (`MAX_SEED`).
    """
    seed = check_seed("seed", seed)
    keras.utils.set_random_seed(seed)
    model = ArbitraryStyleModel(
        encoder=encoder, hub_handle=hub_handle, train_encoder=train_encoder,
        embedding_dim=embedding_dim, alpha=alpha, style_image_size=style_image_size,
        training_config=training_config, name="arbitrary_style_model",
    )
    model.build()
    if encoder != HUB_ENCODER:
        model.load_encoder_weights(encoder_weights, seed)
    return model


# -------------------------------------------------------------------- stylizing


def style_embeddings(model, style_images):
    """Embeddings (n, embedding_dim) of style images: a list of (H, W, 3) arrays in [0, 1]."""
    squares = np.stack([images.center_square(image, model.style_image_size)
                        for image in style_images])
    return ops.convert_to_numpy(model.embed(squares))


def blend_embeddings(embeddings, blend_weights=None):
    """The convex combination sum_i w_i e_i of embeddings (n, D); equal weights by default.

    Raises:
        BadInput: not one weight per embedding, a negative weight, or weights
            whose sum is not 1 (within 1e-3; they are then normalized exactly).
    """
    embeddings = np.asarray(embeddings, np.float32)
    if blend_weights is None:
        return embeddings.mean(axis=0)
    weights = np.asarray(blend_weights, np.float64)
    if weights.shape != (len(embeddings),):
        raise BadInput(f"blend weights {list(blend_weights)} do not give one weight per style "
                       f"image ({len(embeddings)} images).")
    if not np.all(np.isfinite(weights)) or weights.min() < 0 or abs(weights.sum() - 1) > 1e-3:
        raise BadInput(f"blend weights must be >= 0 and sum to 1; received "
                       f"{list(blend_weights)} (sum {weights.sum():.4g}).")
    return (weights / weights.sum()).astype(np.float32) @ embeddings


def toward_photo_embedding(model, content_image, style_embedding, strength):
    """s e_style + (1 - s) e_photo for a style embedding (embedding_dim,) computed once."""
    if strength == 1.0:
        return style_embedding
    photo = style_embeddings(model, [content_image])[0]
    return strength * style_embedding + (1.0 - strength) * photo


def style_norm_parameters(model, embeddings):
    """The gamma and beta that every conditional instance norm of the style network
    predicts from style embeddings (batch, D): {layer path: (gamma, beta)}, each
    (batch, C)."""
    embeddings = ops.convert_to_tensor(np.asarray(embeddings, np.float32))
    return {
        layer.path: tuple(ops.convert_to_numpy(x) for x in layer.gamma_beta(embeddings))
        for layer in cbn.conditional_layers(model.transformer)
    }
