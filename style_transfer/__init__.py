"""Multi-style feed-forward style transfer (Dumoulin et al. 2017) on the `cbn` layers.

The application runs on the TensorFlow backend (its input pipeline is
`tf.data` and it exports SavedModel/TFLite), so importing it selects that
backend unless `KERAS_BACKEND` already names one.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from style_transfer.network import StyleTransferNetwork  # noqa: E402

__all__ = ["StyleTransferNetwork"]
