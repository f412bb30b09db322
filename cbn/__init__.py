"""Conditional normalization layers for Keras 3: batch, instance, group, layer and RMS norm
whose gamma and beta depend on a condition."""

from cbn.conditional_batch_normalization import ConditionalBatchNormalization
from cbn.conditional_group_normalization import ConditionalGroupNormalization
from cbn.conditional_instance_normalization import ConditionalInstanceNormalization
from cbn.conditional_layer_normalization import ConditionalLayerNormalization
from cbn.conditional_normalization import ConditionalNormalization
from cbn.conditional_rms_normalization import ConditionalRMSNormalization
from cbn.fine_tuning import append_conditions, conditional_layers, train_only_conditions
from cbn.porting import load_scale_shift

__all__ = [
    "ConditionalBatchNormalization",
    "ConditionalGroupNormalization",
    "ConditionalInstanceNormalization",
    "ConditionalLayerNormalization",
    "ConditionalNormalization",
    "ConditionalRMSNormalization",
    "append_conditions",
    "conditional_layers",
    "load_scale_shift",
    "train_only_conditions",
]
__version__ = "0.1.0"
