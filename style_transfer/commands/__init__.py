"""The subcommands of `style-transfer`, each a module with `register(subparsers)`.

A module's `register` adds its parser (every option with help and default) and
sets `run=<function(args) -> exit code>` as the parser's default.

`COMMAND_MODULES` maps each command's name to the module that registers it, so
that the command line imports only the module of the command it runs: some
modules read defaults from modules that load TensorFlow, and `serve --help` or
`stylize --help` should not wait for that.
"""

import importlib

COMMAND_MODULES = {
    "demo": "demo",
    "stylize": "stylize",
    "video": "video",
    "serve": "serve",
    "pretrained": "pretrained",
    "train": "train",
    "train-arbitrary": "train_arbitrary",
    "export": "export",
    "add-style": "add_style",
    "remove-style": "add_style",
    "rename-style": "add_style",
}


def command_modules(names=None):
    """The modules registering `names` (default: every command), each once, in listed order."""
    wanted = COMMAND_MODULES if names is None else names
    modules = dict.fromkeys(COMMAND_MODULES[name] for name in COMMAND_MODULES if name in wanted)
    return [importlib.import_module(f"style_transfer.commands.{module}") for module in modules]
