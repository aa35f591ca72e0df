"""The CDK app's stacks, constructs and configuration.

Stacks read the contracts they share with the functions (S3 key layouts, record schemas) from
``lambda_src`` itself, the functions' asset root, so there is one copy of each: it is put on the
import path here, as ``ops`` does for the operator command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

_LAMBDA_SOURCE = str(Path(__file__).resolve().parent.parent / "lambda_src")
if _LAMBDA_SOURCE not in sys.path:
    sys.path.append(_LAMBDA_SOURCE)
