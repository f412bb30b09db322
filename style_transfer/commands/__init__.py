"""The subcommands of `style-transfer`, each a module with `register(subparsers)`.

A module's `register` adds its parser (every option with help and default) and
sets `run=<function(args) -> exit code>` as the parser's default.
"""

from style_transfer.commands import demo, train  # noqa: E402
from style_transfer.commands import train_arbitrary  # noqa: E402
from style_transfer.commands import export, stylize  # noqa: E402
from style_transfer.commands import add_style, pretrained, video  # noqa: E402

COMMANDS = [demo, stylize, video, pretrained, train, train_arbitrary, export, add_style]
