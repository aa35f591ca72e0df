"""What a relabel run may be started with, checked field by field before anything is read.

``{}`` (an operator's run with the configured workteam), or any of ``workteam_arn`` (a private
workteam for this run), ``trigger`` (``operator``, ``schedule``, ``threshold``: the schedules'
rules say which they are) and ``max_images`` (fewer images than configured). Used by the
workflow's first state and by ``ops review start``.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

TRIGGERS = ("operator", "schedule", "threshold")
REQUEST_FIELDS = ("workteam_arn", "trigger", "max_images")


class InvalidRequestError(ValueError):
    """The execution input is not a relabel request."""


def parse_request(request: Any, max_images: int, workteam_arn: re.Pattern[str]) -> dict[str, Any]:
    """The request with its defaults; ``workteam_arn`` is the configuration's ARN pattern."""
    if request is None:
        request = {}
    if not isinstance(request, dict):
        raise InvalidRequestError(
            f"the input must be a JSON object such as {{}}, got {type(request).__name__}"
        )
    for name in request:
        if name not in REQUEST_FIELDS:
            close = difflib.get_close_matches(str(name), REQUEST_FIELDS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(REQUEST_FIELDS)}"
            raise InvalidRequestError(f"unknown field {name!r}; {hint}")
    workteam = request.get("workteam_arn")
    if workteam is not None and (
        not isinstance(workteam, str) or not workteam_arn.fullmatch(workteam)
    ):
        raise InvalidRequestError(
            f"workteam_arn must be a private workteam ARN (arn:aws:sagemaker:<region>:"
            f"<account>:workteam/private-crowd/<name>), got {workteam!r}"
        )
    trigger = request.get("trigger", "operator")
    if trigger not in TRIGGERS:
        raise InvalidRequestError(f"trigger must be one of {', '.join(TRIGGERS)}, got {trigger!r}")
    limit = request.get("max_images", max_images)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= max_images:
        raise InvalidRequestError(
            f"max_images must be a whole number 1-{max_images}, got {limit!r}"
        )
    return {"workteam_arn": workteam, "trigger": trigger, "max_images": limit}
