"""The web page in a real browser: headless Chromium (Debian's package) driven by Playwright.

One visit, as a person makes it: load the page, upload a photo, move a slider, add a region,
choose its style, paint it with the mouse, paint the full-size picture and download it; then
upload a photo with transparency, move a slider, paint it full size and download it. The
fixture records what the page showed at each step (screenshots of the picture, the painted
labels, the downloaded file); each test checks one step against the Python API. A second
visit paints Chromium's fake camera live (`--use-fake-device-for-media-stream`), moves a
slider meanwhile, and checks every frame the server painted against the API.

Skipped when no Chromium is found (`apt-get install chromium`; .ci/run installs it) or
Playwright is not installed (the [test] extra).
"""

import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
playwright = pytest.importorskip("playwright.sync_api")

from style_transfer.base import images  # noqa: E402
from style_transfer.painting import conditions, stylize  # noqa: E402
from style_transfer.web.app import create_app  # noqa: E402
from style_transfer.web.settings import ServerSettings  # noqa: E402
from tests.style_transfer.builders import photo_array  # noqa: E402
from tests.style_transfer.web.web_server import (  # noqa: E402
    Client, decoded, on_white, png_bytes, serving, with_transparency)

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
# As root in a closed network: no sandbox, and none of Chromium's own connections.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
PREVIEW_PX = 96
PHOTO_SIZE = (120, 160)  # height, width
PREVIEW_SIZE = (72, 96)
SOFT_EDGE_PX = 4  # the page's default
WAIT_MS = 60_000
# The page draws the PNG it receives 1:1 on a canvas; the screenshot reads the same pixels
# back, within a grey level.
SCREEN_TOLERANCE = 2 / 255
# The downloaded PNG against the API's floats: 8-bit rounding.
FILE_TOLERANCE = 1 / 255 + 1e-6

if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium package: apt-get install "
                f"chromium; .ci/run does)", allow_module_level=True)


@pytest.fixture(scope="module")
def visit(model, tmp_path_factory):
    """Everything one visit recorded: {"errors", "uploaded", "blended", "shares", "painted",
    "labels", "download", "transparent_shown" (the canvas's RGBA pixels),
    "transparent_download"}."""
    folder = tmp_path_factory.mktemp("browser")
    photo_file = folder / "photo.png"
    photo_file.write_bytes(png_bytes(photo_array(3, *PHOTO_SIZE)))
    record = {"errors": []}
    settings = ServerSettings(preview_px=PREVIEW_PX)
    # Playwright starts Chromium with a fresh, empty profile of its own.
    with serving(create_app([("tiny", model)], settings)) as url, \
            playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1,
                                accept_downloads=True)
        page.on("console", lambda message: record["errors"].append(message.text)
                if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: record["errors"].append(str(error)))
        with page.expect_response("**/api/sessions") as session_response:
            page.goto(url)
        session = session_response.value.json()["session"]
        page.locator('#stage[data-state="ready"]').wait_for(timeout=WAIT_MS)

        def after_new_preview(action):
            before = page.locator("#stage").get_attribute("data-previews")
            action()
            page.locator(f'#stage[data-state="ready"]:not([data-previews="{before}"])').wait_for(
                timeout=WAIT_MS)
            return page.locator("#picture").screenshot()

        record["uploaded"] = after_new_preview(
            lambda: page.set_input_files("#photo-file", str(photo_file)))
        record["blended"] = after_new_preview(
            lambda: page.locator("#styles input[type=range]").nth(1).fill("100"))
        record["shares"] = page.locator("#styles output").all_inner_texts()

        page.click("#add-region")
        after_new_preview(lambda: page.select_option("#region-list select", "2"))
        box = page.locator("#regions").bounding_box()

        def paint_right_half():
            page.mouse.move(box["x"] + 70, box["y"] + 10)
            page.mouse.down()
            for y in (10, 30, 50, 65):
                page.mouse.move(box["x"] + 90, box["y"] + y, steps=4)
                page.mouse.move(box["x"] + 60, box["y"] + y + 10, steps=4)
            page.mouse.up()

        after_new_preview(paint_right_half)
        page.uncheck("#show-regions")
        record["painted"] = page.locator("#picture").screenshot()
        client = Client(url, session=False)
        client.session = session
        status, _, labels_png = client.request("GET", "/api/regions.png")
        assert status == 200
        record["labels"] = np.asarray(decoded(labels_png)[..., 0] * 255).round().astype(np.uint8)

        record["download"], record["download_name"] = download_full_picture(
            page, folder / "downloaded.png")

        # A photo with transparency: a second preview is drawn where the first was.
        transparent_file = folder / "transparent.png"
        transparent_file.write_bytes(png_bytes(transparent_photo()))
        after_new_preview(lambda: page.set_input_files("#photo-file", str(transparent_file)))
        after_new_preview(lambda: page.locator("#styles input[type=range]").nth(2).fill("100"))
        pixels = page.locator("#picture").evaluate(
            "(canvas) => Array.from(canvas.getContext('2d').getImageData("
            "0, 0, canvas.width, canvas.height).data)")
        record["transparent_shown"] = np.array(pixels, np.uint8).reshape(PREVIEW_SIZE + (4,))
        record["transparent_download"], _ = download_full_picture(
            page, folder / "transparent_downloaded.png")
        browser.close()
    return record


def download_full_picture(page, saved):
    """Asks the page for the full-size picture and downloads it to `saved`: (its bytes, the
    name the page suggested)."""
    page.click("#full")
    page.locator("#download").wait_for(state="visible", timeout=WAIT_MS)
    with page.expect_download() as download:
        page.click("#download")
    download.value.save_as(saved)
    return saved.read_bytes(), download.value.suggested_filename


def transparent_photo():
    return with_transparency(photo_array(4, *PHOTO_SIZE))


def preview_photo():
    return images.resize_long_side(photo_array(3, *PHOTO_SIZE).astype(np.float32) / 255,
                                   PREVIEW_PX)


@pytest.mark.slow
def test_the_visit_shows_no_console_errors_or_warnings(visit):
    assert visit["errors"] == []


@pytest.mark.slow
def test_the_uploaded_photo_is_previewed_in_the_first_style(visit, model):
    expected = stylize.stylize(model, preview_photo(), 0)
    shown = decoded(visit["uploaded"])
    assert shown.shape == PREVIEW_SIZE + (3,)
    assert np.abs(shown - expected).max() <= SCREEN_TOLERANCE


@pytest.mark.slow
def test_moving_a_slider_changes_the_preview_to_the_blend_it_shows(visit, model):
    assert visit["shares"] == ["50%", "50%", "0%"]
    blended = decoded(visit["blended"])
    assert np.abs(blended - decoded(visit["uploaded"])).mean() > 0.02
    expected = stylize.stylize(model, preview_photo(), [0.5, 0.5, 0.0])
    assert np.abs(blended - expected).max() <= SCREEN_TOLERANCE


@pytest.mark.slow
def test_the_painted_region_takes_its_style(visit, model):
    labels = visit["labels"]
    assert labels.shape == PREVIEW_SIZE and set(np.unique(labels)) == {0, 1}
    # The strokes covered the middle right of the photo and nothing on the left.
    assert labels[20:60, 65:85].all() and not labels[:, :50].any()
    weights = conditions.region_weights(labels, 2, PREVIEW_SIZE, SOFT_EDGE_PX)
    painted = decoded(visit["painted"])
    expected = stylize.composite(model, preview_photo(), [[0.5, 0.5, 0.0], "udnie"], weights)
    assert np.abs(painted - expected).max() <= SCREEN_TOLERANCE
    inside = weights[..., 1] > 0.999  # more than a soft edge away from the border
    assert inside.sum() > 50
    udnie = stylize.stylize(model, preview_photo(), "udnie")
    assert np.abs(painted - udnie)[inside].max() <= SCREEN_TOLERANCE
    assert np.abs(painted - decoded(visit["blended"]))[inside].mean() > 0.02


@pytest.mark.slow
def test_the_download_is_the_full_size_picture_the_api_paints(visit, model):
    assert visit["download_name"] == "painted.png"
    picture = decoded(visit["download"])
    photo = photo_array(3, *PHOTO_SIZE).astype(np.float32) / 255
    weights = conditions.region_weights(visit["labels"], 2, PHOTO_SIZE, SOFT_EDGE_PX)
    expected = stylize.composite(model, photo, [[0.5, 0.5, 0.0], "udnie"], weights)
    assert picture.shape == PHOTO_SIZE + (3,)
    assert np.abs(picture - expected).max() <= FILE_TOLERANCE


@pytest.mark.slow
def test_a_photo_with_transparency_is_shown_and_downloaded_with_its_alpha_channel(visit, model):
    rgba = transparent_photo()
    photo = on_white(rgba).astype(np.float32) / 255
    blend = [1 / 3, 1 / 3, 1 / 3]  # the three sliders at 100
    shown = visit["transparent_shown"]
    np.testing.assert_array_equal(shown[..., 3],
                                  images.resize_alpha(rgba[..., 3], PREVIEW_SIZE))
    opaque = shown[..., 3] == 255
    expected = stylize.stylize(model, images.resize_long_side(photo, PREVIEW_PX), blend)
    assert opaque.sum() > 1000
    assert np.abs(shown[..., :3] / 255 - expected)[opaque].max() <= SCREEN_TOLERANCE
    with Image.open(io.BytesIO(visit["transparent_download"])) as downloaded:
        assert downloaded.mode == "RGBA"
        pixels = np.asarray(downloaded)
    np.testing.assert_array_equal(pixels[..., 3], rgba[..., 3])
    expected = stylize.stylize(model, photo, blend)
    assert np.abs(pixels[..., :3] / 255 - expected).max() <= FILE_TOLERANCE


# ------------------------------------------------------------------ the live camera

# Chromium's own test camera (a moving pattern, 640x480) and no permission prompt.
FAKE_CAMERA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
LIVE_PX = 160
LIVE_SIZE = (120, 160)  # height, width: the fake camera's 640x480 scaled to LIVE_PX
LIVE_FRAMES = 20


@pytest.fixture(scope="module")
def camera_visit(model):
    """One visit that paints the camera: {"errors", "urls", "exchanges" (each frame the server
    received, its paint request and the painting it sent), "shown" (screenshots after
    LIVE_FRAMES frames and after a slider moved), "rate", "stage"}."""
    pytest.importorskip("cv2", reason="the [video] extra is not installed")
    from style_transfer.web import live

    record = {"errors": [], "urls": [], "exchanges": [], "shown": []}
    paint = live.LiveStream.paint

    def recording_paint(stream, data):
        painted = paint(stream, data)
        record["exchanges"].append((data, stream.request, painted))
        return painted

    live.LiveStream.paint = recording_paint
    try:
        with serving(create_app([("tiny", model)], ServerSettings(live_px=LIVE_PX))) as url, \
                playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM,
                                             args=CHROMIUM_FLAGS + FAKE_CAMERA_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900},
                                    device_scale_factor=1)
            page.on("console", lambda message: record["errors"].append(message.text)
                    if message.type in ("error", "warning") else None)
            page.on("pageerror", lambda error: record["errors"].append(str(error)))
            page.on("request", lambda request: record["urls"].append(request.url))
            page.on("websocket", lambda socket: record["urls"].append(socket.url))
            page.goto(url)
            page.locator('#stage[data-state="ready"]').wait_for(timeout=WAIT_MS)

            def after_frames(count):
                # Polled from here: the page's Content-Security-Policy forbids the string
                # evaluation of `page.wait_for_function`.
                deadline = time.monotonic() + WAIT_MS / 1000
                while int(page.locator("#stage").get_attribute("data-live-frames")) < count:
                    assert time.monotonic() < deadline, page.locator("#status").inner_text()
                    page.wait_for_timeout(50)
                record["shown"].append((len(record["exchanges"]),
                                        page.locator("#picture").screenshot()))

            page.click("#camera")
            after_frames(LIVE_FRAMES)
            record["rate"] = page.locator("#live-rate").inner_text()
            record["stage"] = dict(page.locator("#stage").evaluate("(stage) => stage.dataset"))
            page.locator("#styles input[type=range]").nth(2).fill("100")
            after_frames(2 * LIVE_FRAMES)
            page.click("#camera")
            page.locator("#camera", has_text="Paint my camera").wait_for(timeout=WAIT_MS)
            record["url"] = url
            browser.close()
    finally:
        live.LiveStream.paint = paint
    return record


@pytest.mark.slow
def test_the_camera_page_shows_no_console_errors_and_talks_only_to_its_server(camera_visit):
    assert camera_visit["errors"] == []
    server = camera_visit["url"].replace("http://", "")
    assert camera_visit["urls"] and all(
        url.split("://", 1)[1].startswith(server) for url in camera_visit["urls"])
    assert f"ws://{server}/api/live" in camera_visit["urls"]


@pytest.mark.slow
def test_the_camera_is_painted_live_with_its_frame_rate_shown(camera_visit):
    stage = camera_visit["stage"]
    assert int(stage["liveFrames"]) >= LIVE_FRAMES
    assert float(stage["fps"]) > 0 and int(stage["latencyMs"]) > 0
    assert camera_visit["rate"].endswith(" ms") and " fps, " in camera_visit["rate"]
    # What the page shows is the painting the server sent last (or just before).
    for exchanged, screenshot in camera_visit["shown"]:
        shown = decoded(screenshot)
        assert shown.shape == LIVE_SIZE + (3,)
        recent = [np.frombuffer(painted, np.uint8).reshape(LIVE_SIZE + (4,))[..., :3] / 255
                  for _, _, painted in camera_visit["exchanges"][max(0, exchanged - 4):]]
        assert min(np.abs(shown - picture).max() for picture in recent) <= SCREEN_TOLERANCE


@pytest.mark.slow
def test_every_camera_frame_is_painted_and_steadied_as_the_api_does(camera_visit, model):
    from style_transfer.painting import stabilize

    stabilizer = stabilize.make_stabilizer("canvas")
    blends = set()
    for data, request, painted in camera_visit["exchanges"]:
        frame = np.frombuffer(data, np.uint8).reshape(LIVE_SIZE + (4,))[..., :3]
        blend = conditions.check_weights(request.weights, normalize=True)
        blends.add(tuple(blend))
        motion = stabilizer.prepare(frame)
        picture = motion.from_canvas(stylize.stylize(model, motion.canvas, blend))
        expected = images.to_uint8(stabilizer.finish(motion, picture))
        shown = np.frombuffer(painted, np.uint8).reshape(LIVE_SIZE + (4,))[..., :3]
        assert np.abs(shown.astype(int) - expected).max() <= 1
    # The slider moved mid-stream: later frames were painted in the new blend.
    assert blends == {(1.0, 0.0, 0.0), (0.5, 0.0, 0.5)}
