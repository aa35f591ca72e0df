"""Lineage and registration: what the training workflow does with a job's figures.

``RecordLineage`` (Lambda: ``metrics.json`` and ``lineage.json`` under
``sagemaker/reports/<job>/``, whatever the gate decides) -> ``TagTrainingJob`` (the record's URI,
the verdict and the code version as tags of the training job) -> the gate. A job that passed is
registered in the environment's model package group (``RegisterModel``, CreateModelPackage with
its metrics and the lineage in ``CustomerMetadataProperties``):

- ``sagemaker.training.deploy = direct``: registered as ``Approved`` (the approval is the gate's)
  and deployed by this workflow;
- ``on_approval``: registered as ``PendingManualApproval``; the run ends ``REGISTERED``
  (``NotifyRegistered``), and approving the package starts the deploy workflow (``approval``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.building_blocks.python_function import PythonFunction
from stacks.building_blocks.state_machine import TaskGuard
from stacks.pipelines.sagemaker_training.calls import SAGEMAKER_SDK_TRANSIENT_ERRORS, SDK_TIMEOUT

APPROVED = "Approved"
PENDING_MANUAL_APPROVAL = "PendingManualApproval"
#: What the built-in image-classification algorithm takes and answers.
INFERENCE_CONTENT_TYPES = ("application/x-image",)
INFERENCE_RESPONSE_TYPES = ("application/json",)
#: How a package registered as Approved says why (CreateModelPackage takes no
#: ApprovalDescription: the description carries it).
DIRECT_APPROVAL = (
    "; approved by the gate and deployed by the training workflow "
    "(sagemaker.training.deploy = direct)"
)


@dataclass(frozen=True)
class _Registration:
    """``record`` runs before the gate's Choice; ``register`` is where a passed job goes."""

    record: sfn.Chain
    register: sfn.IChainable


def _lineage_and_registration(
    states: Construct,
    guard: TaskGuard,
    *,
    lineage_function: PythonFunction,
    job_arn: str,
    group_name: str,
    group_arn: str,
    algorithm_image: str,
    endpoint_instance_type: str,
    direct: bool,
    deploy: sfn.IChainable,
    environment_name: str,
) -> _Registration:
    record_lineage = guard.invoke(
        states,
        "RecordLineage",
        function=lineage_function.function,
        timeout=Duration.seconds(90),
        payload=sfn.TaskInput.from_object(
            {
                "state.$": "$",
                "execution_arn.$": "$$.Execution.Id",
                "started_at.$": "$$.Execution.StartTime",
            }
        ),
        result_path="$.lineage",
    )
    tag_job = tasks.CallAwsService(
        states,
        "TagTrainingJob",
        service="sagemaker",
        action="addTags",
        parameters={"ResourceArn.$": "$.training.TrainingJobArn", "Tags.$": "$.lineage.tags"},
        iam_resources=[job_arn],
        iam_action="sagemaker:AddTags",
        result_path=sfn.JsonPath.DISCARD,
        task_timeout=sfn.Timeout.duration(SDK_TIMEOUT),
    )
    guard(tag_job, transient_errors=SAGEMAKER_SDK_TRANSIENT_ERRORS)
    status = APPROVED if direct else PENDING_MANUAL_APPROVAL
    parameters = {
        "ModelPackageGroupName": group_name,
        "ModelPackageDescription": sfn.JsonPath.format(
            "Training job {}: validation:accuracy {} (gate {})"
            + (DIRECT_APPROVAL if direct else ""),
            sfn.JsonPath.string_at("$.job.name"),
            sfn.JsonPath.string_at("$.evaluation.accuracy"),
            sfn.JsonPath.string_at("$.evaluation.threshold"),
        ),
        "InferenceSpecification": {
            "Containers": [
                {"Image": algorithm_image, "ModelDataUrl.$": "$.evaluation.model_artifacts"}
            ],
            "SupportedContentTypes": list(INFERENCE_CONTENT_TYPES),
            "SupportedResponseMIMETypes": list(INFERENCE_RESPONSE_TYPES),
            "SupportedRealtimeInferenceInstanceTypes": [endpoint_instance_type],
        },
        "ModelApprovalStatus": status,
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri.$": "$.lineage.metrics_uri",
                }
            }
        },
        "CustomerMetadataProperties.$": "$.lineage.customer_metadata",
        # A retried call registers the job once (a token of 1-36 letters, digits, dashes).
        "ClientToken.$": "$.job.name",
    }
    register = tasks.CallAwsService(
        states,
        "RegisterModel",
        service="sagemaker",
        action="createModelPackage",
        parameters=parameters,
        iam_resources=[group_arn, f"{group_arn.replace('-group/', '/', 1)}/*"],
        iam_action="sagemaker:CreateModelPackage",
        result_selector={"arn.$": "$.ModelPackageArn"},
        result_path="$.package",
        task_timeout=sfn.Timeout.duration(SDK_TIMEOUT),
    )
    guard(register, transient_errors=SAGEMAKER_SDK_TRANSIENT_ERRORS)
    if direct:
        register.next(deploy)
    else:
        notify = guard.notify(
            states,
            "NotifyRegistered",
            outcome="REGISTERED",
            summary=(
                "Training job {} passed the gate (validation:accuracy {} >= {}) and is "
                "registered as model package {}, waiting for approval. Approve it to deploy "
                "it (SageMaker console, or: python -m ops approve --env "
                + environment_name
                + " --package {}); reject it with python -m ops reject.\nLineage: {}"
            ),
            values=[
                sfn.JsonPath.string_at("$.job.name"),
                sfn.JsonPath.string_at("$.evaluation.accuracy"),
                sfn.JsonPath.string_at("$.evaluation.threshold"),
                sfn.JsonPath.string_at("$.package.arn"),
                sfn.JsonPath.string_at("$.package.arn"),
                sfn.JsonPath.string_at("$.lineage.uri"),
            ],
        )
        notify.next(
            sfn.Pass(
                states,
                "RegisteredOutcome",
                parameters={
                    "outcome": "REGISTERED",
                    "training_job.$": "$.job.name",
                    "model_package_arn.$": "$.package.arn",
                    "lineage_uri.$": "$.lineage.uri",
                    "evaluation.$": "$.evaluation",
                },
            )
        ).next(sfn.Succeed(states, "Registered"))
        register.next(notify)
    return _Registration(record=sfn.Chain.start(record_lineage).next(tag_job), register=register)
