"""Draws docs/web_page.png, the README's picture of the web page (needs Chromium and Playwright).

    python docs/web_page_screenshot.py

Serves android-26 from this process, opens the page in headless Chromium, takes the bundled
cat, blends two styles, paints a region in a third and saves a screenshot (256 colours).
"""

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from style_transfer.models.loading import load_pretrained  # noqa: E402
from style_transfer.web.app import create_app  # noqa: E402
from tests.style_transfer.web.test_web_browser import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.style_transfer.web.web_server import serving  # noqa: E402

OUT = Path(__file__).resolve().parent / "web_page.png"


def main():
    with serving(create_app([("android-26", load_pretrained("android-26"))])) as url, \
            sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1120, "height": 640})
        page.goto(url)
        page.locator('#stage[data-state="ready"]').wait_for()

        def settled(action):
            before = page.locator("#stage").get_attribute("data-previews")
            action()
            page.locator(f'#stage[data-state="ready"]:not([data-previews="{before}"])').wait_for(
                timeout=120_000)

        settled(lambda: page.select_option("#bundled", "chelsea"))
        settled(lambda: page.locator("#styles input[type=range]").nth(19).fill("60"))
        page.click("#add-region")
        settled(lambda: page.select_option("#region-list select", "10"))
        page.fill("#brush", "48")
        box = page.locator("#regions").bounding_box()

        def paint():
            page.mouse.move(box["x"] + 250, box["y"] + 40)
            page.mouse.down()
            for y in range(40, 240, 20):
                page.mouse.move(box["x"] + 370, box["y"] + y, steps=5)
                page.mouse.move(box["x"] + 250, box["y"] + y + 10, steps=5)
            page.mouse.up()

        settled(paint)
        page.uncheck("#show-regions")  # the painting itself, not the brush's overlay
        picture = Image.open(io.BytesIO(page.screenshot()))
        browser.close()
    picture.convert("RGB").quantize(256).save(OUT, optimize=True)


if __name__ == "__main__":
    main()
