"""`style-transfer serve`: --help without TensorFlow, one-line errors, a real server process."""

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from style_transfer.cli.main import main  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 120


def test_help_shows_the_defaults_without_loading_tensorflow():
    program = ("import sys\nfrom style_transfer.cli.main import main\n"
               "try:\n    main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
               "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                               timeout=60, cwd=REPOSITORY)
    assert completed.stdout.strip().endswith("False False"), completed.stdout + completed.stderr
    for shown in ("127.0.0.1", "8765", "(default: 384)", "(default: 24.0)", "android-26"):
        assert shown in completed.stdout


@pytest.mark.parametrize("argv, message", [
    (["--model", "missing.keras", "--port", "0"], "does not exist"),
    (["--model", "van-gogh", "--port", "0"], "neither a model file nor a pretrained model"),
    (["--port", "70000"], "argument --port: expected a whole number from 0 to 65535"),
    (["--max-sessions", "0"], "argument --max-sessions: expected a whole number from 1 to "
                              "10000"),
    (["--host", "not a host name", "--port", "0"], "cannot listen on not a host name:"),
])
def test_bad_options_are_one_line_errors(capsys, argv, message):
    try:  # An option out of its range is the parser's error: it exits at once.
        code = main(["serve", *argv])
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("style-transfer serve: error: ") and message in error
    assert error.count("\n") == 1


@pytest.mark.parametrize("host, warned", [
    ("127.0.0.1", False), ("127.0.0.2", False), ("::1", False), ("0.0.0.0", True),
    ("::", True), ("192.168.1.20", True), ("fe80::1%eth0", True),
])
def test_only_an_address_other_computers_reach_is_warned_of_by_its_address(host, warned):
    # Judged on the address bound: `--host ""` binds 0.0.0.0 (it was warned of as "listening
    # on : ..."), and 127.0.0.2 or 0:0:0:0:0:0:0:1 are this computer (they were warned of).
    from style_transfer.cli.commands.serve import _others_warning

    warning = _others_warning(host)
    assert (warning is not None) == warned
    if warned:
        assert warning == (f"style-transfer serve: listening on {host}: other computers can "
                           f"use this page.")


@pytest.mark.slow
def test_a_port_in_use_is_a_one_line_error(capsys, model_file):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--model", model_file, "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.slow
def test_the_server_process_serves_the_page_and_its_models(model_file):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(
        [sys.executable, "-m", "style_transfer.cli.main", "serve", "--model", model_file,
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=REPOSITORY)
    try:
        line = process.stdout.readline()
        assert line.startswith("Painting with styles.keras on http://127.0.0.1:"), (
            line + process.stderr.read() if process.poll() is not None else line)
        url = line.split(" on ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "api/config", timeout=START_TIMEOUT_S) as response:
            config = json.loads(response.read())
        assert config["models"][0]["styles"] == ["wave", "scream", "udnie"]
        with urllib.request.urlopen(url, timeout=START_TIMEOUT_S) as response:
            assert b"Paint a photo" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=30)
