"""The web page's speed: how long `style-transfer serve` takes to start, and a preview to come back.

    python benchmarks/bench_web.py            # android-26, 384 px previews, 15 rounds (a few minutes)
    python benchmarks/bench_web.py --quick    # 64 px previews, 2 rounds: a smoke test

Starts `style-transfer serve --model android-26 --port 0` as its own process (the
converted model cached, as after a first use) and, as the page would, over HTTP
on 127.0.0.1 from this process:

1. Start-up: seconds from starting the process to its first answer (TensorFlow's
   import, loading the model and painting a first tiny picture included).
2. Preview latency: a request's round trip (JSON in, PNG out) for scikit-image's
   photo of a cat at the preview size (384 px on its long side, the default),
   in interleaved rounds (`benchmarks/timing.py`): one style; a blend of three;
   the blend with strength 0.7 and preserved colours; two painted regions in two
   other styles around the blend: the first preview (three passes of the
   network, mixed with soft edges), a slider moved (the blend repainted, the
   regions' pictures kept) and a brush stroke (the regions sent, then a
   preview that paints nothing new). The issue's target: under 300 ms with the
   slim pretrained network.
3. The live camera: headless Chromium (Debian's, driven by Playwright) opens
   the page with its fake camera (`--use-fake-device-for-media-stream`, a
   640x480 test pattern, scaled by the page to 320x240) and paints it live,
   stabilized; the frame rate and the latency (a frame sent to its painting
   shown) are read from the page over `LIVE_SECONDS` after a warm-up. Skipped
   without Chromium or Playwright.

Prints markdown tables and writes the raw samples to RESULTS_DIR/web.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # Run as a file: make `benchmarks` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

from benchmarks import preamble  # noqa: E402  (first: before TensorFlow is imported)
from benchmarks.machine import print_machine  # noqa: E402
from benchmarks.timing import summarize, time_interleaved  # noqa: E402

MODEL = "android-26"
PREVIEW_PX = 384
QUICK_PREVIEW_PX = 64
REPETITIONS = 15
START_TIMEOUT_S = 300
TARGET_MS = 300
LIVE_SECONDS = 20
LIVE_WARMUP_FRAMES = 10
LIVE_TARGET_FPS = 15
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream"]

STYLES = 26


def blend(call):
    """Styles 19, 3 and 10 (0.5, 0.3, 0.2), nudged at every call: a slider that moves."""
    weights = [0.0] * STYLES
    weights[19], weights[3], weights[10] = 0.5 + 1e-3 * call, 0.3, 0.2
    return weights


# Each case's request at its n-th call. The server keeps the pictures of the conditions it
# painted for a photo (a slider moved back costs nothing), so each call asks for a condition
# not painted before, as a moving slider does, except where the case is a brush stroke.
CASES = {
    "one style (1 pass)": lambda call: {"weights": [float(index == call % STYLES)
                                                    for index in range(STYLES)]},
    "blend of 3 styles (1 pass)": lambda call: {"weights": blend(call)},
    "blend, strength, colours kept (1 pass)": lambda call: {
        "weights": blend(call), "strength": 0.7, "preserve_color": True},
    "2 regions + blend, first preview (3 passes)": lambda call: {
        "weights": blend(0), "strength": 1 - 1e-4 * call, "regions": [6, 13]},
    "2 regions, a slider moved (1 pass)": lambda call: {
        "weights": blend(call), "regions": [6, 13]},
    "2 regions, a brush stroke (0 passes; regions sent, then the preview)": "stroke",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 px previews, 2 rounds")
    preamble.add_results_dir_argument(parser, "web.json (the raw samples)")
    args = parser.parse_args(argv)
    preview_px = QUICK_PREVIEW_PX if args.quick else PREVIEW_PX
    repetitions = 2 if args.quick else REPETITIONS

    print_machine()
    started = time.perf_counter()
    # The server's error stream goes to a file, and its output is drained after the first
    # line: a pipe nobody reads fills up and stops the server at its next log line.
    errors = tempfile.TemporaryFile("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "style_transfer.cli.main", "serve", "--model", MODEL, "--port", "0",
         "--preview-size", str(preview_px)],
        stdout=subprocess.PIPE, stderr=errors, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    try:
        line = server.stdout.readline()
        if " on http://" not in line:
            server.wait(timeout=60)
            errors.seek(0)
            raise RuntimeError(f"the server did not start: {line}{errors.read()}")
        threading.Thread(target=server.stdout.read, daemon=True).start()
        url = line.split(" on ", 1)[1].split()[0]
        _request(url + "api/config")
        startup_s = time.perf_counter() - started
        # Two visitors with the same photo: one paints regions, the other does not.
        sessions = {}
        for painted in (False, True):
            session = json.loads(_request(url + "api/sessions", b""))["session"]
            photo = json.loads(_request(url + "api/photo/bundled/chelsea", b"", session))
            size = (photo["preview_height"], photo["preview_width"])
            if painted:
                labels = np.zeros(size, np.uint8)
                labels[: size[0] // 2, size[1] // 2:] = 1
                labels[size[0] // 2:, : size[1] // 3] = 2
                _request(url + "api/regions", labels.tobytes(), session, method="PUT")
            sessions[painted] = session

        def preview(case):
            calls = iter(range(1, 10**6))
            if case == "stroke":
                body = json.dumps({"model": 0, "weights": blend(0), "regions": [6, 13]}).encode()
                _request(url + "api/preview", body, sessions[True])  # its pictures, painted

                def stroke():
                    _request(url + "api/regions", labels.tobytes(), sessions[True], method="PUT")
                    _request(url + "api/preview", body, sessions[True])
                return stroke

            def request():
                body = json.dumps({"model": 0, **case(next(calls))}).encode()
                _request(url + "api/preview", body, sessions["regions" in case(0)])
            return request

        samples = time_interleaved({name: preview(case) for name, case in CASES.items()},
                                   repetitions, warmup=1)
        live = _live_camera(url, 2 if args.quick else LIVE_SECONDS)
    finally:
        server.terminate()
        server.wait(timeout=60)

    print(f"\n## Start-up of `style-transfer serve --model {MODEL}`\n")
    print(f"| from process start to first answer | {startup_s:.1f} s |")
    print("| --- | ---: |")
    print(f"\n## Preview latency, {size[1]} x {size[0]} px, HTTP round trip "
          f"(target {TARGET_MS} ms)\n")
    print("| request | ms (median) | q1 - q3 | min | repetitions |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, times in samples.items():
        summary = summarize(times)
        print(f"| {name} | {summary['median_ms']:.0f} | {summary['q1_ms']:.0f} - "
              f"{summary['q3_ms']:.0f} | {summary['min_ms']:.0f} | {summary['repetitions']} |")
    over = [name for name, times in samples.items() if statistics.median(times) >= TARGET_MS]
    print(f"\nMedians over the {TARGET_MS} ms target: {', '.join(over) or 'none'}.")
    print("\n## Live camera: Chromium's fake camera painted by the page, stabilized "
          f"(target {LIVE_TARGET_FPS} fps)\n")
    print("| frame size | frames | seconds | fps | latency ms (median) | load average |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    if live is None:
        print("| (no Chromium or Playwright: not measured) | | | | | |")
    else:
        print(f"| {live['width']} x {live['height']} | {live['frames']} | "
              f"{live['seconds']:.1f} | {live['fps']:.1f} | {live['latency_ms']:.0f} | "
              f"{live['load']} |")
    preamble.write_json(preamble.results_folder(args) / "web.json", {
        "model": MODEL, "preview_size": [size[1], size[0]], "startup_s": startup_s,
        "preview_ms": samples, "live": live})


def _live_camera(url, seconds):
    """Frames per second and latency of the page painting Chromium's fake camera, or None."""
    from benchmarks.machine import load_average

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).is_file():
        return None
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(url)
        page.locator('#stage[data-state="ready"]').wait_for(timeout=1000 * START_TIMEOUT_S)
        stage = page.locator("#stage")

        def frames():
            return int(stage.get_attribute("data-live-frames"))

        page.click("#camera")
        deadline = time.perf_counter() + START_TIMEOUT_S
        while frames() < LIVE_WARMUP_FRAMES:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the live camera painted {frames()} frames in "
                                   f"{START_TIMEOUT_S} s: {page.locator('#status').inner_text()}")
            page.wait_for_timeout(50)
        first, started = frames(), time.perf_counter()
        latencies = []
        while time.perf_counter() - started < seconds:
            page.wait_for_timeout(250)
            latencies.append(int(stage.get_attribute("data-latency-ms")))
        count, elapsed = frames() - first, time.perf_counter() - started
        width, height = (int(page.locator("#picture").get_attribute(side))
                         for side in ("width", "height"))
        page.click("#camera")
        browser.close()
    return {"width": width, "height": height, "frames": count, "seconds": elapsed,
            "fps": count / elapsed, "latency_ms": statistics.median(latencies),
            "load": load_average()}


def _request(url, body=None, session=None, method=None):
    headers = {"X-Session": session} if session else {}
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=START_TIMEOUT_S) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{url}: {error.code} {error.read().decode()}") from None


if __name__ == "__main__":
    main()
