"""A web app served for real on 127.0.0.1 (a free port) from a thread of the test process,
and a small HTTP client for it: the tests talk to it as a browser would."""

import contextlib
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
from PIL import Image

START_TIMEOUT_S = 30


@contextlib.contextmanager
def serving(app):
    """Serves `app` with uvicorn in a thread; yields its base URL ("http://127.0.0.1:PORT")."""
    import uvicorn

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        listening.close()


class Client:
    """One visitor: its own session, requests as the page makes them."""

    def __init__(self, url, session=True):
        self.url = url
        self.session = None
        if session:
            self.session = self.post_json("/api/sessions", None)[1]["session"]

    def request(self, method, path, body=None, content_type=None, headers=None):
        """(status, headers, body bytes)."""
        headers = dict(headers or {})
        if self.session is not None:
            headers.setdefault("X-Session", self.session)
        if content_type is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def post_json(self, path, body):
        status, _, data = self.request("POST", path, json.dumps(body).encode() if body is not None
                                       else b"", "application/json")
        return status, json.loads(data) if data.startswith(b"{") else data

    def get_json(self, path):
        status, _, data = self.request("GET", path)
        return status, json.loads(data)

    def send_photo(self, data):
        status, _, body = self.request("POST", "/api/photo", data, "application/octet-stream")
        return status, json.loads(body)

    def send_regions(self, labels):
        status, _, body = self.request("PUT", "/api/regions", np.ascontiguousarray(
            labels, np.uint8).tobytes(), "application/octet-stream")
        return status, json.loads(body)

    def preview(self, request):
        status, _, data = self.request("POST", "/api/preview", json.dumps(request).encode(),
                                       "application/json")
        return status, data

    def paint_full(self, request, timeout_s=120):
        """Starts the full-size picture, waits for it; returns the PNG's bytes."""
        status, job = self.post_json("/api/full", request)
        assert status == 202, job
        deadline = time.monotonic() + timeout_s
        while job["state"] == "painting":
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
            job = self.get_json("/api/full")[1]
        assert job["state"] == "done", job
        status, _, data = self.request("GET", "/api/full.png")
        assert status == 200
        return data


def png_bytes(array, image_format="PNG", **options):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, image_format, **options)
    return buffer.getvalue()


def decoded(data):
    """PNG (or JPEG) bytes as a float32 array (H, W, 3) in [0, 1]."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255.0


def with_transparency(photo):
    """`photo` (uint8 (H, W, 3)) with a known alpha channel, RGBA: a ramp from transparent to
    opaque across the left half, the right half opaque but for a transparent rectangle, and a
    half-transparent band across."""
    height, width = photo.shape[:2]
    alpha = np.full((height, width), 255, np.uint8)
    alpha[:, :width // 2] = np.linspace(0, 255, width // 2).round().astype(np.uint8)
    alpha[height // 9:height * 4 // 9, width * 7 // 12:width * 5 // 6] = 0
    alpha[height * 2 // 3:height * 7 // 9] = 128
    return np.dstack([photo, alpha])


def on_white(rgba):
    """An RGBA picture composited on white (as the server paints it): uint8 RGB."""
    white = Image.new("RGBA", rgba.shape[1::-1], (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, Image.fromarray(rgba, "RGBA")).convert("RGB"))
