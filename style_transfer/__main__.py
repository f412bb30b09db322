"""`python -m style_transfer`: the `style-transfer` command line."""

import sys

from style_transfer.cli.main import main

sys.exit(main())
