"""Multi-style feed-forward style transfer (Dumoulin et al. 2017) on the `cbn` layers.

The application runs on the TensorFlow backend (its input pipeline is
`tf.data` and it exports SavedModel/TFLite), so importing it selects that
backend unless `KERAS_BACKEND` already names one.

It also turns on TensorFlow's caching CPU allocator (`TF_CPU_ALLOCATOR_USE_BFC`)
unless that variable is already set. By default TensorFlow takes every large
tensor fresh from the C library, which maps new pages for it and returns them
on free, so each full-resolution op pays a page fault per 4 KiB: about a tenth
of a 512 px picture's time, a third from 1024 px up (BENCHMARKS.md, "Allocator"). The
setting takes effect only if TensorFlow has not allocated anything yet, so
import this package (or set the variable) before running TensorFlow ops.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

from style_transfer.network import StyleTransferNetwork  # noqa: E402

__all__ = ["StyleTransferNetwork"]
