"""Composite alarms: where several alarms mean one problem, one message says so.

A broken SageMaker endpoint fails requests (5XX), fails the classify function and fails the
runs of all three classification workflows at once; an inference queue that nobody drains shows
as an old backlog, a model needing attention and a failing consumer or controller. Each of those
problems gets one composite alarm (ALARM when any child is), which is what the notifier sends;
the children stay visible on the dashboards and in ``ops status``, and the composite's message
names the children that triggered it.
"""

from __future__ import annotations

from collections.abc import Mapping

from stacks.building_blocks.alarms import AlarmScope
from stacks.operations.alarms import CompositeSpec
from stacks.runbooks import Runbook


def composites(scopes: Mapping[str, AlarmScope]) -> list[CompositeSpec]:
    """The environment's composite alarms, children named as :class:`AlarmScope` names them."""
    sagemaker, rekognition = scopes["sagemaker-inference"], scopes["rekognition-inference"]
    return [
        CompositeSpec(
            scope=sagemaker,
            what="failing",
            runbook=Runbook.SAGEMAKER_FAILING,
            description=(
                "SageMaker inference is failing: the endpoint answers 5XX errors, the classify "
                "function fails, or classification runs keep failing for reasons other than "
                "low confidence. These alarms usually fire together when the endpoint is "
                "unhealthy; the message names the ones that triggered."
            ),
            children=tuple(
                sagemaker.name(what)
                for what in (
                    "endpoint-5xx",
                    "classify-function-errors",
                    "classify-image-runs-failed",
                    "classify-image-sync-runs-failed",
                    "classify-batch-runs-failed",
                )
            ),
        ),
        CompositeSpec(
            scope=rekognition,
            what="stalled",
            runbook=Runbook.INFERENCE_STALLED,
            description=(
                "Rekognition inference is not keeping up: images wait too long, the model "
                "needs a person, or the consumer or the model controller keeps failing. The "
                "message names the alarms that triggered; each has its own runbook section."
            ),
            children=tuple(
                rekognition.name(what)
                for what in (
                    "backlog-too-old",
                    "model-needs-attention",
                    "consumer-errors",
                    "controller-errors",
                )
            ),
        ),
    ]
