"""``python -m prefect_tavus.simulator``: see :mod:`prefect_tavus.simulator.cli`."""

import sys

from prefect_tavus.simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
