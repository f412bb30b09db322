"""Every notebook runs top to bottom without an error (executed with nbclient, TensorFlow backend).

A slow check kept beside the notebooks, out of the project's suite (about eight minutes on
2 cores): `python -m pytest notebooks`. The suite checks them statically
(`tests/test_notebook_code.py`: every cell compiles, every name they import exists) and runs
notebook 08, the diffusion transformer trained on JAX and on PyTorch.
"""

from pathlib import Path

import pytest

from tests.notebooks import run_notebook

NOTEBOOKS_DIR = Path(__file__).resolve().parent

# Add new notebooks here: (file name, seconds allowed for the whole run on 2 CPU cores).
NOTEBOOKS = [
    ("01_conditional_normalization.ipynb", 600),
    ("02_multi_style_training.ipynb", 600),
    ("03_blending.ipynb", 600),
    ("04_add_a_style.ipynb", 600),
    ("05_arbitrary_styles.ipynb", 600),
    ("06_normalization_from_batch_to_adaln.ipynb", 120),
    ("07_video_and_photo_options.ipynb", 600),
    ("08_dit_adaln_zero_on_jax_and_pytorch.ipynb", 120),
    ("09_style_augmentation.ipynb", 300),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, timeout_s", NOTEBOOKS, ids=[name for name, _ in NOTEBOOKS])
def test_notebook_runs_without_errors(name, timeout_s, tmp_path):
    run_notebook(NOTEBOOKS_DIR / name, tmp_path, timeout_s)


def test_every_notebook_in_the_folder_is_listed():
    listed = {name for name, _ in NOTEBOOKS}
    on_disk = {path.name for path in NOTEBOOKS_DIR.glob("*.ipynb")}
    assert on_disk <= listed, f"notebooks not in NOTEBOOKS: {sorted(on_disk - listed)}"
