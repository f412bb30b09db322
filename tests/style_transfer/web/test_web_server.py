"""The web page's server, over real HTTP on 127.0.0.1: pictures equal the Python API's, bad
requests get one-line errors and leave the server up, sessions never see each other's pictures."""

import concurrent.futures
import http.client
import io
import json
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from style_transfer.base import images  # noqa: E402
from style_transfer.models import arbitrary  # noqa: E402
from style_transfer.painting import arbitrary_styles, conditions, stylize  # noqa: E402
from style_transfer.web import painting  # noqa: E402
from style_transfer.web.app import create_app  # noqa: E402
from style_transfer.web.settings import ServerSettings  # noqa: E402
from tests.style_transfer.builders import photo_array  # noqa: E402
from tests.style_transfer.web.web_server import (  # noqa: E402
    Client, decoded, on_white, png_bytes, serving, with_transparency)

PREVIEW_PX = 64
# 8-bit PNG rounding: the server and the API compute the same floats.
TOLERANCE = 1 / 255 + 1e-6
SETTINGS = ServerSettings(preview_px=PREVIEW_PX, max_upload_mib=1.0, max_megapixels=0.05,
                          max_sessions=6)


@pytest.fixture(scope="module")
def url(model):
    with serving(create_app([("tiny", model)], SETTINGS)) as url:
        yield url


def as_float(array):
    return array.astype(np.float32) / 255.0


def preview_of(array):
    return images.resize_long_side(as_float(array), PREVIEW_PX)


@pytest.mark.slow
def test_page_is_served_with_a_content_security_policy(url):
    status, headers, body = Client(url, session=False).request("GET", "/")
    assert status == 200 and b'<canvas id="picture"' in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]


def test_config_lists_the_models_styles_and_limits(url):
    status, config = Client(url, session=False).get_json("/api/config")
    assert status == 200
    assert config["models"] == [{"name": "tiny", "kind": "table",
                                 "styles": ["wave", "scream", "udnie"]}]
    assert config["preview_px"] == PREVIEW_PX and config["max_upload_bytes"] == 2**20


def test_style_thumbnail_is_the_bundled_photo_in_that_style(url, model):
    from style_transfer.base.images import sample_photo

    status, _, data = Client(url, session=False).request("GET", "/api/models/0/styles/2.png")
    photo = images.resize_long_side(sample_photo(painting.THUMBNAIL_PHOTO),
                                     painting.THUMBNAIL_PX)
    assert status == 200
    assert np.abs(decoded(data) - stylize.stylize(model, photo, 2)).max() <= TOLERANCE


def test_preview_is_the_apis_blend_at_the_preview_size(url, model):
    client = Client(url)
    status, sizes = client.send_photo(png_bytes(photo_array()))
    assert status == 200 and sizes == {"width": 120, "height": 90, "preview_width": 64,
                                       "preview_height": 48}
    status, data = client.preview({"model": 0, "weights": [30, 0, 10], "strength": 0.8,
                                   "preserve_color": True})
    expected = stylize.stylize(model, preview_of(photo_array()), [0.75, 0, 0.25], strength=0.8,
                               preserve_color=True)
    assert status == 200 and np.abs(decoded(data) - expected).max() <= TOLERANCE


def test_full_size_regions_are_the_apis_composite(url, model):
    client = Client(url)
    client.send_photo(png_bytes(photo_array()))
    labels = np.zeros((48, 64), np.uint8)
    labels[5:30, 8:40] = 1
    labels[32:, 44:] = 2
    assert client.send_regions(labels) == (200, {"painted_pixels": 25 * 32 + 16 * 20})
    request = {"model": 0, "weights": [1, 1, 0], "regions": [2, 0], "soft_edge_px": 3}
    picture = decoded(client.paint_full(request))
    weights = conditions.region_weights(labels, 3, (90, 120), 3)
    expected = stylize.composite(model, as_float(photo_array()),
                                 [[0.5, 0.5, 0], "udnie", "wave"], weights)
    assert picture.shape == (90, 120, 3)
    assert np.abs(picture - expected).max() <= TOLERANCE


def test_a_painted_region_is_exactly_its_style_away_from_its_edge(url, model):
    client = Client(url)
    client.send_photo(png_bytes(photo_array()))
    labels = np.zeros((48, 64), np.uint8)
    labels[:, 32:] = 1
    client.send_regions(labels)
    picture = decoded(client.paint_full({"model": 0, "weights": [1, 0, 0], "regions": [1],
                                         "soft_edge_px": 2}))
    photo = as_float(photo_array())
    inside = np.abs(picture - stylize.stylize(model, photo, "scream"))[:, 75:]
    outside = np.abs(picture - stylize.stylize(model, photo, "wave"))[:, :45]
    assert inside.max() <= TOLERANCE and outside.max() <= TOLERANCE


def test_the_painted_regions_come_back_as_a_label_mask(url):
    client = Client(url)
    client.send_photo(png_bytes(photo_array()))
    labels = np.zeros((48, 64), np.uint8)
    labels[10:20, 10:20] = 3
    client.send_regions(labels)
    status, _, data = client.request("GET", "/api/regions.png")
    assert status == 200
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), labels)


def test_bundled_photo_is_painted_without_an_upload(url, model):
    from style_transfer.base.images import sample_photo

    client = Client(url)
    status, sizes = client.post_json("/api/photo/bundled/coffee", None)
    assert status == 200 and sizes["width"] == 600
    status, data = client.preview({"model": 0, "weights": [0, 1, 0]})
    expected = stylize.stylize(model, images.resize_long_side(sample_photo("coffee"),
                                                              PREVIEW_PX), 1)
    assert np.abs(decoded(data) - expected).max() <= TOLERANCE


def test_a_photo_with_transparency_comes_back_with_its_alpha_channel(url):
    """Painted on white, its pictures carry its alpha channel, resized as the picture is; an
    opaque photo's pictures (the same photo on white, or opaque everywhere) stay RGB."""
    rgba = with_transparency(photo_array())
    request = {"model": 0, "weights": [1, 2, 0], "strength": 0.7}
    client = Client(url)  # one session: a new photo takes its own alpha channel, or none

    def pictures(photo):
        assert client.send_photo(png_bytes(photo))[0] == 200
        status, preview = client.preview(request)
        assert status == 200
        return preview, client.paint_full(request)

    transparent = [Image.open(io.BytesIO(data)) for data in pictures(rgba)]
    opaque = [Image.open(io.BytesIO(data)) for data in pictures(on_white(rgba))]
    assert [picture.mode for picture in transparent] == ["RGBA", "RGBA"]
    assert [picture.mode for picture in opaque] == ["RGB", "RGB"]
    # The preview's alpha: Lanczos in float, as the preview picture is resized.
    resized = Image.fromarray(rgba[..., 3].astype(np.float32) / 255, "F").resize(
        (64, 48), Image.Resampling.LANCZOS)
    expected_alphas = [images.to_uint8(np.asarray(resized)), rgba[..., 3]]
    for picture, on_white_picture, alpha in zip(transparent, opaque, expected_alphas):
        pixels = np.asarray(picture)
        np.testing.assert_array_equal(pixels[..., 3], alpha)
        assert np.abs(pixels[..., :3].astype(int) - np.asarray(on_white_picture)).max() <= 1
    # A photo opaque everywhere, alpha channel or not, is painted and sent as before.
    photo = photo_array()
    assert pictures(np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])) == \
        pictures(photo)


def test_a_bundled_photo_name_is_never_a_path(url):
    client = Client(url)
    status, reply = client.post_json("/api/photo/bundled/..%2F..%2Fetc%2Fpasswd", None)
    assert status in (400, 404)
    if status == 400:
        assert "unknown bundled photo" in reply["error"]


def truncated_png():
    return png_bytes(photo_array())[:400]


def png_header_only(width, height):
    """A PNG whose header claims width x height but whose data is a few bytes: a bomb's header."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def eps_file():
    return b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"


@pytest.mark.parametrize("data, status, message", [
    (b"this is not a picture", 400, "not an image in one of the accepted formats"),
    (truncated_png(), 400, "Cannot read the photo"),
    (png_header_only(9000, 9000), 413, "9000 x 9000 pixels (81.0 megapixels)"),
    (png_header_only(60000, 60000), 413, "decompression bomb"),
    (png_bytes(np.zeros((300, 300, 3), np.uint8)), 413, "at most 0.05 megapixels"),
    (eps_file(), 400, "not an image in one of the accepted formats"),
    (b"", 400, "no body"),
])
def test_bad_uploads_are_refused_with_one_line_and_the_server_stays_up(url, data, status,
                                                                       message):
    client = Client(url)
    received, reply = client.send_photo(data)
    assert received == status and message in reply["error"] and "\n" not in reply["error"]
    assert client.send_photo(png_bytes(photo_array()))[0] == 200


def test_an_upload_declared_too_large_is_refused_before_its_body_is_read(url):
    """Only the headers are sent: the server answers from the declared length alone."""
    client = Client(url)
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    connection.putrequest("POST", "/api/photo")
    connection.putheader("X-Session", client.session)
    connection.putheader("Content-Length", str(2**20 + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "at most 1.0 MiB" in json.loads(response.read())["error"]
    connection.close()
    assert client.send_photo(png_bytes(photo_array()))[0] == 200


def test_an_upload_streamed_past_the_limit_is_refused(url):
    """No declared length (chunked): the server counts what arrives."""
    client = Client(url)
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    connection.request("POST", "/api/photo", body=iter([b"\x00" * (2**20 + 1)]),
                       headers={"X-Session": client.session}, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413 and "over 1.0 MiB" in json.loads(response.read())["error"]
    connection.close()
    assert client.send_photo(png_bytes(photo_array()))[0] == 200


def test_a_bomb_is_refused_before_its_pixels_are_decoded(monkeypatch):
    from PIL import ImageFile

    def decoding(*args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decoding)
    with pytest.raises(images.ImageTooLargeError, match="81.0 megapixels"):
        images.read_image_bytes(png_header_only(9000, 9000), max_pixels=10**6)


@pytest.mark.parametrize("request_body, message", [
    ({"model": 0, "weights": [0, 0, 0]}, "must not all be zero"),
    ({"model": 0, "weights": [1, -1, 1]}, "non-negative"),
    ({"model": 0, "weights": [1, 0]}, "one value per style (3)"),
    ({"model": 3, "weights": [1, 0, 0]}, "model must be 0 to 0"),
    ({"model": 0, "weights": [1, 0, 0], "regions": [7]}, "style must be 0 to 2"),
    ({"model": 0, "weights": [1, 0, 0], "strength": 2}, "strength must be a finite number from 0 to 1"),
    ({"model": 0, "weights": [1, 0, 0], "soft_edge_px": 99}, "soft_edge_px must be in"),
    ({"model": 0, "weights": ["1", 0, 0]}, "must be a finite number"),
    ({"model": 0, "weights": [1, 0, 0], "path": "/etc/passwd"}, "unknown request fields: path"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_paint_requests_are_refused_with_one_line(url, request_body, message):
    client = Client(url)
    client.send_photo(png_bytes(photo_array()))
    status, data = client.preview(request_body)
    assert status == 400 and message in json.loads(data)["error"]


def test_regions_painted_without_a_style_are_refused(url):
    client = Client(url)
    client.send_photo(png_bytes(photo_array()))
    labels = np.zeros((48, 64), np.uint8)
    labels[0, 0] = 2
    client.send_regions(labels)
    status, data = client.preview({"model": 0, "weights": [1, 0, 0], "regions": [1]})
    assert status == 400 and "region 2 is painted but only 1 regions" in json.loads(data)["error"]


def test_regions_of_the_wrong_size_are_refused(url):
    client = Client(url)
    client.send_photo(png_bytes(photo_array()))
    status, reply = client.send_regions(np.zeros((10, 10), np.uint8))
    assert status == 400 and "64 x 48 = 3072 bytes" in reply["error"]


def test_requests_without_a_known_session_get_404(url):
    stranger = Client(url, session=False)
    assert stranger.request("GET", "/api/full.png")[0] == 404
    stranger.session = "guessed-session-id"
    status, reply = stranger.send_photo(png_bytes(photo_array()))
    assert status == 404 and "reload the page" in reply["error"]


def test_a_page_of_another_site_cannot_start_sessions(url):
    # A browser sends any page's POST (it only hides the answer): sessions started so would
    # push the visitors' own out.
    client = Client(url, session=False)
    for origin in ("https://elsewhere.example", "null", url.replace("127.0.0.1", "localhost")):
        status, _, body = client.request("POST", "/api/sessions", b"",
                                         headers={"Origin": origin})
        assert status == 403 and b"pages of other sites" in body, (origin, body)
    status, _, body = client.request("POST", "/api/sessions", b"", headers={"Origin": url})
    assert status == 200 and "session" in json.loads(body)


def test_requests_addressed_to_another_host_are_refused(url):
    # DNS rebinding: a site whose name comes to point at 127.0.0.1 once its page is loaded
    # reaches the server in the visitor's browser, its own name in the Host header.
    port = url.rsplit(":", 1)[1]
    client = Client(url, session=False)
    for host in (f"rebound.example:{port}", "rebound.example", f"127.0.0.1.example:{port}",
                 f"localhost.example:{port}", "[::1"):
        status, _, body = client.request("GET", "/api/config", headers={"Host": host})
        assert status == 403 and b"this computer (localhost) only" in body, (host, body)
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}",
                 f"page.localhost:{port}", f"LOCALHOST:{port}"):
        assert client.request("GET", "/api/config", headers={"Host": host})[0] == 200, host


@pytest.mark.slow
def test_a_server_listening_for_other_computers_answers_any_host(model):
    # `--host 0.0.0.0` is the user's choice to serve other computers, by whatever name.
    with serving(create_app([("tiny", model)], ServerSettings(host="0.0.0.0"))) as url:
        status, _, _ = Client(url, session=False).request(
            "GET", "/api/config", headers={"Host": "studio.example:8765"})
        assert status == 200


def test_invalid_json_is_a_400(url):
    client = Client(url)
    status, _, data = client.request("POST", "/api/preview", b"{not json", "application/json")
    assert status == 400 and "not JSON" in json.loads(data)["error"]


@pytest.mark.parametrize("body, message", [
    (b'{"model": 0, "weights": [1' + b"0" * 400 + b', 0, 0]}', "must be a finite number"),
    (b'{"model": 1' + b"0" * 400 + b', "weights": [1, 0, 0]}', "must be an integer"),
    (b'{"model": 0, "weights": [1, 0, 0], "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
     "levels deep"),
], ids=["401-digit weight", "401-digit model", "nested 20,000 deep"])
def test_hostile_json_under_the_size_limit_is_a_400(url, body, message):
    client = Client(url)
    client.send_photo(png_bytes(photo_array()))
    assert len(body) < 64 * 1024
    status, _, data = client.request("POST", "/api/preview", body, "application/json")
    assert status == 400 and message in json.loads(data)["error"]
    assert client.preview({"model": 0, "weights": [1, 0, 0]})[0] == 200


@pytest.mark.parametrize("width, height", [(3000, 8), (8, 3000)])
def test_a_photo_whose_preview_would_be_under_8_px_is_refused_and_previews_go_on(
        url, width, height):
    client = Client(url)
    status, reply = client.send_photo(png_bytes(np.zeros((height, width, 3), np.uint8)))
    assert status == 400 and "too long and thin" in reply["error"], reply
    assert client.send_photo(png_bytes(photo_array()))[0] == 200
    assert client.preview({"model": 0, "weights": [1, 0, 0]})[0] == 200


def test_a_bug_while_painting_is_a_500_and_the_server_goes_on(url, monkeypatch):
    client = Client(url)
    client.send_photo(png_bytes(photo_array()))

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(painting, "paint", broken)
    status, data = client.preview({"model": 0, "weights": [1, 0, 0]})
    assert status == 500 and "internal error" in json.loads(data)["error"]
    monkeypatch.undo()
    assert client.preview({"model": 0, "weights": [1, 0, 0]})[0] == 200


def test_full_size_pictures_let_go_before_their_turn_are_not_painted(url, monkeypatch):
    # A new photo lets the page ask for another full-size picture while one is painted; those
    # asked for the photos in between would each have been painted (minutes each at 24 MP),
    # in turn, before the last.
    import threading

    from style_transfer.web import app as web_app

    client = Client(url)
    painted, started, release = [], threading.Event(), threading.Event()
    paint = web_app._paint

    def counted(served, session, paint_request, full_size, progress=None):
        painted.append(paint_request.weights)
        started.set()
        release.wait(timeout=60)
        return paint(served, session, paint_request, full_size, progress)

    monkeypatch.setattr(web_app, "_paint", counted)
    for style in range(3):
        assert client.send_photo(png_bytes(photo_array(style)))[0] == 200
        weights = [float(index == style) for index in range(3)]
        assert client.post_json("/api/full", {"model": 0, "weights": weights})[0] == 202
        assert started.wait(timeout=60)  # the first is being painted
    release.set()
    job = client.get_json("/api/full")[1]
    while job["state"] == "painting":
        time.sleep(0.05)
        job = client.get_json("/api/full")[1]
    # The first was painting when the next photo came; the second was let go before its turn.
    assert job["state"] == "done" and painted == [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)]


def test_concurrent_sessions_each_get_their_own_pictures(url, model):
    """Four visitors, each with their own photo, regions and style, painting at once."""
    def visit(seed):
        client = Client(url)
        array = photo_array(seed)
        client.send_photo(png_bytes(array))
        labels = np.zeros((48, 64), np.uint8)
        labels[:, : 16 * (seed + 1)] = 1
        client.send_regions(labels)
        request = {"model": 0, "weights": [int(seed % 3 == style) for style in range(3)],
                   "regions": [(seed + 1) % 3], "soft_edge_px": 2}
        previews = [client.preview(request)[1] for _ in range(3)]
        full = client.paint_full(request)
        return seed, labels, request, previews, full

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        visits = list(pool.map(visit, range(4)))
    for seed, labels, request, previews, full in visits:
        styles = [np.asarray(request["weights"], np.float32), request["regions"][0]]
        expected_preview = stylize.composite(
            model, preview_of(photo_array(seed)), styles,
            conditions.region_weights(labels, 2, (48, 64), 2))
        for preview in previews:
            assert np.abs(decoded(preview) - expected_preview).max() <= TOLERANCE, seed
        expected_full = stylize.composite(model, as_float(photo_array(seed)), styles,
                                          conditions.region_weights(labels, 2, (90, 120), 2))
        assert np.abs(decoded(full) - expected_full).max() <= TOLERANCE, seed


def test_past_the_session_limit_the_longest_idle_session_gives_way(model):
    settings = ServerSettings(preview_px=PREVIEW_PX, max_sessions=2)
    with serving(create_app([("tiny", model)], settings)) as url:
        first, second = Client(url), Client(url)
        second.send_photo(png_bytes(photo_array()))
        third = Client(url)
        assert first.send_photo(png_bytes(photo_array()))[0] == 404
        assert second.preview({"model": 0, "weights": [1, 0, 0]})[0] == 200
        assert third.send_photo(png_bytes(photo_array()))[0] == 200


@pytest.mark.slow
def test_arbitrary_model_paints_the_blend_of_the_visitors_style_images():
    model = arbitrary.create_arbitrary_model(encoder_weights="random", embedding_dim=8,
                                             alpha=0.25, style_image_size=32)
    with serving(create_app([("arbitrary", model)], SETTINGS)) as url:
        client = Client(url)
        client.send_photo(png_bytes(photo_array()))
        styles = [photo_array(seed, 80, 80) for seed in (7, 8)]
        for count, style in enumerate(styles, start=1):
            status, _, reply = client.request("POST", "/api/style-images", png_bytes(style))
            assert status == 200 and json.loads(reply) == {"style_images": count}
        status, data = client.preview({"model": 0, "weights": [1, 3], "strength": 0.5})
        squares = [images.center_square(as_float(style), painting.STYLE_IMAGE_PX)
                   for style in styles]
        expected = arbitrary_styles.stylize_arbitrary(model, preview_of(photo_array()), squares,
                                               [0.25, 0.75], strength=0.5)
        assert status == 200 and np.abs(decoded(data) - expected).max() <= 2 * TOLERANCE
        status, _, _ = client.request("GET", "/api/models/0/styles/0.png")
        assert status == 400


def test_previews_repaint_only_the_conditions_that_changed(url, model, monkeypatch):
    """A slider move repaints the blend only; a brush stroke repaints nothing; both still
    show the API's composite."""
    painted = []
    run_network = stylize.run_network

    def counting(model, images, weights, *args, **kwargs):
        painted.append(len(images))
        return run_network(model, images, weights, *args, **kwargs)

    monkeypatch.setattr(stylize, "run_network", counting)
    client = Client(url)
    client.send_photo(png_bytes(photo_array()))
    labels = np.zeros((48, 64), np.uint8)
    labels[:, 40:] = 1
    client.send_regions(labels)
    photo = preview_of(photo_array())
    steps = [({"weights": [1, 0, 0]}, labels, 2), ({"weights": [1, 1, 0]}, labels, 1)]
    labels = labels.copy()
    labels[:20, :20] = 1
    steps.append(({"weights": [1, 1, 0]}, labels, 0))
    for changes, step_labels, expected_passes in steps:
        client.send_regions(step_labels)
        painted.clear()
        status, data = client.preview({"model": 0, "regions": [2], **changes})
        assert status == 200 and sum(painted) == expected_passes, (changes, painted)
        expected = stylize.composite(model, photo, [np.array(changes["weights"]) / sum(
            changes["weights"]), "udnie"], conditions.region_weights(step_labels, 2, (48, 64), 4))
        assert np.abs(decoded(data) - expected).max() <= TOLERANCE


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/..%2Fapp.py",
                                  "/static/%2E%2E/sessions.py", "/static//etc/passwd"])
def test_static_paths_never_leave_the_pages_folder(url, path):
    status, _, body = Client(url, session=False).request("GET", path)
    assert status == 404 and b"import" not in body and b"root:" not in body
