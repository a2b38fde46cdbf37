"""``python -m jaxmicro``: the same command line as the ``jaxmicro`` console script."""

import sys

from jaxmicro.cli import main

if __name__ == "__main__":
    sys.exit(main())
