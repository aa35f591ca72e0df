"""The notifier: one readable message format for failed runs and for alarms.

Two EventBridge rules invoke one function that writes the message in the shared format
(``lambda_src/shared/notification.py``) to the alert topic:

- **Execution status changes** of this environment's Standard state machines (Express
  workflows send no such events) that end FAILED, TIMED_OUT or ABORTED. The workflows notify
  from their own failure path; this covers what that path cannot (a timeout, an abort, an error
  no Catch reaches, the notify step failing). A FAILED run whose own notification was sent is
  not notified again: the function reads the end of the run's history for a successful
  ``NotifyFailure`` step (:data:`FAILURE_NOTIFICATION_STATE`).
- **Alarm state changes** ("CloudWatch Alarm State Change") of the alarms named
  ``<prefix>-<env>-...``, except the children of composite alarms and the notifier's own alarms
  (which notify the topic directly: the fallback when the notifier fails).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contracts.metrics import EXECUTION_NOTIFIER_SERVICE
from stacks.building_blocks.alarms import PIPELINES, AlarmScope
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.iam import acknowledge_resources
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.state_machine import FAILURE_NOTIFICATION_STATE, Workflow
from stacks.runbooks import RUNBOOK_PREFIX

#: Execution statuses that need a person (SUCCEEDED is reported by the workflows themselves).
REPORTED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
#: Alarm states that are notified: a problem, and its end (an OK after ALARM; the function
#: drops an OK that follows INSUFFICIENT_DATA, e.g. a new alarm's first evaluation).
REPORTED_ALARM_STATES = ("ALARM", "OK")


class ExecutionStatusNotifications(Construct):
    """The EventBridge rule and the function that turns its events into alert messages."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_name: str,
        workflows: Sequence[Workflow],
        alerts: AlertTopic,
        defaults: FunctionDefaults,
        alarm_scope: AlarmScope,
    ) -> None:
        """``alarm_scope``: the notifier's own alarms; they take the direct route."""
        super().__init__(scope, construct_id)
        self._alarm_prefix = f"{alarm_scope.prefix}-"
        standard = [
            workflow
            for workflow in workflows
            if workflow.state_machine_type is sfn.StateMachineType.STANDARD
        ]
        if not standard:
            raise ValueError(f"{construct_id}: no Standard workflow to watch")
        self.workflows = standard
        pipelines = {
            workflow.state_machine.state_machine_arn: workflow.workflow_name
            for workflow in standard
        }
        self.function = PythonFunction(
            self,
            "Notifier",
            handler="execution_notifier.handler.lambda_handler",
            description="Publishes a readable message for a failed run or an alarm state change",
            memory_size=256,
            timeout=Duration.seconds(30),
            invocation=Invocation.ASYNCHRONOUS,
            alarms=alarm_scope.direct(alerts.alarm_action),
            service_name=EXECUTION_NOTIFIER_SERVICE,
            **defaults.kwargs(),
            environment={
                "ENVIRONMENT_NAME": environment_name,
                "ALERT_TOPIC_ARN": alerts.topic.topic_arn,
                "PIPELINES": Stack.of(self).to_json_string(pipelines),
                "FAILURE_NOTIFICATION_STATE": FAILURE_NOTIFICATION_STATE,
                "ALARM_NAME_PREFIX": self._alarm_prefix,
                "ALARM_PIPELINES": Stack.of(self).to_json_string(PIPELINES),
                "RUNBOOK_PREFIX": RUNBOOK_PREFIX,
            },
        )
        alerts.grant_publish(self.function.role)
        # The executions of this account and region: the state machines' names are generated
        # by CloudFormation in the pipeline stacks, and cdk-nag spells such cross-stack names
        # only at synth, after acknowledgements are recorded; an ARN per state machine cannot be
        # acknowledged. Read-only; the function asks only for runs the rule above reported.
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.function.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:GetExecutionHistory"], resources=[executions])
        )
        acknowledge_resources(
            self.function,
            [executions],
            "states:GetExecutionHistory (read-only) for the failed runs this environment's "
            "execution-status rule reports (their state machines' names are generated in other "
            "stacks): the notifier reads whether the run's notify step succeeded.",
        )
        assert self.function.dead_letter is not None  # asynchronous: it always has one
        self.rule = events.Rule(
            self,
            "ExecutionStatusChanged",
            description=(
                f"Runs of this environment's workflows that end {', '.join(REPORTED_STATUSES)}, "
                "to a readable alert"
            ),
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": list(REPORTED_STATUSES),
                    "stateMachineArn": list(pipelines),
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.function.function,
                    # Undeliverable events join the function's own failed runs (alarmed).
                    dead_letter_queue=self.function.dead_letter.queue,
                    max_event_age=Duration.hours(24),
                    retry_attempts=185,
                )
            ],
        )
        self.alarm_rule: events.Rule | None = None

    def alarm_pattern(self, unrouted: list[str]) -> events.EventPattern:
        """State changes of the environment's alarms except ``unrouted`` (by name)."""
        stack = Stack.of(self)
        alarm_arn_prefix = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=self._alarm_prefix,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return events.EventPattern(
            source=["aws.cloudwatch"],
            detail_type=["CloudWatch Alarm State Change"],
            resources=events.Match.prefix(alarm_arn_prefix),
            detail={
                "alarmName": events.Match.anything_but(*sorted(unrouted)),
                "state": {"value": list(REPORTED_ALARM_STATES)},
            },
        )

    def route_alarms(self, unrouted: list[str]) -> events.Rule:
        """Send the environment's alarm state changes through the notifier, except the alarms
        named in ``unrouted`` (composite children, the notifier's own alarms)."""
        assert self.function.dead_letter is not None
        self.alarm_rule = events.Rule(
            self,
            "AlarmStateChanged",
            description=(
                f"State changes (ALARM, back to OK) of the alarms named {self._alarm_prefix}..., "
                "to a readable alert"
            ),
            event_pattern=self.alarm_pattern(unrouted),
            targets=[
                targets.LambdaFunction(
                    self.function.function,
                    dead_letter_queue=self.function.dead_letter.queue,
                    max_event_age=Duration.hours(24),
                    retry_attempts=185,
                )
            ],
        )
        return self.alarm_rule
