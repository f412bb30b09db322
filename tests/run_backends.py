"""Runs the test suite: the `cbn` tests and the augmentation layer's on TensorFlow, JAX and
PyTorch, the rest on TensorFlow.

Keras picks its backend once per process, so each backend gets its own pytest
run. Extra arguments are passed to every pytest run (e.g. `-x -q`).

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
