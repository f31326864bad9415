"""``python -m charges.engine INPUT.json``: see charges.engine.cli and engine-io.md."""

import sys

from .cli import main

sys.exit(main())
