"""Every alarm of the app, built one way: a name that says where it belongs, a runbook, a route.

An alarm that wakes someone must say what to do and where it comes from. :func:`alarm` refuses
to build one without a description, ends every description with the README runbook section that
handles it (``stacks/runbooks.py``; the README has one section per :class:`Runbook`, a test keeps
the two in step), and names it ``<prefix>-<env>-<pipeline>-<what>`` (:class:`AlarmScope`).

How an alarm reaches people (its route):

* **Through the notifier** (the default, no alarm actions): CloudWatch sends every state change
  to EventBridge ("CloudWatch Alarm State Change"); the environment's rule
  (``stacks/operations/execution_notifications.py``) hands ALARM and back-to-OK changes of the
  alarms named ``<prefix>-<env>-...`` to the notifier function, which writes them in the one
  message format of ``lambda_src/shared/notification.py``. An alarm that is part of a composite
  alarm (:func:`composite_alarm`) is left out of the rule: the composite speaks for it.
* **Directly** (``AlarmScope.direct_action``): the notifier's own alarms (its errors, its
  dead-letter queue) cannot go through the notifier; they keep an alarm *and* an OK action on the
  alert topic, in CloudWatch's own e-mail format. That is the fallback when the notifier fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from stacks.runbooks import Runbook, runbook_line

#: CloudWatch's limit on an alarm description (PutMetricAlarm/PutCompositeAlarm, botocore model).
DESCRIPTION_LIMIT = 1024
#: CloudWatch's limit on an alarm name (same model; ``tests/contract`` reads it back).
NAME_LIMIT = 255
#: The pipelines an alarm can belong to: name segment -> how messages and dashboards call it.
PIPELINES = {
    "rekognition-training": "Rekognition training",
    "rekognition-inference": "Rekognition inference",
    "rekognition-promotion": "Rekognition promotion",
    "relabel": "Relabel",
    "sagemaker-inference": "SageMaker inference",
    "sagemaker-training": "SageMaker training",
    "operations": "Operations",
}
_SEGMENT = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def kebab(text: str) -> str:
    """``SageMaker classify image (sync)`` / ``ValidateBatch`` -> ``sagemaker-classify-image-sync``
    / ``validate-batch`` (the "what" of an alarm name)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text.replace("SageMaker", "Sagemaker"))
    return "-".join(word.lower() for word in re.findall(r"[A-Za-z0-9]+", spaced))


@dataclass(frozen=True)
class AlarmScope:
    """Where a construct's alarms belong: the environment's name prefix and the pipeline.

    ``direct_action`` is only for alarms that must not depend on the notifier (see the module
    docstring); everything else leaves it ``None``.
    """

    prefix: str
    pipeline: str
    direct_action: cloudwatch.IAlarmAction | None = None

    def __post_init__(self) -> None:
        if self.pipeline not in PIPELINES:
            raise ValueError(f"alarm pipeline {self.pipeline!r}: expected one of {list(PIPELINES)}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.prefix):
            raise ValueError(f"alarm name prefix {self.prefix!r}: lower-case letters, digits, '-'")

    @property
    def pipeline_title(self) -> str:
        return PIPELINES[self.pipeline]

    def name(self, what: str) -> str:
        """``<prefix>-<env>-<pipeline>-<what>``, checked against CloudWatch's limit."""
        if not _SEGMENT.fullmatch(what):
            raise ValueError(f"alarm {what!r}: the 'what' is lower-case words joined by '-'")
        full = f"{self.prefix}-{self.pipeline}-{what}"
        if len(full) > NAME_LIMIT:
            raise ValueError(
                f"alarm name {full!r} has {len(full)} characters (CloudWatch allows {NAME_LIMIT})"
            )
        return full

    def direct(self, action: cloudwatch.IAlarmAction) -> AlarmScope:
        """The same scope, for alarms that notify ``action`` themselves (the fallback route)."""
        return replace(self, direct_action=action)


def alarm_name_of(created: cloudwatch.Alarm | cloudwatch.CompositeAlarm) -> str:
    """The plain name :func:`alarm` gave (not a token: usable across stacks without a reference)."""
    resource = created.node.default_child
    name = getattr(resource, "alarm_name", None)
    if not isinstance(name, str):
        raise ValueError(f"{created.node.path}: not built by alarm() (no plain alarm name)")
    return name


def _description(name: str, description: str, runbook: Runbook) -> str:
    if not description.strip():
        raise ValueError(f"alarm {name}: say what happened and what to do")
    text = f"{description.strip()} {runbook_line(runbook)}"
    if len(text) > DESCRIPTION_LIMIT:
        raise ValueError(
            f"alarm {name}: description has {len(text)} characters "
            f"(CloudWatch allows {DESCRIPTION_LIMIT})"
        )
    return text


def alarm(
    scope: Construct,
    construct_id: str,
    *,
    alarms: AlarmScope,
    what: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    description: str,
    runbook: Runbook,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    comparison: cloudwatch.ComparisonOperator = (
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    ),
    missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
) -> cloudwatch.Alarm:
    """An alarm named ``alarms.name(what)`` that tells the reader what to do."""
    name = alarms.name(what)
    created = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=name,
        alarm_description=_description(name, description, runbook),
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison,
        treat_missing_data=missing_data,
    )
    _route(created, alarms)
    return created


#: Why an alarm routed through the notifier has no action of its own (NIST 800-53 R5 asks for one).
ROUTED_REASON = (
    "Notified through EventBridge, not an alarm action: CloudWatch delivers every state change "
    "of this alarm to EventBridge (a guaranteed delivery), where the environment's rule hands "
    "ALARM and back-to-OK to the notifier function (one message format; the notifier's own "
    "alarms keep direct alarm and OK actions as the fallback). An action here would send each "
    "change twice."
)


def _route(created: cloudwatch.Alarm | cloudwatch.CompositeAlarm, alarms: AlarmScope) -> None:
    if alarms.direct_action is not None:
        created.add_alarm_action(alarms.direct_action)
        created.add_ok_action(alarms.direct_action)
        return
    Validations.of(created).acknowledge(
        Acknowledgment(id="NIST.800.53.R5-CloudWatchAlarmAction", reason=ROUTED_REASON)
    )


def composite_alarm(
    scope: Construct,
    construct_id: str,
    *,
    alarms: AlarmScope,
    what: str,
    children: Sequence[cloudwatch.Alarm],
    description: str,
    runbook: Runbook,
) -> cloudwatch.CompositeAlarm:
    """One alarm for one problem that several alarms detect: ALARM when any child is.

    The children stay on the dashboards but are not notified on their own (the alarm-state rule
    leaves them out); the composite's message names the children that triggered it.
    """
    if len(children) < 2:
        raise ValueError(f"composite alarm {what}: a composite needs two or more children")
    name = alarms.name(what)
    created = cloudwatch.CompositeAlarm(
        scope,
        construct_id,
        composite_alarm_name=name,
        alarm_description=_description(name, description, runbook),
        # By name, not ARN: children in other stacks need no cross-stack reference (the stack
        # of a composite depends on theirs, so they exist first).
        alarm_rule=cloudwatch.AlarmRule.any_of(
            *(
                cloudwatch.AlarmRule.from_string(f'ALARM("{alarm_name_of(child)}")')
                for child in children
            )
        ),
    )
    _route(created, alarms)
    return created
