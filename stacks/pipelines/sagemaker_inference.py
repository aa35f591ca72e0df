"""SageMaker image classification: validate -> classify -> confident? as Step Functions workflows.

Three state machines share one per-image logic (only S3 references travel between states, never
image bytes, so any image up to the endpoint's 6 MB request limit works):

- ``ClassifyImage`` (Standard): ``{"s3_uri": ..., "confidence_threshold"?: ...}``. ``Validate``
  (Lambda: object exists, size, JPEG/PNG by magic bytes) -> ``Classify`` (Lambda: reads the
  validated object version, invokes the endpoint, maps the JSON answer to the class names) ->
  ``Confident?`` (Choice on the threshold). Confident: ``Classified`` with the inference.
  Low confidence: ``RecordForReview`` (JSON record under the review prefix) -> the readable
  failure notification -> fails with ``LowConfidence``.
- ``ClassifyImageSync``: the same definition as an Express state machine, for request/response
  callers (``StartSyncExecution``).
- ``ClassifyBatch`` (Standard): ``{"prefix": ..., "confidence_threshold"?: ...}``.
  ``ValidateRequest`` (Lambda) refuses a prefix outside the inputs, a threshold outside [0, 1]
  and any unknown field (naming the closest known one). A Distributed Map lists the prefix
  (ItemReader), runs the per-image logic in Express child executions with bounded concurrency
  and a tolerated failure percentage (low confidence is a result there, not a failure), writes
  every child's result to the artifacts bucket (ResultWriter), then
  ``Summarize`` (Lambda) counts labels, low-confidence images and failures, and the summary is
  published to the alert topic.

Every Task is guarded (timeout, jittered retry of transient errors, catch -> notify -> fail).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
)
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.retention import log_retention
from stacks.building_blocks.state_machine import ERROR_PATH, TaskGuard, Workflow
from stacks.config import EnvironmentConfig
from stacks.pipelines.review_sampling import grant_review_samples, review_sample_environment

#: Largest request a real-time endpoint accepts (InvokeEndpoint), hence the largest image
#: (the functions get it as MAX_IMAGE_BYTES; lambda_src/sagemaker_inference/model.py has the same).
MAX_IMAGE_BYTES = 6 * 1024 * 1024
#: Where the Distributed Map's ResultWriter puts each batch (under ``<map run id>/``).
BATCH_RESULTS_PREFIX = "results/sagemaker/batch/"
#: The handlers' own transient errors (exception class names, see sagemaker_inference/model.py).
ENDPOINT_TRANSIENT_ERRORS: tuple[str, ...] = (
    "EndpointThrottledError",
    "EndpointUnavailableError",
    "EndpointModelError",
    "StorageThrottledError",
)
STORAGE_TRANSIENT_ERRORS: tuple[str, ...] = ("StorageThrottledError",)
#: aws-sdk S3 errors worth retrying: S3's unmodelled errors (SlowDown, InternalError, 503 all
#: arrive as S3.S3Exception). An aws-sdk integration raises no ``S3.SdkClientException``: Step
#: Functions names modelled errors and the ``<Service>Exception`` catch-all only.
S3_SDK_TRANSIENT_ERRORS: tuple[str, ...] = ("S3.S3Exception",)
BATCH_MAP_LABEL = "Images"
LOW_CONFIDENCE = "LowConfidence"


@dataclass(frozen=True)
class _Endings:
    """Where the per-image logic goes after the Choice, which differs per workflow."""

    confident: sfn.IChainable
    low_confidence: sfn.IChainable


class SageMakerInference(Construct):
    """The inference functions and the single-image (Standard + Express) and batch workflows."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        alerts: AlertTopic,
    ) -> None:
        super().__init__(scope, construct_id)
        sagemaker = config.sagemaker
        self._config = config
        self._data_bucket = data_bucket
        self._artifacts_bucket = artifacts_bucket
        self.metrics_namespace = config.metrics_namespace
        self.service_name = "sagemaker-inference"
        self.endpoint_name = sagemaker.endpoint_full_name(config.resource_name_prefix)
        self.endpoint_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=self.endpoint_name
        )
        self._review_objects = artifacts_bucket.arn_for_objects(f"{sagemaker.review_prefix}*")

        common: dict[str, Any] = {
            "invocation": Invocation.SYNCHRONOUS,
            "service_name": self.service_name,
            **FunctionDefaults.of(config, encryption_key).kwargs(),
        }
        self.validate_function = PythonFunction(
            self,
            "ValidateFunction",
            handler="sagemaker_inference.validate.lambda_handler",
            description="Checks that an S3 object is a JPEG/PNG image the endpoint accepts",
            memory_size=256,
            timeout=Duration.seconds(30),
            environment={
                "DATA_BUCKET": data_bucket.bucket_name,
                "INPUT_PREFIX": sagemaker.input_prefix,
                "DEFAULT_THRESHOLD": str(sagemaker.confidence_threshold),
                "MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES),
            },
            **common,
        )
        self.validate_batch_function = PythonFunction(
            self,
            "ValidateBatchFunction",
            handler="sagemaker_inference.validate_batch.lambda_handler",
            description="Checks a batch request: its prefix, its threshold, no unknown fields",
            memory_size=256,
            timeout=Duration.seconds(30),
            environment={
                "DATA_BUCKET": data_bucket.bucket_name,
                "INPUT_PREFIX": sagemaker.input_prefix,
                "DEFAULT_THRESHOLD": str(sagemaker.confidence_threshold),
            },
            **common,
        )
        self.classify_function = PythonFunction(
            self,
            "ClassifyFunction",
            handler="sagemaker_inference.classify.lambda_handler",
            description="Invokes the SageMaker endpoint with an image read from S3",
            # Holds one image (<= 6 MB) and the endpoint's answer; more memory = more CPU/network.
            memory_size=512,
            timeout=Duration.seconds(90),
            environment={
                "ENDPOINT_NAME": self.endpoint_name,
                "CLASS_NAMES": json.dumps(list(sagemaker.class_names)),
                **review_sample_environment(config, artifacts_bucket),
            },
            **common,
        )
        self.summarize_function = PythonFunction(
            self,
            "SummarizeFunction",
            handler="sagemaker_inference.summarize.lambda_handler",
            description="Counts a batch's labels, low-confidence images and failures",
            memory_size=1024,
            timeout=Duration.minutes(5),
            **common,
        )
        self._grant_functions(encryption_key)

        workflow_options: dict[str, Any] = {
            "environment_name": config.name,
            "alerts": alerts,
            "encryption_key": encryption_key,
            "log_retention": log_retention(config.log_retention_days),
            "retain_logs": config.retain_data,
        }
        self.single = Workflow(
            self,
            "ClassifyImage",
            workflow_name="SageMaker classify image",
            definition=lambda guard: self._single_definition(guard, "SingleStates"),
            timeout=Duration.minutes(30),
            **workflow_options,
        )
        self.single_sync = Workflow(
            self,
            "ClassifyImageSync",
            workflow_name="SageMaker classify image (sync)",
            definition=lambda guard: self._single_definition(guard, "SyncStates"),
            timeout=Duration.minutes(5),
            state_machine_type=sfn.StateMachineType.EXPRESS,
            **workflow_options,
        )
        self.batch = Workflow(
            self,
            "ClassifyBatch",
            workflow_name="SageMaker classify batch",
            definition=self._batch_definition,
            timeout=Duration.hours(24),
            **workflow_options,
        )
        for workflow in (self.single, self.single_sync, self.batch):
            self._grant_workflow(workflow, encryption_key)
        self._grant_map_run_lookup()
        self._acknowledge()

    def classification_metric(self, name: str, workflow: Workflow) -> cloudwatch.Metric:
        """``ImagesClassified`` or ``LowConfidence`` the classify function counts for the runs
        of ``workflow`` (a ``workflow`` dimension: the workflow's name)."""
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=name,
            dimensions_map={"service": self.service_name, "workflow": workflow.workflow_name},
            statistic="Sum",
            period=Duration.minutes(5),
        )

    def classification_metrics(self, name: str) -> dict[str, cloudwatch.Metric]:
        """:meth:`classification_metric` of every workflow, keyed by a metric-math id."""
        return {
            f"{name.lower()}{index}": self.classification_metric(name, workflow)
            for index, workflow in enumerate(self.workflows())
        }

    def workflows(self) -> tuple[Workflow, ...]:
        return (self.single, self.single_sync, self.batch)

    # --- definitions ------------------------------------------------------------------------

    def _single_definition(self, guard: TaskGuard, scope_id: str) -> sfn.IChainable:
        states = Construct(self, scope_id)
        sagemaker = self._config.sagemaker
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
        low_confidence = guard.fail(
            states,
            LOW_CONFIDENCE,
            error=LOW_CONFIDENCE,
            cause=sfn.JsonPath.format(
                "Top label {} has confidence {}, below the threshold {}, for {}. Recorded for "
                "review at s3://"
                + self._artifacts_bucket.bucket_name
                + "/"
                + sagemaker.review_prefix
                + "{}.json",
                sfn.JsonPath.string_at("$.inference.label"),
                sfn.JsonPath.string_at("$.inference.confidence"),
                sfn.JsonPath.string_at("$.threshold"),
                sfn.JsonPath.string_at("$.image.s3_uri"),
                sfn.JsonPath.string_at("$.image.key"),
            ),
        )
        return self._image_steps(
            states, guard, catch=True, endings=_Endings(result, low_confidence)
        )

    def _batch_definition(self, guard: TaskGuard) -> sfn.IChainable:
        states = Construct(self, "BatchStates")
        config = self._config
        sagemaker = config.sagemaker
        # The input as one object, whatever was sent: a Catch can then record its error on it
        # (ResultPath on a non-object input fails before the failure path is reached).
        read_input = sfn.Pass(states, "ReadInput", parameters={"input.$": "$"})
        validate_request = guard.invoke(
            states,
            "ValidateRequest",
            function=self.validate_batch_function.function,
            timeout=Duration.seconds(60),
            payload=sfn.TaskInput.from_object({"request.$": "$.input"}),
            result_path="$.request",
        )

        item = Construct(states, "Item")
        classified = sfn.Pass(
            item,
            "ItemClassified",
            parameters=_item_result("classified"),
        )
        needs_review = sfn.Pass(
            item,
            "ItemNeedsReview",
            parameters=_item_result("low_confidence"),
        )
        skipped = sfn.Pass(
            item,
            "ItemSkipped",
            parameters={"status": "skipped", "s3_uri.$": "$.s3_uri"},
        )
        per_image = self._image_steps(
            item, guard, catch=False, endings=_Endings(classified, needs_review)
        )
        item_start = (
            sfn.Choice(item, "Folder?")
            .when(sfn.Condition.string_matches("$.s3_uri", "*/"), skipped)
            .otherwise(per_image)
        )
        images = sfn.DistributedMap(
            states,
            "ClassifyImages",
            item_reader=_PrefixObjectsReader(
                bucket=self._data_bucket,
                prefix=sfn.JsonPath.string_at("$.request.prefix"),
                allowed_prefix=sagemaker.input_prefix,
            ),
            item_selector={
                "s3_uri.$": "States.Format('s3://{}/{}', $.request.bucket, $$.Map.Item.Value.Key)",
                "confidence_threshold.$": "$.request.threshold",
            },
            max_concurrency=sagemaker.batch.max_concurrency,
            tolerated_failure_percentage=sagemaker.batch.tolerated_failure_percentage,
            map_execution_type=sfn.StateMachineType.EXPRESS,
            label=BATCH_MAP_LABEL,
            result_writer_v2=_PrefixResultWriter(
                bucket=self._artifacts_bucket, prefix=BATCH_RESULTS_PREFIX.rstrip("/")
            ),
            result_path="$.map",
        )
        images.item_processor(item_start)
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
        failed_batch = self._failed_batch_steps(states, guard)
        images.add_catch(
            failed_batch,
            errors=["States.ExceedToleratedFailureThreshold"],
            result_path="$.map_error",
        )
        guard.catch_all(images)

        summarize = guard.invoke(
            states,
            "Summarize",
            function=self.summarize_function.function,
            timeout=Duration.minutes(6),
            payload=sfn.TaskInput.from_object(
                {
                    "map.$": "$.map",
                    "prefix.$": "$.request.prefix",
                    "threshold.$": "$.request.threshold",
                }
            ),
            result_path="$.batch",
            retry_errors=STORAGE_TRANSIENT_ERRORS,
        )
        notify = guard.notify(
            states,
            "NotifyBatchDone",
            outcome="FINISHED",
            summary=(
                "Batch of s3://{}/{} finished: {} objects, {} classified, {} low-confidence "
                "(recorded for review under s3://"
                + self._artifacts_bucket.bucket_name
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
        done = sfn.Succeed(states, "BatchDone", output_path="$.batch.summary")
        images.next(summarize).next(notify).next(done)
        read_input.next(validate_request).next(images)
        return read_input

    def _failed_batch_steps(self, states: Construct, guard: TaskGuard) -> sfn.IChainable:
        """``SummarizeFailedBatch`` -> ``TooManyFailures`` -> the notify-then-fail path.

        The execution fails with the Map's own error (``States.ExceedToleratedFailureThreshold``);
        its cause gives the counts, the first failed objects with their errors, and where the
        summary and the results are. Should the summary fail too, ``SummaryUnavailable`` still
        reports the Map's error, with the summary's error after it.
        """
        tolerated = self._config.sagemaker.batch.tolerated_failure_percentage
        summarize = guard.invoke(
            states,
            "SummarizeFailedBatch",
            function=self.summarize_function.function,
            timeout=Duration.minutes(6),
            payload=sfn.TaskInput.from_object(
                {
                    "execution_arn": sfn.JsonPath.execution_id,
                    "results": {
                        "bucket": self._artifacts_bucket.bucket_name,
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
        return summarize

    def _image_steps(
        self, scope: Construct, guard: TaskGuard, *, catch: bool, endings: _Endings
    ) -> sfn.IChainable:
        """Validate -> Classify -> Confident? -> (endings.confident | RecordForReview -> ...)."""
        sagemaker = self._config.sagemaker
        validate = guard.invoke(
            scope,
            "Validate",
            function=self.validate_function.function,
            timeout=Duration.seconds(60),
            retry_errors=STORAGE_TRANSIENT_ERRORS,
            catch=catch,
        )
        classify = guard.invoke(
            scope,
            "Classify",
            function=self.classify_function.function,
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
            catch=catch,
        )
        record = tasks.CallAwsService(
            scope,
            "RecordForReview",
            service="s3",
            action="putObject",
            parameters={
                "Bucket": self._artifacts_bucket.bucket_name,
                "Key.$": f"States.Format('{sagemaker.review_prefix}{{}}.json', $.image.key)",
                "Body.$": "States.JsonToString($)",
                "ContentType": "application/json",
                "Metadata": {"execution.$": "$$.Execution.Id"},
            },
            iam_resources=[self._review_objects],
            iam_action="s3:PutObject",
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(Duration.seconds(30)),
        )
        guard(record, transient_errors=S3_SDK_TRANSIENT_ERRORS, max_attempts=3, catch=catch)
        record.next(endings.low_confidence)
        confident = (
            sfn.Choice(scope, "Confident?")
            .when(
                sfn.Condition.number_greater_than_equals_json_path(
                    "$.inference.confidence", "$.threshold"
                ),
                endings.confident,
            )
            .otherwise(record)
        )
        return validate.next(classify).next(confident)

    # --- permissions ------------------------------------------------------------------------

    def _grant_functions(self, encryption_key: kms.IKey) -> None:
        input_prefix = self._config.sagemaker.input_prefix
        for function in (self.validate_function, self.classify_function):
            # HeadObject/GetObject (ranged and full) of the validated version; nothing else.
            grant_objects(
                function.role,
                self._data_bucket,
                input_prefix,
                ["s3:GetObject", "s3:GetObjectVersion"],
            )
            # With ListBucket on the input prefix S3 answers 404 for a missing key there
            # (without it, 403): a 403 is then a refusal, reported as ImageAccessDeniedError.
            function.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[self._data_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{input_prefix}*"]}},
                )
            )
            encryption_key.grant_decrypt(function.role)
        self.classify_function.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=[self.endpoint_arn])
        )
        grant_review_samples(self._config, self.classify_function.role, self._artifacts_bucket)
        grant_objects(
            self.summarize_function.role,
            self._artifacts_bucket,
            BATCH_RESULTS_PREFIX,
            ["s3:GetObject", "s3:PutObject"],
        )
        encryption_key.grant(self.summarize_function.role, "kms:Decrypt", "kms:GenerateDataKey")

    def _grant_workflow(self, workflow: Workflow, encryption_key: kms.IKey) -> None:
        # RecordForReview writes an SSE-KMS object; the batch also writes its results.
        encryption_key.grant(workflow.state_machine.role, "kms:Decrypt", "kms:GenerateDataKey")

    def _batch_executions(self) -> str:
        """The batch state machine's execution ARNs without the execution id, spelled as CDK's
        DistributedMap spells its grant (the name taken from the ARN)."""
        name = Fn.select(6, Fn.split(":", self.batch.state_machine.state_machine_arn))
        return str(
            Stack.of(self).format_arn(
                service="states",
                resource="execution",
                resource_name=name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        )

    def _grant_map_run_lookup(self) -> None:
        """SummarizeFailedBatch finds a failed Map Run's results through ListMapRuns on the
        batch execution. A policy of its own: in the function's default policy the grant would
        make the function depend on the state machine that invokes it (a cycle)."""
        executions = f"{self._batch_executions()}:*"
        policy = self.summarize_function.add_policy(
            "MapRunLookup",
            statements=[
                iam.PolicyStatement(actions=["states:ListMapRuns"], resources=[executions])
            ],
        )
        acknowledge_resources(
            policy,
            [executions],
            "Summarize lists the Map Runs of the batch execution it summarizes, whose id is "
            "generated per run; limited to this state machine's executions (ListMapRuns only).",
        )

    def _acknowledge(self) -> None:
        sagemaker = self._config.sagemaker
        acknowledge_prefix_wildcards(
            self,
            self._data_bucket,
            [sagemaker.input_prefix],
            "Validate and Classify read any image under the inference input prefix "
            "(GetObject/GetObjectVersion only); the request names the key at run time.",
        )
        acknowledge_prefix_wildcards(
            self,
            self._artifacts_bucket,
            [sagemaker.review_prefix],
            "Low-confidence records are written under the review prefix, one per image key "
            "(PutObject only).",
        )
        acknowledge_prefix_wildcards(
            self,
            self._artifacts_bucket,
            [BATCH_RESULTS_PREFIX],
            "The Distributed Map writes each run's results under the batch results prefix (a "
            "new map-run folder each time); Summarize reads them and writes the summary beside "
            "them.",
        )
        executions = self._batch_executions()
        acknowledge_resources(
            self.batch,
            [f"{executions}:*", f"{executions}/{BATCH_MAP_LABEL}:*"],
            "A Distributed Map describes, stops and redrives its own child executions, whose "
            "names are generated per run; limited to this state machine's executions.",
        )


def _item_result(status: str) -> dict[str, Any]:
    return {
        "status": status,
        "s3_uri.$": "$.image.s3_uri",
        "label.$": "$.inference.label",
        "confidence.$": "$.inference.confidence",
        "threshold.$": "$.threshold",
    }


class _PrefixObjectsReader(sfn.S3ObjectsItemReader):
    """Lists objects for a Distributed Map, allowed only under ``allowed_prefix``.

    CDK's reader grants ``s3:ListBucket`` on the whole bucket; the ``s3:prefix`` condition limits
    the listing to the inference inputs.
    """

    def __init__(self, *, bucket: s3.IBucket, prefix: str, allowed_prefix: str) -> None:
        super().__init__(bucket=bucket, prefix=prefix)
        self._listed_bucket = bucket
        self._allowed_prefix = allowed_prefix

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self._listed_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self._allowed_prefix}*"]}},
            )
        ]


class _PrefixResultWriter(sfn.ResultWriterV2):
    """Writes a Distributed Map's results; the grant is limited to the results prefix.

    CDK's writer grants its S3 actions on every object of the bucket.
    """

    def __init__(self, *, bucket: s3.IBucket, prefix: str) -> None:
        super().__init__(bucket=bucket, prefix=prefix)
        self._results = bucket.arn_for_objects(f"{prefix}/*")

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[self._results],
            )
        ]
