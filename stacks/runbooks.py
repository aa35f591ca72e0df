"""The README runbook sections alarms point to, and how an alarm description names one.

Plain Python (no CDK import): the operator command line reads descriptions back with
:func:`runbook_of` and must start fast. ``stacks/building_blocks/alarms.py`` writes them.
"""

from __future__ import annotations

import re
from enum import Enum

#: How every alarm description ends: ``Runbook: README > Runbooks > <section>.``
RUNBOOK_PREFIX = "Runbook: README > Runbooks > "
_RUNBOOK = re.compile(re.escape(RUNBOOK_PREFIX) + r"(?P<section>[^.]+)\.$")


class Runbook(Enum):
    """README sections under "Runbooks" (``### <value>``), one per kind of alarm."""

    WORKFLOW_FAILED = "Workflow executions failed"
    WORKFLOW_TIMED_OUT = "Workflow executions timed out"
    WORKFLOW_THROTTLED = "Workflow executions throttled"
    LAMBDA_ERRORS = "Lambda errors"
    EVALUATION_FAILED = "Evaluation (metrics) function failures"
    DEAD_LETTER = "Dead-letter queue not empty"
    BACKLOG = "Inference backlog too old"
    MODEL_ATTENTION = "Model needs attention"
    MODEL_IDLE = "Model running without work"
    LOW_CONFIDENCE = "Low-confidence ratio too high (drift)"
    ENDPOINT_5XX = "Endpoint 5XX errors"
    ENDPOINT_ROLLBACK = "Endpoint update rolled back"
    DRIFT = "Prediction drift"
    CAPACITY_UPDATES = "Model capacity updates failing"
    INFERENCE_STALLED = "Rekognition inference stalled"
    SAGEMAKER_FAILING = "SageMaker inference failing"


def runbook_line(runbook: Runbook) -> str:
    """The sentence an alarm description ends with."""
    return f"{RUNBOOK_PREFIX}{runbook.value}."


def runbook_of(description: str) -> str | None:
    """The runbook section an alarm description names, or None (not one of ours)."""
    match = _RUNBOOK.search(description)
    return match["section"] if match else None
