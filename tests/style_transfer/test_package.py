"""What importing `style_transfer` sets up: the backend and TensorFlow's caching CPU allocator."""

import os
import subprocess
import sys

import pytest

# Counts the minor page faults of five ReLUs over a 64 MiB tensor, after two warm-up calls.
PAGE_FAULTS_PER_OP = """
import os, resource
import style_transfer
import tensorflow as tf

print(os.environ["KERAS_BACKEND"], os.environ["TF_CPU_ALLOCATOR_USE_BFC"])
x = tf.random.normal((1, 512, 512, 64))
relu = tf.function(tf.nn.relu)
relu(x).numpy(), relu(x).numpy()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    relu(x).numpy()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
REPEATS = 5
PAGES_PER_TENSOR = 64 * 2**20 // 4096


def page_faults(env):
    env = {key: value for key, value in os.environ.items()
           if key not in ("KERAS_BACKEND", "TF_CPU_ALLOCATOR_USE_BFC")} | env
    completed = subprocess.run([sys.executable, "-c", PAGE_FAULTS_PER_OP], env=env,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    settings, faults = completed.stdout.strip().splitlines()[-2:]
    return settings.split(), int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts Linux page faults")
def test_import_turns_on_the_caching_allocator_and_large_ops_stop_faulting():
    settings, faults = page_faults({})
    assert settings == ["tensorflow", "true"]
    # Each fresh 64 MiB output would fault on every page; reused memory faults on none.
    assert faults < PAGES_PER_TENSOR // 4, faults


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts Linux page faults")
def test_an_explicit_setting_wins_and_without_the_cache_every_output_faults():
    settings, faults = page_faults({"TF_CPU_ALLOCATOR_USE_BFC": "false"})
    assert settings == ["tensorflow", "false"]
    assert faults > REPEATS * PAGES_PER_TENSOR // 2, faults
