"""``python -m tavus_simulator``: see :mod:`tavus_simulator.cli`."""

import sys

from tavus_simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
