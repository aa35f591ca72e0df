"""What starts a training run besides an operator: a new manifest, a schedule, or both.

Optional (``rekognition_training.triggers`` in cdk.json): one trigger function, reserved
concurrency 1, that starts the workflow unless a run is already going, fed by an EventBridge rule
on the data bucket's manifest prefix and/or a schedule rule.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contracts.metrics import REKOGNITION_TRAINING_TRIGGER_SERVICE
from stacks.building_blocks.alarms import AlarmScope
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.python_function import Invocation, PythonFunction
from stacks.config import EnvironmentConfig


def _triggers(
    owner: Construct,
    state_machine: sfn.StateMachine,
    config: EnvironmentConfig,
    data_bucket: s3.IBucket,
    alerts: AlertTopic,
    common: dict[str, Any],
) -> PythonFunction | None:
    """Optional: start on a new manifest and/or on a schedule, never beside a running one."""
    training = config.rekognition_training
    if training.trigger_manifest_prefix is None and training.trigger_schedule is None:
        return None
    function = PythonFunction(
        owner,
        "Trigger",
        handler="rekognition_training.trigger.lambda_handler",
        description="Starts Rekognition training on a new manifest or on schedule",
        memory_size=256,
        timeout=Duration.seconds(30),
        service_name=REKOGNITION_TRAINING_TRIGGER_SERVICE,
        environment={
            "STATE_MACHINE_ARN": state_machine.state_machine_arn,
            "DATA_BUCKET": data_bucket.bucket_name,
            "SCHEDULED_MANIFEST_KEY": training.scheduled_manifest_key or "",
        },
        alarms=AlarmScope(prefix=config.resource_name_prefix, pipeline="rekognition-training"),
        # One at a time: each trigger sees the run the previous one started.
        reserved_concurrency=1,
        **{**common, "invocation": Invocation.ASYNCHRONOUS},
    )
    state_machine.grant_start_execution(function.role)
    function.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["states:ListExecutions"],
            resources=[state_machine.state_machine_arn],
        )
    )
    target = targets.LambdaFunction(
        function.function,
        dead_letter_queue=function.dead_letter.queue if function.dead_letter else None,
        retry_attempts=3,
    )
    if training.trigger_manifest_prefix is not None:
        events.Rule(
            owner,
            "ManifestUploaded",
            description="A Ground Truth manifest landed: train on it",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [data_bucket.bucket_name]},
                    "object": {
                        "key": [
                            {"prefix": training.trigger_manifest_prefix},
                        ]
                    },
                },
            ),
            targets=[target],
        )
    if training.trigger_schedule is not None:
        events.Rule(
            owner,
            "Schedule",
            description="Scheduled retraining",
            schedule=events.Schedule.expression(training.trigger_schedule),
            targets=[target],
        )
    return function
