"""``python -m actors``: see :mod:`actors.cli`."""

import sys

from actors.cli import main

sys.exit(main())
