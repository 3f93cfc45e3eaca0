"""``python -m pvesim``: see :mod:`pvesim.cli`."""

import sys

from pvesim.cli import main

sys.exit(main())
