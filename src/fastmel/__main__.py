"""``python -m fastmel``: the same as the ``fastmel`` command."""

import sys

from .cli import main

sys.exit(main())
