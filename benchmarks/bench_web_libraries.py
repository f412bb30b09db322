"""Which library the web page is built on: Gradio against Starlette + Uvicorn, measured.

    python benchmarks/bench_web_libraries.py            # both candidates, 5 rounds (about 5 minutes)
    python benchmarks/bench_web_libraries.py --quick    # Starlette only, 1 round: a smoke test

Each candidate is installed with pip into its own fresh virtual environment in a
temporary folder (the package registry must be reachable), then measured there:

1. What it installs: the distributions pip adds to an empty environment and
   their size on disk (the environment's site-packages, less an empty
   environment's).
2. Start-up: a fresh Python process importing the library (seconds, less a
   process that imports nothing), and a minimal page with a slider and a
   picture (the smallest app of each kind) from process start to its first
   HTTP 200 on 127.0.0.1. The candidates are started in interleaved rounds
   (`benchmarks/timing.py`'s idea): a busy phase of the machine is shared.

Neither number includes TensorFlow, which `style-transfer serve` imports either
way. Prints markdown tables and writes the raw samples to
RESULTS_DIR/web_libraries.json.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # Run as a file: make `benchmarks` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import preamble  # noqa: E402
from benchmarks.machine import print_machine  # noqa: E402

ROUNDS = 5
FIRST_RESPONSE_TIMEOUT_S = 120

# The smallest page of each kind that shows what ours needs: a slider and a picture.
CANDIDATES = {
    "gradio": {
        "requirements": ["gradio"],
        "import": "gradio",
        "app": """
            import os, sys
            import gradio as gr
            import numpy as np

            def paint(value):
                return np.full((64, 64, 3), int(value), np.uint8)

            with gr.Blocks() as page:
                slider = gr.Slider(0, 255)
                picture = gr.Image()
                slider.change(paint, slider, picture)
            page.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
        """,
    },
    "starlette": {
        "requirements": ["starlette", "uvicorn"],
        "import": "starlette.applications, uvicorn",
        "app": """
            import sys
            import uvicorn
            from starlette.applications import Starlette
            from starlette.responses import HTMLResponse, Response
            from starlette.routing import Route

            PAGE = '<input type="range" id="s"><img id="p" src="/picture">'

            async def page(request):
                return HTMLResponse(PAGE)

            async def picture(request):
                return Response(b"", media_type="image/png")

            app = Starlette(routes=[Route("/", page), Route("/picture", picture)])
            uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
        """,
    },
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Starlette only, one round")
    preamble.add_results_dir_argument(parser, "web_libraries.json (the raw samples)")
    args = parser.parse_args(argv)
    names = ["starlette"] if args.quick else list(CANDIDATES)
    rounds = 1 if args.quick else ROUNDS
    print_machine()
    results = {}
    with tempfile.TemporaryDirectory(prefix="web-libraries-") as folder:
        folder = Path(folder)
        empty = _make_environment(folder / "empty")
        empty_bytes = _size_bytes(_site_packages(empty))
        empty_distributions = set(_distributions(empty))
        environments = {}
        for name in names:
            environment = _make_environment(folder / name)
            subprocess.run([str(environment / "bin" / "pip"), "install", "-q",
                            *CANDIDATES[name]["requirements"]], check=True)
            environments[name] = environment
            added = sorted(set(_distributions(environment)) - empty_distributions)
            results[name] = {
                "distributions": added,
                "installed_mib": (_size_bytes(_site_packages(environment)) - empty_bytes) / 2**20,
                "import_s": [], "first_response_s": [],
            }
        for _ in range(rounds):
            baseline = _process_seconds(empty, "pass")
            for name in names:
                environment = environments[name]
                import_s = _process_seconds(environment, f"import {CANDIDATES[name]['import']}")
                results[name]["import_s"].append(import_s - baseline)
                results[name]["first_response_s"].append(
                    _first_response_seconds(environment, CANDIDATES[name]["app"], folder))

    print("\n## What each candidate installs and how fast it starts\n")
    print("| library | distributions added | installed MiB | import s (median) "
          "| first HTTP 200 s (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, result in results.items():
        import_s = statistics.median(result["import_s"])
        first_s = statistics.median(result["first_response_s"])
        print(f"| {name} | {len(result['distributions'])} | {result['installed_mib']:.0f} "
              f"| {import_s:.2f} | {first_s:.2f} |")
    for name, result in results.items():
        print(f"\n{name} adds: {', '.join(result['distributions'])}")
    preamble.write_json(preamble.results_folder(args) / "web_libraries.json", results)


def _make_environment(path):
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run([str(path / "bin" / "pip"), "install", "-q", "--upgrade", "pip"], check=True)
    return path


def _site_packages(environment):
    return next((environment / "lib").glob("python3*/site-packages"))


def _size_bytes(folder):
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()
               and not path.is_symlink())


def _distributions(environment):
    listed = subprocess.run([str(environment / "bin" / "pip"), "list", "--format", "json"],
                            check=True, capture_output=True, text=True).stdout
    return [entry["name"].lower() for entry in json.loads(listed)]


def _process_seconds(environment, code):
    started = time.perf_counter()
    subprocess.run([str(environment / "bin" / "python"), "-c", code], check=True,
                   env=_quiet_environment())
    return time.perf_counter() - started


def _first_response_seconds(environment, app, folder):
    """Seconds from starting the app's process to its page's first HTTP 200."""
    script = folder / "app.py"
    script.write_text(textwrap.dedent(app))
    port = _free_port()
    started = time.perf_counter()
    process = subprocess.Popen([str(environment / "bin" / "python"), str(script), str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=_quiet_environment())
    try:
        while time.perf_counter() - started < FIRST_RESPONSE_TIMEOUT_S:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"{script} served nothing within {FIRST_RESPONSE_TIMEOUT_S} s")
    finally:
        process.terminate()
        process.wait()


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _quiet_environment():
    # Gradio reports usage and checks for new versions over the network unless told not to.
    return dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", NO_PROXY="127.0.0.1")


if __name__ == "__main__":
    main()
