"""Runs the test suite: the `cbn` tests and the augmentation layer's on TensorFlow, JAX and
PyTorch, the rest on TensorFlow.

Keras picks its backend once per process, so each backend gets its own pytest
run, spread over the machine's cores by pytest-xdist (`-n auto`, at most 4 workers;
give `-n 0` to run in this process alone). Extra arguments are passed to every
pytest run (e.g. `-x -q`, `-m "not slow"`).

    python tests/run_backends.py
"""

import os
import subprocess
import sys

RUNS = [
    ("tensorflow", ["tests"]),
    ("jax", ["tests/cbn", "tests/style_transfer/test_augment.py"]),
    ("torch", ["tests/cbn", "tests/style_transfer/test_augment.py"]),
]


def main(argv):
    if not any(argument == "-n" or argument.startswith(("-n", "--numprocesses"))
               for argument in argv):
        argv = ["-n", "auto", "--maxprocesses", "4", *argv]
    failed = []
    for backend, paths in RUNS:
        print(f"\n=== KERAS_BACKEND={backend}: pytest {' '.join(paths)}", flush=True)
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
        code = subprocess.call([sys.executable, "-m", "pytest", *paths, *argv], env=env)
        if code != 0:
            failed.append(f"{backend} (exit {code})")
    if failed:
        print(f"\nFAILED on: {', '.join(failed)}", flush=True)
        return 1
    print("\nAll backends passed.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
