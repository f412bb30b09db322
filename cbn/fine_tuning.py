"""Model-level helpers: grow every condition table, and train only the conditional parameters."""

from cbn.conditional_batch_normalization import ConditionalBatchNormalization
from cbn.conditional_normalization import ConditionalNormalization


def conditional_layers(model):
    """Every `ConditionalNormalization` layer inside `model`, nested ones included."""
    return [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, ConditionalNormalization)
    ]


def append_conditions(model, count=1, init="identity"):
    """Appends `count` rows to the table of every table-mode conditional layer of `model`.

    Existing rows, and every other variable, are left bit-identical, so the
    model computes exactly what it did for the old conditions.

    Args:
        model: A built Keras model (or layer).
        count: Number of conditions to add.
        init: `"identity"`, `"mean"` or a row index to copy (see
            `ConditionalNormalization.append_conditions`).

    Returns:
        The ids of the new conditions.
    """
    tables = [layer for layer in conditional_layers(model) if layer.uses_table]
    if not tables:
        raise ValueError(
            f"append_conditions: model '{model.name}' has no table-mode conditional "
            f"normalization layer to grow."
        )
    sizes = sorted({layer.num_conditions for layer in tables})
    if len(sizes) != 1:
        raise ValueError(
            f"append_conditions: the conditional layers of model '{model.name}' have "
            f"different numbers of conditions {sizes}; grow them one by one with "
            f"layer.append_conditions()."
        )
    new_ids = None
    for layer in tables:
        new_ids = layer.append_conditions(count, init=init)
    return new_ids


def train_only_conditions(model, rows=None):
    """Makes only the conditional gamma/beta parameters of `model` trainable.

    Every other layer is frozen (`trainable = False`; frozen batch-norm layers
    run in inference mode), conditional batch-norm layers keep their moving
    statistics fixed, and, with `rows`, only those table rows receive
    gradients, so an optimizer step (Adam included) changes no other variable.
    MLP-mode layers train their MLP and gamma0/beta0.

    Build a new optimizer (or recompile) afterwards: optimizer state kept from
    earlier training would still move the rows it has momentum for.

    Args:
        model: A built Keras model.
        rows: `None` (all rows of every table) or the condition ids to train.
    """
    if not conditional_layers(model):
        raise ValueError(
            f"train_only_conditions: model '{model.name}' has no conditional "
            f"normalization layer."
        )
    _freeze_all_but_conditions(model, rows)


def _freeze_all_but_conditions(layer, rows):
    if isinstance(layer, ConditionalNormalization):
        layer.trainable = True
        if layer.uses_table:
            layer.trainable_rows = rows
        if isinstance(layer, ConditionalBatchNormalization):
            layer.freeze_statistics = True
        return
    if not conditional_layers_below(layer):
        layer.trainable = False
        return
    # A container of conditional layers stays trainable, so their weights are
    # visible to the optimizer; its own variables and other children freeze.
    layer.trainable = True
    for variable in layer._trainable_variables:
        variable.trainable = False
    for child in layer._layers:
        _freeze_all_but_conditions(child, rows)


def conditional_layers_below(layer):
    return [
        sub
        for sub in layer._flatten_layers(include_self=False, recursive=True)
        if isinstance(sub, ConditionalNormalization)
    ]
