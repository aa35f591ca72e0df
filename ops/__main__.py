"""Operator command line: ``python -m ops COMMAND ...`` (``--help`` lists the commands)."""

from __future__ import annotations

import sys

from ops.cli import main

if __name__ == "__main__":
    sys.exit(main())
