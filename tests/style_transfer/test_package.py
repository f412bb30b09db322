"""What importing `style_transfer` sets up: the Keras backend and TensorFlow's allocator setting.

These are the project's own decisions, checked as such. What the caching allocator
does to page faults and speed depends on the host's kernel and C library; that is
measured in `benchmarks/bench_stylize.py` (the allocator table), not asserted here.
"""

import json
import os
import subprocess
import sys

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


def test_import_selects_tensorflow_and_the_caching_allocator_before_tensorflow_loads():
    seen = settings_seen()
    expected = {"KERAS_BACKEND": "tensorflow", "TF_CPU_ALLOCATOR_USE_BFC": "true"}
    # TensorFlow reads the allocator setting once, at its first allocation: it must
    # already be set when TensorFlow is imported.
    assert seen["when tensorflow was imported"] == expected
    assert seen["after import"] == expected


def test_a_setting_the_user_made_wins():
    seen = settings_seen(TF_CPU_ALLOCATOR_USE_BFC="false")
    assert seen["when tensorflow was imported"]["TF_CPU_ALLOCATOR_USE_BFC"] == "false"
    assert seen["after import"]["TF_CPU_ALLOCATOR_USE_BFC"] == "false"
