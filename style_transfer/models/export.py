"""Exporting a style model for serving: a TensorFlow SavedModel or a TFLite file.

The exported function takes the photo and the style weights, so blends work in
the exported model too (the inputs are named as in Magenta's TFLite models):

    input_image    float32 (batch, height, width, 3) in [0, 1]; batch 1 is
                   repeated to the batch of `style_weights`
    style_weights  float32 (batch, num_styles), convex (>= 0, sum 1); weights
                   that are not convex give NaN pixels rather than a wrong blend
    -> stylized_image  float32 (batch, height, width, 3) in [0, 1]

The SavedModel accepts any height and width (>= 8). TFLite needs a fixed
picture size (`image_size`, square, batch 1): its MirrorPad and instance-norm
kernels are converted for static shapes.
"""

from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.base.files import atomic_path, atomic_write, check_destination

FORMATS = ("savedmodel", "tflite")
SIGNATURE = "serving_default"
DEFAULT_TFLITE_IMAGE_SIZE = 256
MIN_IMAGE_SIZE = 8
# A TFLite file takes one picture size, fixed when it is written.
MAX_IMAGE_SIZE = 4096


def inference_function(model, image_size=None, batch_size=None, frozen=False):
    """A `tf.function(input_image, style_weights) -> {"stylized_image": ...}` over `model`.

    Args:
        model: A `StyleTransferNetwork`.
        image_size: Fixed square side in pixels, or `None` for any height and width.
        batch_size: Fixed batch, or `None` for any.
        frozen: Capture the weights as constants instead of variables.
    """
    import tensorflow as tf

    if frozen:
        trainable = [tf.constant(variable.numpy()) for variable in model.trainable_variables]
        non_trainable = [tf.constant(variable.numpy()) for variable in model.non_trainable_variables]

        def network(images, weights):
            return model.stateless_call(trainable, non_trainable, images, weights)[0]
    else:
        network = model

    def serve(input_image, style_weights):
        batch = tf.maximum(tf.shape(input_image)[0], tf.shape(style_weights)[0])
        input_image = tf.tile(input_image, [batch // tf.shape(input_image)[0], 1, 1, 1])
        style_weights = tf.tile(style_weights, [batch // tf.shape(style_weights)[0], 1])
        return {"stylized_image": network(input_image, style_weights)}

    return tf.function(serve, input_signature=[
        tf.TensorSpec((batch_size, image_size, image_size, 3), tf.float32, name="input_image"),
        tf.TensorSpec((batch_size, model.num_styles), tf.float32, name="style_weights"),
    ])


def export_savedmodel(model, path, overwrite=False):
    """Writes a SavedModel folder with the `serving_default` signature described above.

    Also saves `style_names` (a string tensor) so that a server can show them.
    Written to a temporary folder beside `path`, then renamed (`files.atomic_path`).
    With `overwrite`, an existing folder is replaced only if it is empty or holds
    a SavedModel (an earlier export), never a folder of other files.
    """
    import tensorflow as tf

    path = Path(path)
    check_replaceable_export(path, overwrite)
    module = tf.Module()
    module.model = model
    module.serve = inference_function(model)
    module.style_names = tf.Variable(list(model.style_names), trainable=False, name="style_names")
    with atomic_path(path, overwrite=overwrite, folder=True) as temporary:
        tf.saved_model.save(module, str(temporary), signatures={SIGNATURE: module.serve})
    return path


def check_replaceable_export(path, overwrite):
    """Refuses a SavedModel destination that exists without `overwrite`, or that is a
    folder of something other than an earlier export."""
    path = Path(path)
    check_destination(path, overwrite, folder=True)
    if path.is_dir() and any(path.iterdir()) and not (path / "saved_model.pb").is_file():
        raise BadInput(f"{path} is a folder of other files, not an earlier export; `overwrite` "
                       f"replaces only a SavedModel folder: choose another `out`.")


def export_tflite(model, path, image_size=DEFAULT_TFLITE_IMAGE_SIZE, overwrite=False):
    """Writes a `.tflite` file for (1, image_size, image_size, 3) photos, float32."""
    import tensorflow as tf

    path = Path(path)
    if (not isinstance(image_size, int) or isinstance(image_size, bool)
            or not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE):
        raise BadInput(f"`image_size` must be an integer from {MIN_IMAGE_SIZE} to "
                       f"{MAX_IMAGE_SIZE}; received {image_size!r}.")
    check_destination(path, overwrite)
    # The converter leaves Keras 3 variables as uninitialized TFLite variables:
    # trace with the weights as constants instead (a stateless call).
    function = inference_function(model, image_size=image_size, batch_size=1, frozen=True)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], model
    )
    # The temporary file first: a folder that cannot be written fails before the conversion.
    with atomic_write(path, overwrite=overwrite) as file:
        file.write(converter.convert())
    return path
