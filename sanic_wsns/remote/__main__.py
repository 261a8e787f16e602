"""``python -m sanic_wsns.remote URL``: see ``cli``."""

import sys

from .cli import main

sys.exit(main())
