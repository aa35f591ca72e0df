"""Operator command line: ``ops --help`` (or ``python -m ops --help``).

The commands import the contracts and the functions' shared code from ``lambda_src``; importing
``stacks`` (whose ``__init__`` puts ``lambda_src`` on ``sys.path``, the one place that does) comes
first so that every ``ops`` module can import them at its top.
"""

import stacks  # noqa: F401  (puts lambda_src on sys.path)
