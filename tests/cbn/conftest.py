"""Fixtures of the `cbn` tests (they run on every Keras backend)."""

import keras
import pytest


@pytest.fixture(autouse=True)
def _seeded_float32_session():
    """Every test starts from the same seed, with float32 as the global policy."""
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_global_policy("float32")
