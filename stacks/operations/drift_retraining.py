"""A drift alarm starts the relabel workflow (``drift.start_retraining``, off by default).

The environment's drift alarms are folded into one composite alarm ("any drift alarm"), and an
EventBridge rule on that composite's "CloudWatch Alarm State Change" to ``ALARM`` starts the
relabel workflow with ``{"trigger": "drift"}``. One composite, not a rule on each alarm: the
evaluator publishes all figures of a run at once, so two figures breaching together would start
two runs within seconds, and the relabel workflow's one-job-at-a-time check would then let each
run see the other and end both without a job. The composite goes to ``ALARM`` once per episode
(when the first drift alarm does) and back to ``OK`` when all are quiet again. The rule matches
the composite's ARN exactly, so no other environment's alarm (same account, similar names)
starts this environment's workflow.

Owned by the monitoring stack, which owns the drift alarms and already depends on the relabel
stack (it watches every pipeline); a rule in the relabel stack would need the alarms' ARNs from
the monitoring stack and make the two stacks depend on each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from relabel.request import DRIFT_TRIGGER
from stacks.building_blocks.alarms import AlarmScope
from stacks.building_blocks.queue import DeadLetterQueue
from stacks.runbooks import Runbook, runbook_line

#: What the relabel workflow is started with (a request ``relabel.request`` accepts).
RETRAINING_INPUT = {"trigger": DRIFT_TRIGGER}
#: EventBridge's retries of StartExecution (throttling, a service error) before the DLQ.
RETRY_ATTEMPTS = 8
MAX_EVENT_AGE = Duration.hours(6)


def alarm_scope(resource_name_prefix: str) -> AlarmScope:
    """Where the composite and its dead-letter queue's alarm belong: the operations alarms."""
    return AlarmScope(prefix=resource_name_prefix, pipeline="operations")


def retraining_alarm_name(resource_name_prefix: str) -> str:
    """The composite alarm's name: ``<prefix>-<env>-operations-drift-retraining``."""
    return alarm_scope(resource_name_prefix).name("drift-retraining")


def state_change_pattern(alarm_arn: str) -> events.EventPattern:
    """The composite alarm's change to ``ALARM``, by its exact ARN."""
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=["CloudWatch Alarm State Change"],
        resources=[alarm_arn],
        detail={"state": {"value": ["ALARM"]}},
    )


class DriftRetraining(Construct):
    """Composite of the drift alarms, and the rule that starts the relabel workflow on it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resource_name_prefix: str,
        drift_alarms: Sequence[cloudwatch.IAlarm],
        state_machine: sfn.IStateMachine,
        encryption_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        if not drift_alarms:
            raise ValueError("DriftRetraining: no drift alarms to watch")
        #: Not routed to the notifier either (the monitoring stack leaves it out of the alarm
        #: rule): each drift alarm already notifies; this one only starts the workflow.
        self.alarm_name = retraining_alarm_name(resource_name_prefix)
        # No action of its own: each drift alarm already notifies.
        self.alarm = cloudwatch.CompositeAlarm(
            self,
            "AnyDrift",
            composite_alarm_name=self.alarm_name,
            alarm_description=(
                "In ALARM while any drift alarm of this environment is; its change to ALARM "
                "starts the relabel workflow (drift.start_retraining). "
                + runbook_line(Runbook.DRIFT)
            ),
            alarm_rule=cloudwatch.AlarmRule.any_of(*drift_alarms),
            actions_enabled=False,
        )
        self.dead_letter = DeadLetterQueue(
            self,
            "Undelivered",
            encryption_key=encryption_key,
            alarms=alarm_scope(resource_name_prefix),
            what="drift-retraining-undelivered",
            source_description="The drift retraining rule, after its retries of StartExecution,",
        )
        account = Stack.of(self).account
        self.role = iam.Role(
            self,
            "StartRole",
            description="EventBridge starts the relabel workflow on drift",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            ),
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[state_machine.state_machine_arn]
            )
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="NIST.800.53.R5-IAMNoInlinePolicy",
                reason="The rule's role holds one exact statement (StartExecution on the relabel "
                "workflow); an inline policy lives and dies with its role.",
            )
        )
        self.rule = events.Rule(
            self,
            "StartRelabel",
            description="A drift alarm went to ALARM: label the pending reviews, then retrain",
            event_pattern=state_change_pattern(self.alarm.alarm_arn),
            targets=[
                targets.SfnStateMachine(
                    state_machine,
                    input=events.RuleTargetInput.from_object(RETRAINING_INPUT),
                    role=self.role,
                    dead_letter_queue=self.dead_letter.queue,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                )
            ],
        )
