"""Runs the test suite: the `cbn` tests, the augmentation layer's and the ONNX and TFLite
exports' on TensorFlow, JAX and PyTorch, the rest on TensorFlow.

Keras picks its backend once per process, so each backend gets its own pytest
run, spread over the machine's cores by pytest-xdist (`-n auto`, at most 4 workers,
a module's tests on one worker; give `-n 0` to run in this process alone). Extra
arguments are passed to every pytest run (e.g. `-x -q`, `-m "not slow"`).

    python tests/run_backends.py
"""

import os
import subprocess
import sys

# The augmentation layer on the other backends: painting, seeds, training-only, fit, saving
# (the rest of its file checks what does not depend on the backend, on TensorFlow).
AUGMENT = [f"tests/style_transfer/test_augment.py::{name}" for name in (
    "test_strength_mixes_the_painting_with_the_photo",
    "test_the_same_seed_gives_the_same_pictures_and_another_seed_others",
    "test_the_largest_seed_and_numpys_integers_are_seeds",
    "test_not_training_passes_the_images_through",
    "test_in_a_model_it_paints_in_fit_only_and_stays_frozen",
    "test_a_saved_model_loads_in_safe_mode_with_the_network_inside",
    "test_an_arbitrary_model_paints_in_one_style_image_at_a_time",
)]
# The ONNX and TFLite exports made on the other backends (skipped on TensorFlow, whose exports
# test_runtimes.py checks).
EXPORTS = "tests/style_transfer/models/test_export_on_backends.py"
RUNS = [
    ("tensorflow", ["tests"], "tests"),
    ("jax", ["tests/cbn", *AUGMENT, EXPORTS], "tests/cbn, the augmentation layer, the exports"),
    ("torch", ["tests/cbn", *AUGMENT, EXPORTS], "tests/cbn, the augmentation layer, the exports"),
]


def main(argv):
    if not any(argument == "-n" or argument.startswith(("-n", "--numprocesses"))
               for argument in argv):
        argv = ["-n", "auto", "--maxprocesses", "4", *argv]
    if not any(argument.startswith("--dist") for argument in argv):
        # A module's tests on one worker: its module fixtures (training runs, exports, a
        # cluster) are made once, not once per worker (10m15s against 12m13s for TensorFlow's
        # run on 2 cores).
        argv = ["--dist", "loadscope", *argv]
    failed = []
    for backend, paths, label in RUNS:
        print(f"\n=== KERAS_BACKEND={backend}: pytest {label}", flush=True)
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
