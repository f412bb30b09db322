"""Multi-style feed-forward style transfer (Dumoulin et al. 2017) on the `cbn` layers.

The application runs on the TensorFlow backend (its input pipeline is
`tf.data` and it exports SavedModel/TFLite), so importing it selects that
backend unless `KERAS_BACKEND` already names one.

It also turns on TensorFlow's caching CPU allocator (`TF_CPU_ALLOCATOR_USE_BFC`)
unless that variable is already set. Where TensorFlow's default allocator hands
every large tensor back to the C library, which maps fresh pages for the next one,
each full-resolution op pays a page fault per 4 KiB; the cache keeps freed blocks
for reuse. How much that saves depends on the host's kernel and C library: from a
third of the time at 1024 px to nothing (BENCHMARKS.md, "Allocator"). The setting
takes effect only if TensorFlow has not allocated anything yet, so import this
package (or set the variable) before running TensorFlow ops.

Importing the package imports neither TensorFlow nor Keras (the command line
starts without them); `style_transfer.StyleTransferNetwork` imports them on first use.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

__all__ = ["StyleTransferNetwork"]


def __getattr__(name):
    if name == "StyleTransferNetwork":
        from style_transfer.models.network import StyleTransferNetwork

        return StyleTransferNetwork
    raise AttributeError(f"module 'style_transfer' has no attribute {name!r}")
