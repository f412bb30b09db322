"""Fixtures of the style_transfer tests: a small model with distinct styles, and its file.

The tests under this folder mirror the package (`base/`, `models/`, `painting/`,
`training/`, `cli/`, `web/`); what they build for themselves is in `builders.py`.
"""

import pytest

from style_transfer.models.saving import save_model
from tests.style_transfer.builders import untrained_model_with_distinct_styles


@pytest.fixture(scope="module")
def model():
    """An untrained 3-style network (alpha 0.25) whose styles paint differently."""
    return untrained_model_with_distinct_styles()


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    """`model` saved as a `.keras` file (a str path)."""
    path = tmp_path_factory.mktemp("model") / "styles.keras"
    save_model(model, path)
    return str(path)
