"""The batch states: a Distributed Map over an S3 prefix, a batch of images per child.

``ReadInput`` -> ``ValidateRequest`` -> ``ClassifyImages`` (Distributed Map: the ItemReader lists
the prefix, the ItemBatcher hands each Express child ``max_items_per_batch`` images, one
``ClassifyBatchItems`` Lambda validates and classifies them with bounded concurrent endpoint
calls; MaxConcurrency comes from the endpoint's capacity; the ResultWriter writes every child's
per-image results) -> ``Summarize`` (counts per image) -> ``WithinTolerance?`` ->
``NotifyBatchDone`` -> ``BatchDone``, or, with more failed images than tolerated,
``ImageFailuresNotTolerated`` -> ``TooManyFailures`` -> the notify-then-fail path. A Map Run that
stops because children failed as a whole takes ``SummarizeFailedBatch`` to the same end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.building_blocks.state_machine import ERROR_PATH, TaskGuard
from stacks.pipelines.sagemaker_inference.names import (
    BATCH_MAP_LABEL,
    BATCH_RESULTS_PREFIX,
    STORAGE_TRANSIENT_ERRORS,
    TOLERANCE_EXCEEDED,
)
from stacks.pipelines.sagemaker_inference.permissions import (
    PrefixObjectsReader,
    PrefixResultWriter,
)

if TYPE_CHECKING:
    from stacks.pipelines.sagemaker_inference.construct import SageMakerInference

#: The batch function's timeout; a child's task waits a little longer.
BATCH_FUNCTION_TIMEOUT = Duration.minutes(10)


def batch_definition(owner: SageMakerInference, guard: TaskGuard) -> sfn.IChainable:
    states = Construct(owner, "BatchStates")
    config = owner.config
    sagemaker = config.sagemaker
    # The input as one object, whatever was sent: a Catch can then record its error on it
    # (ResultPath on a non-object input fails before the failure path is reached).
    read_input = sfn.Pass(states, "ReadInput", parameters={"input.$": "$"})
    validate_request = guard.invoke(
        states,
        "ValidateRequest",
        function=owner.validate_batch_function.function,
        timeout=Duration.seconds(60),
        payload=sfn.TaskInput.from_object({"request.$": "$.input"}),
        result_path="$.request",
    )

    item = Construct(states, "Item")
    # An image's problem is a result of the function (status "failed"); what fails the child
    # is the function itself (a crash, a timeout), retried here for Lambda's transient errors.
    classify_items = guard.invoke(
        item,
        "ClassifyBatchItems",
        function=owner.classify_batch_function.function,
        timeout=BATCH_FUNCTION_TIMEOUT.plus(Duration.minutes(1)),
        catch=False,
    )
    images = sfn.DistributedMap(
        states,
        "ClassifyImages",
        item_reader=PrefixObjectsReader(
            bucket=owner.data_bucket,
            prefix=sfn.JsonPath.string_at("$.request.prefix"),
            allowed_prefix=sagemaker.input_prefix,
        ),
        item_selector={
            "s3_uri.$": "States.Format('s3://{}/{}', $.request.bucket, $$.Map.Item.Value.Key)",
        },
        item_batcher=sfn.ItemBatcher(
            max_items_per_batch=sagemaker.batch.max_items_per_batch,
            batch_input={
                "threshold.$": "$.request.threshold",
                "workflow": guard.workflow_name,
                "execution.$": "$$.Execution.Id",
            },
        ),
        max_concurrency=sagemaker.batch_max_concurrency,
        tolerated_failure_percentage=sagemaker.batch.tolerated_failure_percentage,
        map_execution_type=sfn.StateMachineType.EXPRESS,
        label=BATCH_MAP_LABEL,
        result_writer_v2=PrefixResultWriter(
            bucket=owner.artifacts_bucket, prefix=BATCH_RESULTS_PREFIX.rstrip("/")
        ),
        result_path="$.map",
    )
    images.item_processor(classify_items)
    # Listing or writing results can fail on S3's side; a child's failure is never retried
    # here (the Map counts it against the tolerated percentage).
    images.add_retry(
        errors=["States.ItemReaderFailed", "States.ResultWriterFailed"],
        interval=Duration.seconds(5),
        backoff_rate=2.0,
        max_attempts=2,
        jitter_strategy=sfn.JitterType.FULL,
    )
    # Beyond the tolerated failures the Map Run stops and the Map fails, but Step Functions
    # has written the results: summarize them anyway, then fail with the Map's error and
    # the failed objects in the cause (and so in the failure notification).
    summarize_failed, too_many = failed_batch_steps(owner, states, guard)
    images.add_catch(summarize_failed, errors=[TOLERANCE_EXCEEDED], result_path="$.map_error")
    guard.catch_all(images)

    summarize = guard.invoke(
        states,
        "Summarize",
        function=owner.summarize_function.function,
        timeout=Duration.minutes(6),
        payload=sfn.TaskInput.from_object(
            {
                "map.$": "$.map",
                "prefix.$": "$.request.prefix",
                "threshold.$": "$.request.threshold",
                "tolerated_failure_percentage": sagemaker.batch.tolerated_failure_percentage,
            }
        ),
        result_path="$.batch",
        retry_errors=STORAGE_TRANSIENT_ERRORS,
    )
    # Failed images inside successful children count as the Map counts failed children.
    not_tolerated = sfn.Pass(
        states,
        "ImageFailuresNotTolerated",
        parameters={
            "Error": TOLERANCE_EXCEEDED,
            "Cause": "More images failed than the batch tolerates.",
        },
        result_path="$.map_error",
    ).next(too_many)
    notify = _notify_done(owner, states, guard)
    done = sfn.Succeed(states, "BatchDone", output_path="$.batch.summary")
    within_tolerance = (
        sfn.Choice(states, "WithinTolerance?")
        .when(
            sfn.Condition.boolean_equals("$.batch.summary.tolerance_exceeded", True),
            not_tolerated,
        )
        .otherwise(notify)
    )
    notify.next(done)
    images.next(summarize).next(within_tolerance)
    read_input.next(validate_request).next(images)
    return read_input


def _notify_done(
    owner: SageMakerInference, states: Construct, guard: TaskGuard
) -> sfn.TaskStateBase:
    """The batch's one summary message (the images themselves notify nothing)."""
    sagemaker = owner.config.sagemaker
    return guard.notify(
        states,
        "NotifyBatchDone",
        outcome="FINISHED",
        summary=(
            "Batch of s3://{}/{} finished: {} objects, {} classified, {} low-confidence "
            "(recorded for review under s3://"
            + owner.artifacts_bucket.bucket_name
            + "/"
            + sagemaker.review_prefix
            + "), {} skipped, {} failed ({} percent, tolerated "
            + str(sagemaker.batch.tolerated_failure_percentage)
            + ").\nLabels: {}\n"
            "Low-confidence labels: {}\nFailures:\n{}\nSummary: {}\nResults: {}"
        ),
        values=[
            sfn.JsonPath.string_at("$.request.bucket"),
            sfn.JsonPath.string_at("$.request.prefix"),
            sfn.JsonPath.string_at("$.batch.summary.total"),
            sfn.JsonPath.string_at("$.batch.summary.classified"),
            sfn.JsonPath.string_at("$.batch.summary.low_confidence"),
            sfn.JsonPath.string_at("$.batch.summary.skipped"),
            sfn.JsonPath.string_at("$.batch.summary.failed"),
            sfn.JsonPath.string_at("$.batch.summary.failure_percentage"),
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.batch.summary.labels")),
            sfn.JsonPath.json_to_string(
                sfn.JsonPath.object_at("$.batch.summary.low_confidence_labels")
            ),
            sfn.JsonPath.string_at("$.batch.failures_text"),
            sfn.JsonPath.string_at("$.batch.summary.summary_uri"),
            sfn.JsonPath.string_at("$.batch.summary.results_uri"),
        ],
    )


def failed_batch_steps(
    owner: SageMakerInference, states: Construct, guard: TaskGuard
) -> tuple[sfn.IChainable, sfn.IChainable]:
    """``SummarizeFailedBatch`` -> ``TooManyFailures`` -> the notify-then-fail path.

    The execution fails with the Map's own error (``States.ExceedToleratedFailureThreshold``);
    its cause gives the counts, the first failed objects with their errors, and where the
    summary and the results are. Should the summary fail too, ``SummaryUnavailable`` still
    reports the Map's error, with the summary's error after it.
    """
    tolerated = owner.config.sagemaker.batch.tolerated_failure_percentage
    summarize = guard.invoke(
        states,
        "SummarizeFailedBatch",
        function=owner.summarize_function.function,
        timeout=Duration.minutes(6),
        payload=sfn.TaskInput.from_object(
            {
                "execution_arn": sfn.JsonPath.execution_id,
                "results": {
                    "bucket": owner.artifacts_bucket.bucket_name,
                    "prefix": BATCH_RESULTS_PREFIX,
                },
                "prefix.$": "$.request.prefix",
                "threshold.$": "$.request.threshold",
            }
        ),
        result_path="$.batch",
        retry_errors=STORAGE_TRANSIENT_ERRORS,
        catch=False,
    )
    unavailable = sfn.Pass(
        states,
        "SummaryUnavailable",
        parameters={
            "Error.$": "$.map_error.Error",
            "Cause.$": "States.Format('{} No batch summary could be written: {}: {}', "
            "$.map_error.Cause, $.summary_error.Error, $.summary_error.Cause)",
        },
        result_path=ERROR_PATH,
    ).next(guard.failure_handler)
    summarize.add_catch(unavailable, errors=["States.ALL"], result_path="$.summary_error")
    too_many = sfn.Pass(
        states,
        "TooManyFailures",
        parameters={
            "Error.$": "$.map_error.Error",
            "Cause": sfn.JsonPath.format(
                "Batch of s3://{}/{} stopped: {} of {} objects failed ({} percent; more than "
                f"{tolerated} percent are not tolerated), {{}} classified, {{}} "
                "low-confidence, {} not processed.\nFailures:\n{}\nSummary: {}\n"
                "Results: {}",
                sfn.JsonPath.string_at("$.request.bucket"),
                sfn.JsonPath.string_at("$.request.prefix"),
                sfn.JsonPath.string_at("$.batch.summary.failed"),
                sfn.JsonPath.string_at("$.batch.summary.total"),
                sfn.JsonPath.string_at("$.batch.summary.failure_percentage"),
                sfn.JsonPath.string_at("$.batch.summary.classified"),
                sfn.JsonPath.string_at("$.batch.summary.low_confidence"),
                sfn.JsonPath.string_at("$.batch.summary.not_processed"),
                sfn.JsonPath.string_at("$.batch.failures_text"),
                sfn.JsonPath.string_at("$.batch.summary.summary_uri"),
                sfn.JsonPath.string_at("$.batch.summary.results_uri"),
            ),
        },
        result_path=ERROR_PATH,
    ).next(guard.failure_handler)
    summarize.next(too_many)
    return summarize, too_many
