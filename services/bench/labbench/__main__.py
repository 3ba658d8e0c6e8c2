"""``python -m labbench``: see labbench.cli."""

import sys

from labbench.cli import main

sys.exit(main())
