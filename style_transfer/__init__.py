"""Multi-style feed-forward style transfer (Dumoulin et al. 2017) on the `cbn` layers."""

from style_transfer.network import StyleTransferNetwork

__all__ = ["StyleTransferNetwork"]
