"""Conditional batch and instance normalization layers for Keras 3."""

from cbn.conditional_batch_normalization import ConditionalBatchNormalization
from cbn.conditional_instance_normalization import ConditionalInstanceNormalization
from cbn.conditional_normalization import ConditionalNormalization
from cbn.fine_tuning import append_conditions, conditional_layers, train_only_conditions

__all__ = [
    "ConditionalBatchNormalization",
    "ConditionalInstanceNormalization",
    "ConditionalNormalization",
    "append_conditions",
    "conditional_layers",
    "train_only_conditions",
]
__version__ = "0.1.0"
