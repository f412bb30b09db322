"""Editing a trained model's table of styles: remove or rename a style, copy chosen rows.

The other styles stay bit-identical: every shared weight and every kept row is
copied as it is (`rebuilt`). Adding a style trains new rows
(`style_transfer.training.add_style`), which ends in the same copy.
"""

import keras

import cbn
from style_transfer.base.errors import BadInput
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.models.style_names import check_style_name, style_index


def remove_style(model, name):
    """A copy of `model` without the style `name`: its row leaves every table.

    Every other row and every shared weight are copied bit for bit, so the
    remaining styles stylize exactly as before (their ids after `name` shift
    down by one).

    Args:
        model: A table-of-styles `StyleTransferNetwork`.
        name: The style's name or index.

    Raises:
        BadInput: an unknown style, or the model's only style.
    """
    check_table_model(model)
    index = style_index(name, model.style_names)
    name = model.style_names[index]
    if model.num_styles == 1:
        raise BadInput(f"cannot remove {name!r}: it is the model's only style.")
    kept = [row for row in range(model.num_styles) if row != index]
    training_config = dict(model.training_config)
    style_images = recorded_list(training_config, "style_images")
    if style_images is not None and len(style_images) == model.num_styles:
        training_config["style_images"] = [style_images[row] for row in kept]
    added_styles = recorded_list(training_config, "added_styles")
    if added_styles is not None:
        training_config["added_styles"] = [
            entry for entry in added_styles if _added_style_name(entry) != name
        ]
    training_config["removed_styles"] = [*training_config.get("removed_styles", []), name]
    return rebuilt(model, kept, [model.style_names[row] for row in kept], training_config)


def rename_style(model, name, new_name):
    """A copy of `model` in which the style `name` is called `new_name`; weights unchanged.

    Args:
        model: A table-of-styles `StyleTransferNetwork`.
        name: The style's name or index.
        new_name: Its new name (see `conditions.check_style_name`).

    Raises:
        BadInput: an unknown style, or a `new_name` that breaks the naming rules
            or is taken.
    """
    check_table_model(model)
    index = style_index(name, model.style_names)
    name = model.style_names[index]
    check_style_name(new_name)
    check_new_names(model, [new_name], "new_name")
    style_names = list(model.style_names)
    style_names[index] = new_name
    training_config = dict(model.training_config)
    added_styles = recorded_list(training_config, "added_styles")
    if added_styles is not None:
        training_config["added_styles"] = [
            {**entry, "name": new_name} if _added_style_name(entry) == name else entry
            for entry in added_styles
        ]
    return rebuilt(model, range(model.num_styles), style_names, training_config)


def recorded_list(training_config, key):
    """`training_config[key]` if it is a list, else None.

    A model file's record of its training is untrusted and only informs: an entry of
    another shape is neither read nor updated, and the model still loads and edits.
    """
    value = training_config.get(key)
    return list(value) if isinstance(value, list) else None


def _added_style_name(entry):
    """The style name an `added_styles` entry records (None for a malformed entry)."""
    return entry.get("name") if isinstance(entry, dict) else None


def check_table_model(model, path=None):
    if not isinstance(model, StyleTransferNetwork) or model.embedding_dim is not None:
        where = f"{path}" if path else "the model"
        raise BadInput(
            f"{where} is not a table-of-styles model (made by `style-transfer train`); "
            f"arbitrary-style models take any style image as it is."
        )


def check_new_names(model, names, setting="style_names"):
    """Refuses new style names the model has already (`setting`: the argument that gave them)."""
    taken = sorted(set(names) & set(model.style_names))
    if taken:
        raise BadInput(
            f"the model already has a style named {taken[0]!r} (its styles: "
            f"{', '.join(model.style_names)}); give the new style another name (`{setting}`)."
        )


def rebuilt(model, rows, style_names, training_config):
    """A fresh network whose table row i is `model`'s row `rows[i]`; every other weight
    copied bit for bit. The copy has no frozen layers or row masks."""
    rows = list(rows)
    copy = StyleTransferNetwork(
        len(rows), alpha=model.alpha, architecture=model.architecture,
        style_names=list(style_names), training_config=training_config,
        dtype=model.dtype_policy, name=model.name,
    )
    copy.build()
    tables = {id(variable) for layer in cbn.conditional_layers(model)
              for variable in (layer.gamma, layer.beta)}
    for source, target in zip(model.weights, copy.weights, strict=True):
        value = keras.ops.convert_to_numpy(source)
        if id(source) in tables:
            value = value[rows]
        if source.path != target.path or tuple(value.shape) != tuple(target.shape):
            raise ValueError(f"cannot copy weight {source.path} {value.shape} into "
                             f"{target.path} {tuple(target.shape)}.")
        target.assign(value)
    return copy
