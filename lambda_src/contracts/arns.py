"""ARN patterns the code parses or validates (the configuration, the functions and ops alike)."""

from __future__ import annotations

import re
from typing import Final

#: A Rekognition Custom Labels model version:
#: ``arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<created>``.
MODEL_VERSION_ARN: Final = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):rekognition:(?P<region>[a-z]{2}(-[a-z]+)+-\d):"
    r"(?P<account>\d{12}):project/(?P<project>[a-zA-Z0-9_.\-]{1,255})/version/"
    r"(?P<version>[a-zA-Z0-9_.\-]{1,255})/(?P<created>\d{1,20})"
)
