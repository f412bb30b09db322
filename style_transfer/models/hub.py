"""TensorFlow Hub models inside Keras 3 models (`HubModule`); loading hub handles, clear errors.

`hub.KerasLayer` is a Keras 2 (tf_keras) layer and cannot be placed in a Keras 3
model (tensorflow/hub#903, tensorflow/tensorflow#63849). `HubModule` is the Keras 3
replacement this package uses for its style encoders; it is useful on its own: any
TF2 SavedModel from TF Hub / Kaggle Models (or a local folder) becomes a Keras 3
layer that trains, freezes and saves with the model around it.

Loading goes through `tensorflow_hub` (`hub.resolve` / `hub.load`), so handles are
URLs (downloaded once into the hub cache, `TFHUB_CACHE_DIR`) or local SavedModel
folders, which work without internet.
"""

import inspect
import os
import sys
import types

import keras
import tensorflow as tf
from keras.src.saving import serialization_lib

from style_transfer.base.downloads import download_failure
from style_transfer.base.errors import BadInput, first_line
from style_transfer.base.extras import import_extra

_URL_PREFIXES = ("http://", "https://", "gs://")


def import_tensorflow_hub():
    """Imports `tensorflow_hub` (the `hub` extra), also where setuptools no longer ships
    `pkg_resources`.

    tensorflow_hub 0.16.1 (the latest release) checks the TensorFlow version with
    `pkg_resources.parse_version` when it is imported, and setuptools 82 removed
    `pkg_resources` (tensorflow/hub#934). `packaging` (a TensorFlow dependency)
    has the same function; it stands in for the duration of the import only.
    """
    try:
        return import_extra("tensorflow_hub", "hub", "a TF Hub model")
    except ModuleNotFoundError as error:
        if error.name != "pkg_resources":
            raise
    from packaging.version import parse

    shim = types.ModuleType("pkg_resources")
    shim.parse_version = parse
    sys.modules["pkg_resources"] = shim
    try:
        return import_extra("tensorflow_hub", "hub", "a TF Hub model")
    finally:
        if sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]


def is_local_handle(handle):
    """Whether `handle` names a local folder rather than a URL."""
    return not str(handle).startswith(_URL_PREFIXES)


def resolve_handle(handle):
    """The local SavedModel folder of a hub handle (downloading a URL into the hub cache).

    Args:
        handle: A TF Hub / Kaggle Models URL, or the path of a local SavedModel folder.

    Returns:
        The path of the folder that holds `saved_model.pb`.

    Raises:
        BadInput: a local path that is not a SavedModel folder, or a URL that
            cannot be fetched (no internet and not in the hub cache). The message
            says how to pass a local folder instead.
    """
    handle = str(handle)
    if is_local_handle(handle):
        path = os.path.abspath(os.path.expanduser(handle))
        if not os.path.isdir(path):
            raise BadInput(
                f"TF Hub handle {handle!r} is neither a URL nor an existing folder; pass a "
                f"https://tfhub.dev/... or https://www.kaggle.com/models/... URL, or the path "
                f"of a local SavedModel folder (one holding saved_model.pb)."
            )
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise BadInput(
                f"TF Hub folder {handle!r} holds no saved_model.pb; pass the folder of a "
                f"TF2 SavedModel (a downloaded and unpacked hub model)."
            )
        return path
    hub = import_tensorflow_hub()
    try:
        return hub.resolve(handle)
    except Exception as error:  # urllib, HTTP and file errors of many types.
        raise BadInput(
            f"could not fetch TF Hub model {handle!r} ({download_failure(error)}); without "
            f"internet, download and unpack it on a machine that has internet (or copy its "
            f"TFHUB_CACHE_DIR cache) and pass the local folder instead of the URL."
        ) from None


def load_hub_model(handle):
    """`hub.load` of a handle (URL or local folder), with one-line `BadInput` errors."""
    path = resolve_handle(handle)
    hub = import_tensorflow_hub()
    try:
        return hub.load(path)
    except Exception as error:  # TensorFlow raises many types for a damaged SavedModel.
        raise BadInput(
            f"could not load TF Hub model {handle!r} from {path} ({type(error).__name__}: "
            f"{first_line(error)})."
        ) from None


@keras.saving.register_keras_serializable(package="style_transfer")
class HubModule(keras.layers.Layer):
    """A TF Hub model (a TF2 SavedModel) as a Keras 3 layer: trains, freezes, saves.

    Calls the loaded model's `__call__` on the inputs. Its `tf.Variable`s become
    the layer's weights (wrapped, not copied: `keras.Variable(initializer=v)`
    on the TensorFlow backend holds the very same `tf.Variable` that the hub
    model's graph reads), so an optimizer step on the layer changes what the
    hub model computes, `trainable=False` freezes it, and Keras saves and
    restores the values with the rest of the model.

    Saving: a `.keras` file holds configs and weights, not TensorFlow graphs, so
    the config stores the `handle` and loading re-resolves it (from the hub
    cache or the local folder) to rebuild the graph; Keras then restores the
    variable values from the file, so fine-tuned values survive the round trip.
    Like `keras.layers.TFSMLayer`, deserializing runs an external SavedModel's
    graph, so Keras's safe mode refuses it unless you pass `safe_mode=False`
    (or call `keras.config.enable_unsafe_deserialization()`).

    Needs the TensorFlow backend.

    Args:
        handle: A TF Hub / Kaggle Models URL, or the path of a local SavedModel
            folder (stored as an absolute path).
        trainable: Whether the hub model's trainable variables are trained.
        output_key: For a model that returns a dict, the key of the output.

    Call arguments:
        inputs: What the hub model takes, e.g. images (batch, H, W, 3) in [0, 1]
            for image feature-vector models.
        training: Passed on to hub models whose `__call__` takes it, and only
            when the layer is trainable (as `hub.KerasLayer` does), so that a
            frozen model keeps its batch normalization in inference mode.

    Reference: Keras's `TFSMLayer`
    (keras/src/export/tfsm_layer.py), which wraps SavedModel endpoints the same way.
    """

    def __init__(self, handle, trainable=False, output_key=None, **kwargs):
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                f"HubModule needs the TensorFlow backend; the backend is "
                f"{keras.backend.backend()!r} (set KERAS_BACKEND=tensorflow)."
            )
        super().__init__(trainable=trainable, **kwargs)
        if is_local_handle(handle):
            handle = os.path.abspath(os.path.expanduser(handle))
        self.handle = handle
        self.output_key = output_key
        # The graph cannot be built from shapes: it is what the handle holds, so it is
        # loaded here (as TFSMLayer does) and the layer is built from the start.
        self._hub_model = load_hub_model(self.handle)
        self._takes_training = _takes_training_argument(self._hub_model)
        trainable, non_trainable = _hub_variables(self._hub_model)
        for variable, is_trainable in [(v, True) for v in trainable] + [
                (v, False) for v in non_trainable]:
            self._track_variable(keras.Variable(
                initializer=variable,
                trainable=is_trainable,
                dtype=variable.dtype,
                shape=variable.shape,
                # Keras variable names cannot contain slashes.
                name=variable.name.split(":")[0].replace("/", "_"),
            ))
        self.built = True

    def call(self, inputs, training=None):
        if self._takes_training:
            outputs = self._hub_model(inputs, training=bool(training) and self.trainable)
        else:
            outputs = self._hub_model(inputs)
        if self.output_key is not None:
            if not isinstance(outputs, dict) or self.output_key not in outputs:
                keys = sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__
                raise ValueError(
                    f"output_key {self.output_key!r} is not an output of {self.handle}; "
                    f"its outputs are {keys}."
                )
            outputs = outputs[self.output_key]
        return outputs

    def compute_output_spec(self, inputs, training=None):
        # The hub graph only runs on real tensors: trace it once on a symbolic input.
        outputs = tf.function(self.call).get_concrete_function(
            tf.TensorSpec(inputs.shape, inputs.dtype)
        ).structured_outputs
        return tf.nest.map_structure(
            lambda tensor: keras.KerasTensor(tensor.shape, tensor.dtype.name), outputs
        )

    def get_config(self):
        return {**super().get_config(), "handle": self.handle, "output_key": self.output_key}

    @classmethod
    def from_config(cls, config):
        # Keras exports no public accessor of the safe mode of the load in progress.
        if serialization_lib.in_safe_mode() is not False:
            raise ValueError(
                f"loading a HubModule runs the TF Hub model {config.get('handle')!r}; Keras's "
                f"safe mode refuses that. If you trust the file, pass safe_mode=False to "
                f"keras.saving.load_model (or call keras.config.enable_unsafe_deserialization())."
            )
        return cls(**config)


def _hub_variables(hub_model):
    """(trainable, non-trainable) tf.Variables of a loaded hub model, each in a fixed order.

    Hub models follow the Reusable SavedModel API, which lists them in `variables`
    and `trainable_variables`; for other SavedModels, the variables that the
    traced `__call__` functions read.
    """
    if hasattr(hub_model, "variables"):
        candidates = list(hub_model.variables)
        trainable = _unique(getattr(hub_model, "trainable_variables", []))
    else:
        functions = getattr(getattr(hub_model, "__call__", None), "concrete_functions", [])
        candidates = [v for function in functions for v in function.variables]
        trainable = _unique(v for function in functions for v in function.trainable_variables)
    trainable_ids = {id(variable) for variable in trainable}
    return trainable, _unique(v for v in candidates if id(v) not in trainable_ids)


def _unique(variables):
    seen, unique = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            unique.append(variable)
    return unique


def _takes_training_argument(hub_model):
    """Whether the hub model's `__call__` takes `training` (as `hub.KerasLayer` checks it)."""
    call = getattr(hub_model, "__call__", None)
    if call is None:
        return False
    try:
        return "training" in inspect.signature(call).parameters
    except (TypeError, ValueError):  # A callable without an inspectable signature.
        return False
