"""`style-transfer serve`: a local web page to paint photos with sliders and a brush.

    style-transfer serve                                   # android-26, http://127.0.0.1:8765/
    style-transfer serve --model android-26 --model mine.keras --model arbitrary.keras
    style-transfer serve --port 0                          # any free port (printed)

A thin layer over `style_transfer.web`: the options are the model fields of
`PaintConfig` (--model may be repeated) and `ServerSettings`' fields. The
models are loaded (and checked) before the server listens, and the page offers
exactly these, so nothing a visitor sends names a file. It listens on 127.0.0.1
(this computer only) unless --host says otherwise. Needs the [web] extra.
"""

import ipaddress
import sys
from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.cli.options import add_config_options, config_from_args
from style_transfer.painting.config import PaintConfig
from style_transfer.web.settings import ServerSettings

MODEL_FIELDS = ("model", "hub_encoder")


def register(subparsers):
    parser = subparsers.add_parser("serve", description=__doc__.split("\n\n")[0])
    add_config_options(parser, PaintConfig, fields=MODEL_FIELDS, repeatable=("model",))
    add_config_options(parser, ServerSettings)
    parser.set_defaults(run=run)


def run(args):
    from style_transfer.base.extras import import_extra

    settings = config_from_args(ServerSettings, args)
    names = args.model or [PaintConfig().model]
    configs = [config_from_args(PaintConfig, args, model=name, style=(), style_images=())
               for name in names]
    uvicorn = import_extra("uvicorn", "web", "the web page")
    import_extra("starlette", "web", "the web page")
    from style_transfer.web.app import create_app

    listening = _listen(settings.host, settings.port)
    models = [(_shown_name(config.model), _load(config)) for config in configs]
    app = create_app(models, settings)
    host, port = listening.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    print(f"Painting with {', '.join(name for name, _ in models)} on "
          f"http://{shown_host}:{port}/ (Ctrl+C to stop)", flush=True)
    warning = _others_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[listening])
    return 0


def _listen(host, port):
    """The listening socket, opened before the models load: a taken port fails at once."""
    import socket

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


def _others_warning(host):
    """The warning for a server listening on the address `host` (as bound: `--host ""` is
    0.0.0.0, `localhost` 127.0.0.1), or None when only this computer can reach it."""
    if ipaddress.ip_address(host.split("%")[0]).is_loopback:
        return None
    return f"style-transfer serve: listening on {host}: other computers can use this page."


def _load(config):
    """The model of `config`, on its runtime; the hub encoder goes to the models trained
    with one."""
    from style_transfer.models.limits import HUB_ENCODER
    from style_transfer.models.loading import ARBITRARY, load_model, model_kind, model_path
    from style_transfer.models.saving import read_model_config

    path = model_path(config.model)
    with_hub = (model_kind(path) == ARBITRARY
                and read_model_config(path)["config"].get("encoder") == HUB_ENCODER)
    model = load_model(path, hub_encoder=config.hub_encoder if with_hub else None)
    config.prepare(model)
    return model


def _shown_name(name):
    """What the page calls a model: a pretrained name, or a file's name (not its folder)."""
    from style_transfer.models.pretrained import REGISTRY

    return name if name in REGISTRY else Path(name).name
