"""Readable notifications of every Standard workflow execution that fails, times out or is aborted.

The workflows already notify from their own failure path, but that path cannot report an
execution that timed out, was aborted by someone, or failed where no Catch reaches (the notify
step itself, a ``States.Runtime`` error). An EventBridge rule on Step Functions' execution
status changes, matching only this environment's Standard state machines (Express workflows
send no such events), invokes a function that writes the message in the shared format
(``lambda_src/shared/notification.py``) to the alert topic.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.state_machine import Workflow

#: Execution statuses that need a person (SUCCEEDED is reported by the workflows themselves).
REPORTED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
SERVICE_NAME = "execution-notifier"


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
    ) -> None:
        super().__init__(scope, construct_id)
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
            description="Publishes a readable message for a failed, timed-out or aborted run",
            memory_size=256,
            timeout=Duration.seconds(30),
            invocation=Invocation.ASYNCHRONOUS,
            alarm_action=alerts.alarm_action,
            service_name=SERVICE_NAME,
            **defaults.kwargs(),
            environment={
                "ENVIRONMENT_NAME": environment_name,
                "ALERT_TOPIC_ARN": alerts.topic.topic_arn,
                "PIPELINES": Stack.of(self).to_json_string(pipelines),
            },
        )
        alerts.grant_publish(self.function.role)
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
