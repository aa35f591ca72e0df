"""The single-image states: ``Validate`` -> ``Classify`` -> ``Confident?`` -> an ending.

Confident: ``Result`` -> ``Classified``. Low confidence: ``RecordForReview`` (a JSON record
under the review prefix) -> ``LowConfidence`` -> the run fails with ``LowConfidence``. Whether
that failure is also notified is ``sagemaker.notify_low_confidence`` (off by default: one
e-mail per unsure image floods on-call, and the low-confidence ratio alarm reports drift once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.building_blocks.state_machine import ERROR_PATH, TaskGuard
from stacks.pipelines.sagemaker_inference.names import (
    ENDPOINT_TRANSIENT_ERRORS,
    LOW_CONFIDENCE,
    S3_SDK_TRANSIENT_ERRORS,
    STORAGE_TRANSIENT_ERRORS,
)

if TYPE_CHECKING:
    from stacks.pipelines.sagemaker_inference.construct import SageMakerInference


def single_definition(owner: SageMakerInference, guard: TaskGuard, scope_id: str) -> sfn.IChainable:
    states = Construct(owner, scope_id)
    sagemaker = owner.config.sagemaker
    result = sfn.Pass(
        states,
        "Result",
        parameters={
            "status": "classified",
            "s3_uri.$": "$.image.s3_uri",
            "label.$": "$.inference.label",
            "confidence.$": "$.inference.confidence",
            "threshold.$": "$.threshold",
            "probabilities.$": "$.inference.probabilities",
            "endpoint.$": "$.inference.endpoint",
        },
    ).next(sfn.Succeed(states, "Classified"))
    cause = sfn.JsonPath.format(
        "Top label {} has confidence {}, below the threshold {}, for {}. Recorded for "
        "review at s3://"
        + owner.artifacts_bucket.bucket_name
        + "/"
        + sagemaker.review_prefix
        + "{}.json",
        sfn.JsonPath.string_at("$.inference.label"),
        sfn.JsonPath.string_at("$.inference.confidence"),
        sfn.JsonPath.string_at("$.threshold"),
        sfn.JsonPath.string_at("$.image.s3_uri"),
        sfn.JsonPath.string_at("$.image.key"),
    )
    low_confidence: sfn.IChainable
    if sagemaker.notify_low_confidence:
        low_confidence = guard.fail(states, LOW_CONFIDENCE, error=LOW_CONFIDENCE, cause=cause)
    else:
        # The same error and cause, without the notification.
        low_confidence = sfn.Pass(
            states,
            LOW_CONFIDENCE,
            parameters={"Error": LOW_CONFIDENCE, "Cause": cause},
            result_path=ERROR_PATH,
        ).next(
            sfn.Fail(
                states,
                "NeedsReview",
                error_path=f"{ERROR_PATH}.Error",
                cause_path=f"{ERROR_PATH}.Cause",
            )
        )
    return image_steps(owner, states, guard, confident=result, low_confidence=low_confidence)


def image_steps(
    owner: SageMakerInference,
    scope: Construct,
    guard: TaskGuard,
    *,
    confident: sfn.IChainable,
    low_confidence: sfn.IChainable,
) -> sfn.IChainable:
    """Validate -> Classify -> Confident? -> (confident | RecordForReview -> low_confidence)."""
    sagemaker = owner.config.sagemaker
    validate = guard.invoke(
        scope,
        "Validate",
        function=owner.validate_function.function,
        timeout=Duration.seconds(60),
        retry_errors=STORAGE_TRANSIENT_ERRORS,
    )
    classify = guard.invoke(
        scope,
        "Classify",
        function=owner.classify_function.function,
        timeout=Duration.seconds(120),
        payload=sfn.TaskInput.from_object(
            {
                "image.$": "$.image",
                "threshold.$": "$.threshold",
                "workflow": guard.workflow_name,
            }
        ),
        result_path="$.inference",
        retry_errors=ENDPOINT_TRANSIENT_ERRORS,
    )
    record = tasks.CallAwsService(
        scope,
        "RecordForReview",
        service="s3",
        action="putObject",
        parameters={
            "Bucket": owner.artifacts_bucket.bucket_name,
            "Key.$": f"States.Format('{sagemaker.review_prefix}{{}}.json', $.image.key)",
            "Body.$": "States.JsonToString($)",
            "ContentType": "application/json",
            "Metadata": {"execution.$": "$$.Execution.Id"},
        },
        iam_resources=[owner.review_objects],
        iam_action="s3:PutObject",
        result_path=sfn.JsonPath.DISCARD,
        task_timeout=sfn.Timeout.duration(Duration.seconds(30)),
    )
    guard(record, transient_errors=S3_SDK_TRANSIENT_ERRORS, max_attempts=3)
    record.next(low_confidence)
    decision = (
        sfn.Choice(scope, "Confident?")
        .when(
            sfn.Condition.number_greater_than_equals_json_path(
                "$.inference.confidence", "$.threshold"
            ),
            confident,
        )
        .otherwise(record)
    )
    return validate.next(classify).next(decision)
