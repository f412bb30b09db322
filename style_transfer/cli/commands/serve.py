"""`style-transfer serve`: a local web page to paint photos with sliders and a brush.

    style-transfer serve                                   # android-26, http://127.0.0.1:8765/
    style-transfer serve --model android-26 --model mine.keras --model arbitrary.keras
    style-transfer serve --port 0                          # any free port (printed)

A thin layer over `style_transfer.web`. The models are loaded (and checked)
before the server listens: a pretrained model's name or a `.keras` file made
by `train`, `add-style` or `train-arbitrary`; the page offers exactly these,
so nothing a visitor sends names a file. It listens on 127.0.0.1 (this
computer only) unless --host says otherwise. Needs the [web] extra.
"""

import math
import socket
import sys
from pathlib import Path

from style_transfer.cli.options import decimal_number, integer_at_least
from style_transfer.base.errors import BadInput
from style_transfer.models.pretrained import DEFAULT_MODEL
from style_transfer.web.settings import ServerSettings

WEB_INSTALL_HINT = "pip install 'cbn-style[web]'"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def register(subparsers):
    defaults = ServerSettings()
    parser = subparsers.add_parser("serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=None, metavar="MODEL.keras|NAME",
                        help="a style model file or a pretrained model's name; repeat to offer "
                        f"several (default: {DEFAULT_MODEL})")
    parser.add_argument("--host", default=defaults.host,
                        help="address to listen on; anything but 127.0.0.1 lets other computers "
                        "use the page")
    parser.add_argument("--port", type=integer_at_least(0), default=defaults.port, help="TCP port (0: any free one)")
    limits = parser.add_argument_group("limits")
    limits.add_argument("--preview-size", type=integer_at_least(), default=defaults.preview_px, metavar="PX",
                        help="long side of the preview painted while sliders move")
    limits.add_argument("--max-upload-mib", type=decimal_number, default=defaults.max_upload_mib,
                        metavar="MIB", help="largest photo or style image file accepted")
    limits.add_argument("--max-megapixels", type=decimal_number, default=defaults.max_megapixels,
                        metavar="MP", help="largest photo accepted (width x height, read from the "
                        "file's header before decoding)")
    limits.add_argument("--max-sessions", type=integer_at_least(), default=defaults.max_sessions, metavar="N",
                        help="browser tabs kept at once (the one idle longest gives way)")
    limits.add_argument("--session-minutes", type=decimal_number, default=defaults.session_minutes,
                        metavar="MIN", help="forget a tab's pictures after this long unused")
    parser.set_defaults(run=run)


def run(args):
    settings = _settings(args)
    try:
        import uvicorn

        from style_transfer.web.app import create_app
    except ImportError as error:
        raise BadInput(f"the web page needs {error.name}, which is not installed; install it "
                       f"with: {WEB_INSTALL_HINT}") from None
    listening = _listen(settings.host, settings.port)
    models = [(_shown_name(name), _load(name)) for name in args.model or [DEFAULT_MODEL]]
    app = create_app(models, settings)
    host, port = listening.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    print(f"Painting with {', '.join(name for name, _ in models)} on "
          f"http://{shown_host}:{port}/ (Ctrl+C to stop)", flush=True)
    if settings.host not in LOOPBACK_HOSTS:
        print(f"style-transfer serve: listening on {settings.host}: other computers can use "
              f"this page.", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[listening])
    return 0


def _settings(args):
    for name, value, least in (("--port", args.port, 0), ("--preview-size", args.preview_size, 16),
                               ("--max-upload-mib", args.max_upload_mib, 0.001),
                               ("--max-megapixels", args.max_megapixels, 0.001),
                               ("--max-sessions", args.max_sessions, 1),
                               ("--session-minutes", args.session_minutes, 0.1)):
        if not (value >= least and math.isfinite(value)):
            raise BadInput(f"{name} must be at least {least}; received {value}.")
    if args.port > 65535:
        raise BadInput(f"--port must be at most 65535; received {args.port}.")
    return ServerSettings(host=args.host, port=args.port, preview_px=args.preview_size,
                          max_upload_mib=args.max_upload_mib,
                          max_megapixels=args.max_megapixels, max_sessions=args.max_sessions,
                          session_minutes=args.session_minutes)


def _listen(host, port):
    """The listening socket, opened before the models load: a taken port fails at once."""
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(128)
    except (OSError, OverflowError) as error:
        listening.close()
        reason = getattr(error, "strerror", None) or str(error)
        raise BadInput(f"cannot listen on {host}:{port}: {reason}.") from None
    return listening


def _shown_name(name):
    """What the page calls a model: a pretrained name, or a file's name (not its folder)."""
    from style_transfer.models.pretrained import REGISTRY

    return name if name in REGISTRY else Path(name).name


def _load(name):
    from style_transfer.models.loading import load_arbitrary_model
    from style_transfer.cli.commands.stylize_arbitrary import MODEL_CLASS
    from style_transfer.models.loading import load_style_model, model_path
    from style_transfer.models.saving import read_model_config

    path = model_path(name)
    if read_model_config(path).get("class_name") == MODEL_CLASS:
        return load_arbitrary_model(path)
    return load_style_model(path)
