"""What importing `style_transfer` sets up: the Keras backend and TensorFlow's allocator setting.

These are the project's own decisions, checked as such. What the caching allocator
does to page faults and speed depends on the host's kernel and C library; that is
measured in `benchmarks/bench_stylize.py` (the allocator table), not asserted here.
"""

import json
import os
import subprocess
import sys

import pytest

SETTINGS = ("KERAS_BACKEND", "TF_CPU_ALLOCATOR_USE_BFC")

# Records each setting as it stands when TensorFlow is first imported, then imports
# `style_transfer` and prints both records.
_SETTINGS_AT_IMPORT = """
import importlib.abc, json, os, sys

seen = {}

class RecordSettings(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" and not seen:
            seen.update({key: os.environ.get(key) for key in %r})
        return None

sys.meta_path.insert(0, RecordSettings())
import style_transfer
import tensorflow
print(json.dumps({"when tensorflow was imported": seen,
                  "after import": {key: os.environ.get(key) for key in %r}}))
""" % (SETTINGS, SETTINGS)


def settings_seen(**environment):
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS}
    env.update(environment, TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run([sys.executable, "-c", _SETTINGS_AT_IMPORT], env=env,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_import_selects_tensorflow_and_the_caching_allocator_before_tensorflow_loads():
    seen = settings_seen()
    expected = {"KERAS_BACKEND": "tensorflow", "TF_CPU_ALLOCATOR_USE_BFC": "true"}
    # TensorFlow reads the allocator setting once, at its first allocation: it must
    # already be set when TensorFlow is imported.
    assert seen["when tensorflow was imported"] == expected
    assert seen["after import"] == expected


@pytest.mark.slow
def test_a_setting_the_user_made_wins():
    seen = settings_seen(TF_CPU_ALLOCATOR_USE_BFC="false")
    assert seen["when tensorflow was imported"]["TF_CPU_ALLOCATOR_USE_BFC"] == "false"
    assert seen["after import"]["TF_CPU_ALLOCATOR_USE_BFC"] == "false"


# Loads each file with Keras's own loader after `import style_transfer` (in the order
# given), and prints each model's class.
_KERAS_LOAD = """
import json, sys
import numpy as np
order, paths = sys.argv[1], sys.argv[2:]
if order == "keras first":
    import keras, style_transfer
elif order == "cbn first":  # Keras is imported in the middle of cbn's import
    import style_transfer, cbn, keras
elif order == "network first":  # ... and in the middle of the network module's
    import style_transfer, style_transfer.models.network, keras
else:
    import style_transfer
    import keras
results = []
for path in paths:
    model = keras.saving.load_model(path)  # safe_mode=True, Keras's default
    results.append(type(model).__name__)
print(json.dumps(results))
"""


def keras_load(order, *paths):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run([sys.executable, "-c", _KERAS_LOAD, order, *map(str, paths)],
                               env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def saved_models(model_file, tmp_path_factory):
    """A table model, an arbitrary-style model and the pretrained android-26, as files."""
    from style_transfer.models import pretrained
    from style_transfer.models.arbitrary import create_arbitrary_model
    from style_transfer.models.saving import save_model

    folder = tmp_path_factory.mktemp("keras_load")
    arbitrary = create_arbitrary_model(encoder_weights="random", embedding_dim=8, alpha=0.125,
                                       style_image_size=32)
    save_model(arbitrary, folder / "arbitrary.keras")
    with pytest.MonkeyPatch.context() as patch:  # a cache of the test's own, not the user's
        patch.setenv(pretrained.CACHE_ENVIRONMENT_VARIABLE, str(folder / "cache"))
        converted = pretrained.ensure_cached("android-26")
    return {"table": model_file, "arbitrary": folder / "arbitrary.keras",
            "pretrained": converted}


@pytest.mark.slow
@pytest.mark.parametrize("order", ["style_transfer first", "keras first", "cbn first",
                                   "network first"])
def test_keras_loads_every_model_this_package_saves_after_import(saved_models, order):
    assert keras_load(order, *saved_models.values()) == [
        "StyleTransferNetwork", "ArbitraryStyleModel", "StyleTransferNetwork"]


@pytest.mark.slow
def test_keras_alone_cannot_load_them_which_is_what_the_import_fixes(saved_models):
    program = ("import keras, sys\ntry:\n    keras.saving.load_model(sys.argv[1])\n"
               "except TypeError as error:\n    print('refused:', error)\n")
    completed = subprocess.run([sys.executable, "-c", program, str(saved_models["table"])],
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                               capture_output=True, text=True, timeout=300)
    assert "refused" in completed.stdout and "StyleTransferNetwork" in completed.stdout


def test_import_style_transfer_imports_neither_keras_nor_tensorflow():
    program = ("import sys, style_transfer\n"
               "print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                               timeout=120)
    assert completed.stdout.split() == ["False", "False"], completed.stderr[-2000:]


def test_every_keras_class_of_the_package_is_registered_on_import():
    """`style_transfer.KERAS_CLASSES` names every class the package registers with Keras."""
    import ast
    from pathlib import Path

    import style_transfer

    package = Path(style_transfer.__file__).parent
    found = {}
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    "register_keras_serializable" in ast.unparse(decorator)
                    for decorator in node.decorator_list):
                found[f"style_transfer>{node.name}"] = module
    assert found == style_transfer.KERAS_CLASSES
