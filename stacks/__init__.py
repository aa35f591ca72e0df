"""The CDK app's stacks, constructs and configuration.

The contracts the stacks share with the functions and ``ops`` (``contracts.*``: S3 layout,
metric names, naming, limits; record schemas in ``shared``) live in ``lambda_src``, the
functions' asset root, so there is one copy of each; importing any ``stacks`` module puts it on
``sys.path``, once, here (``ops`` imports ``stacks`` first for the same reason).
"""

import sys
from pathlib import Path

LAMBDA_SOURCE = Path(__file__).resolve().parents[1] / "lambda_src"
if str(LAMBDA_SOURCE) not in sys.path:
    sys.path.insert(0, str(LAMBDA_SOURCE))
