"""Settings for the whole test run."""

import os

# `style-transfer stylize` paints on the fastest runtime by default, which converts
# each new model once (seconds): the tests paint with TensorFlow unless they choose
# a runtime (tests/style_transfer/test_runtimes.py does).
os.environ.setdefault("STYLE_TRANSFER_RUNTIME", "tensorflow")
