"""Every case of the bad-input sweep: exit code 2, one line naming the problem, nothing lost.

The cases, and how they run, are in `bad_input_sweep.py` (which also writes the
table docs/bad_inputs.md).
"""

import keras
import pytest

from tests.style_transfer.cli import bad_input_sweep
from tests.style_transfer.cli.bad_input_sweep import CASES


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    keras.utils.set_random_seed(0)
    return bad_input_sweep.write_assets(tmp_path_factory.mktemp("sweep") / "assets")


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", [pytest.param(case, id=case.name) for case in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_is_lost(case, assets, tmp_path):
    result = bad_input_sweep.run_case(case, assets, tmp_path / "work")
    assert result.problems(case) == [], result.stderr


def test_the_sweep_covers_every_command_and_the_layers():
    from style_transfer.cli.commands import COMMANDS

    assert len(CASES) >= 50
    assert set(bad_input_sweep.COMMAND_NAMES) == set(COMMANDS)
    assert set(COMMANDS) | {"layers"} <= {case.command for case in CASES}
