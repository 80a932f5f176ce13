"""`python -m groove`: the `groove` command line."""

import sys

from groove.cli import main

if __name__ == "__main__":
    sys.exit(main())
