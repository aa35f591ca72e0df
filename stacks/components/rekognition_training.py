"""Rekognition Custom Labels: train -> evaluate -> gate -> deploy, as one Step Functions workflow.

States, in order (every Task guarded: timeout, jittered retry on throttling/service errors,
catch -> readable notification -> fail):

1. ``WrapRequest`` puts the execution input (any JSON value) in an object, so a failure can be
   recorded and notified; ``ValidateInput`` (Lambda) turns it into the normalized job, or the run
   fails at once with ``InvalidTrainingInput``.
2. ``FindProject`` (every page of DescribeProjects, bounded) -> ``CreateProject`` or
   ``UseProject``: reuse the project by name.
3. Datasets: replace the project's datasets (``DeleteOldDatasets``) and create TRAIN and TEST
   from dataset ARNs or Ground Truth manifests (or an automatic split), polling each until
   complete; or keep them (``use_existing_datasets``).
4. ``CreateVersion`` and a bounded poll of ``DescribeProjectVersions`` *with VersionNames*.
5. ``Evaluate`` (Lambda): report to S3, metrics to CloudWatch, the gate's verdict.
6. Gate passed: start the version, poll until RUNNING, publish its ARN to the SSM parameter
   inference reads, stop the previously published version (blue/green), notify, ``Deployed``.
   Gate failed: notify the gap, end in ``ModelRejected`` (a successful run whose outcome is
   ``REJECTED``; the version is kept, not started).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Aws, Duration, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.components.alerting import AlertTopic
from stacks.components.encryption import grant_service_grants
from stacks.components.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
)
from stacks.components.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.components.rekognition_statuses import (
    DATASET_CREATE,
    DATASET_SPLIT,
    START,
    TRAINING,
    Progress,
    StatusPoll,
)
from stacks.components.retention import log_retention
from stacks.components.state_machine import TaskGuard, Workflow
from stacks.config import MAX_PROJECT_DATASETS, PROJECT_LOOKUP_MAX_PAGES, EnvironmentConfig

REKOGNITION_TRANSIENT_ERRORS: tuple[str, ...] = (
    "Rekognition.ThrottlingException",
    "Rekognition.InternalServerErrorException",
    "Rekognition.ProvisionedThroughputExceededException",
    "Rekognition.LimitExceededException",
)
SSM_TRANSIENT_ERRORS: tuple[str, ...] = (
    "Ssm.ThrottlingException",
    "Ssm.InternalServerErrorException",
    "Ssm.TooManyUpdatesException",
)
SDK_TIMEOUT = Duration.seconds(60)
NO_PREVIOUS_MODEL = "none"
#: The ``ManagedBy`` tag of every project and version the workflow creates.
MANAGED_BY = "rekognition-training-workflow"
#: What a running Custom Labels model costs per inference unit and hour (USD, about; us-east-1).
INFERENCE_UNIT_HOUR_USD = 4
EVALUATION_SERVICE = "rekognition-evaluation"


@dataclass(frozen=True)
class _Scope:
    """What the state factories share."""

    construct: Construct
    guard: TaskGuard
    project_resources: list[str]


class RekognitionTraining(Construct):
    """The training workflow, its functions, and its optional triggers."""

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
        self._config = config
        self._encryption_key = encryption_key
        training = config.rekognition_training
        stack = Stack.of(self)
        project = config.rekognition.project_name
        self.project_resources = [
            stack.format_arn(
                service="rekognition", resource="project", resource_name=f"{project}/*"
            )
        ]
        self.model_parameter_arn = stack.format_arn(
            service="ssm",
            resource="parameter",
            resource_name=config.model_version_parameter.lstrip("/"),
        )
        self._any_dataset_arn = stack.format_arn(
            service="rekognition", resource="project", resource_name="*/dataset/*"
        )
        #: Tags of the projects and versions the workflow creates (CreateProject is granted
        #: only with the ManagedBy tag).
        self._tags = {"Environment": config.name, "ManagedBy": MANAGED_BY}
        self.metrics_namespace = config.metrics_namespace
        self.project_name = project
        self.environment_name = config.name
        self.artifacts_bucket = artifacts_bucket
        #: Where the evaluation function writes each version's metrics.json and report.html.
        self.reports_prefix = f"reports/{project}/"
        common: dict[str, Any] = {
            "invocation": Invocation.SYNCHRONOUS,
            **FunctionDefaults.of(config, encryption_key).kwargs(),
        }
        self.validate_function = PythonFunction(
            self,
            "ValidateInput",
            handler="rekognition_training.validate_input.lambda_handler",
            description="Validates a Rekognition training request",
            memory_size=256,
            timeout=Duration.seconds(30),
            service_name="rekognition-training",
            environment={
                "PROJECT_NAME": project,
                "DATA_BUCKET": data_bucket.bucket_name,
                "DEFAULT_GATE": json.dumps(
                    {
                        "metric": config.quality_gate.metric,
                        "threshold": config.quality_gate.threshold,
                        "min_label_recall": config.quality_gate.min_label_recall,
                    }
                ),
            },
            **common,
        )
        self.evaluate_function = PythonFunction(
            self,
            "Evaluate",
            handler="rekognition_training.evaluate.lambda_handler",
            description="Computes the evaluation report and the quality gate of a model version",
            memory_size=1024,
            timeout=Duration.minutes(5),
            service_name=EVALUATION_SERVICE,
            environment={"ARTIFACTS_BUCKET": artifacts_bucket.bucket_name},
            **common,
        )
        grant_objects(self.evaluate_function.role, artifacts_bucket, "models/", ["s3:GetObject"])
        grant_objects(self.evaluate_function.role, artifacts_bucket, "reports/", ["s3:PutObject"])
        encryption_key.grant(self.evaluate_function.role, "kms:Decrypt", "kms:GenerateDataKey")
        acknowledge_prefix_wildcards(
            self.evaluate_function,
            artifacts_bucket,
            ["models/", "reports/"],
            "Reads the evaluation files Rekognition writes under models/ and writes reports "
            "under reports/, object names unknown until training runs.",
        )

        self.workflow = Workflow(
            self,
            "Workflow",
            workflow_name="Rekognition training",
            environment_name=config.name,
            definition=self._definition,
            # Every loop of the longest path at its deadline, plus slack for the Lambdas.
            timeout=Duration.minutes(training.execution_timeout_minutes),
            alerts=alerts,
            encryption_key=encryption_key,
            log_retention=log_retention(config.log_retention_days),
            retain_logs=config.retain_data,
        )
        self.state_machine = self.workflow.state_machine
        self._grant_workflow(data_bucket)
        self._triggers(config, data_bucket, alerts, common)

    # --- definition -------------------------------------------------------------------------

    def label_metric_search(self, name: str) -> str:
        """A ``SEARCH`` over ``LabelPrecision``/``LabelRecall``/``LabelF1`` the evaluation
        function publishes for every label and version of this project (labels are only known
        once trained, so a search rather than fixed metrics)."""
        return (
            f"SEARCH('{{{self.metrics_namespace},Label,Project,Version,service}} "
            f'MetricName="{name}" Project="{self.project_name}" '
            f"service=\"{EVALUATION_SERVICE}\"', 'Maximum', 86400)"
        )

    def _definition(self, guard: TaskGuard) -> sfn.IChainable:
        config = self._config
        training = config.rekognition_training
        # State names are construct ids: keep them apart from the functions' ids.
        states = Construct(self, "States")
        scope = _Scope(states, guard, self.project_resources)

        # Any JSON value may start a run; a Catch can record its error only in an object (on
        # AWS, States.ResultPathMatchFailure otherwise), so the request is wrapped in one first
        # and ValidateInput refuses whatever is not an object.
        wrap = sfn.Pass(scope.construct, "WrapRequest", parameters={"request.$": "$"})
        validate = guard.invoke(
            scope.construct,
            "ValidateInput",
            function=self.validate_function.function,
            timeout=Duration.seconds(60),
            payload=sfn.TaskInput.from_object(
                {"request.$": "$.request", "execution_name.$": "$$.Execution.Name"}
            ),
            result_selector={"job.$": "$"},
        )
        create_project = _sdk(
            scope,
            "CreateProject",
            "createProject",
            {"ProjectName.$": "$.job.project_name", "Tags": self._tags},
            # Creating with Tags needs TagResource on the new project (the task's own grant) ...
            iam_action="rekognition:TagResource",
            # ... and CreateProject, for which the authorization reference lists no resource
            # type (an older Custom Labels guide scopes it to a project ARN): "*" works under
            # both readings, and the request tag keeps it to projects this workflow creates.
            additional_iam_statements=[
                iam.PolicyStatement(
                    actions=["rekognition:CreateProject"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:RequestTag/ManagedBy": MANAGED_BY}},
                )
            ],
            result_selector={"arn.$": "$.ProjectArn"},
            result_path="$.project",
        )
        use_project = sfn.Pass(
            scope.construct,
            "UseProject",
            parameters={
                "arn.$": "$.lookup.page.ProjectDescriptions[0].ProjectArn",
                "datasets.$": "$.lookup.page.ProjectDescriptions[0].Datasets[*].DatasetArn",
            },
            result_path="$.project",
        )
        find_project = self._find_project(scope, found=use_project, absent=create_project)

        create_version = _sdk(
            scope,
            "CreateVersion",
            "createProjectVersion",
            {
                "ProjectArn.$": "$.project.arn",
                "VersionName.$": "$.job.version_name",
                "OutputConfig": {
                    "S3Bucket": self.artifacts_bucket.bucket_name,
                    "S3KeyPrefix.$": "$.job.output_prefix",
                },
                "KmsKeyId": self._encryption_key.key_arn,
                "Tags": self._tags,
            },
            result_selector={"arn.$": "$.ProjectVersionArn"},
            result_path="$.version",
        )
        datasets = self._datasets(scope, training.dataset_poll_seconds, training.dataset_max_polls)
        datasets.existing.next(create_version)
        datasets.ready.next(create_version)

        evaluate = guard.invoke(
            scope.construct,
            "Evaluate",
            function=self.evaluate_function.function,
            timeout=Duration.minutes(6),
            payload=sfn.TaskInput.from_object(
                {"job.$": "$.job", "version.$": "$.training.descriptions[0]"}
            ),
            result_path="$.evaluation",
        )
        training_done = _poll_version(
            scope,
            "Training",
            interval=Duration.minutes(training.training_poll_minutes),
            max_polls=training.training_max_polls,
            poll=TRAINING,
            result_path="$.training",
            then=evaluate,
        )
        create_version.next(training_done)

        deploy = self._deploy(scope, training.start_poll_seconds, training.start_max_polls)
        rejected = guard.notify(
            scope.construct,
            "NotifyRejected",
            outcome="REJECTED",
            summary=(
                "Model version {} of project {} was trained but NOT deployed: it failed the "
                "quality gate.\nGate: {} = {} (threshold {}, gap {}).\nReasons: {}\n"
                "Report: {}\nThe version is kept and can be started by hand."
            ),
            values=[
                sfn.JsonPath.string_at("$.job.version_name"),
                sfn.JsonPath.string_at("$.job.project_name"),
                sfn.JsonPath.string_at("$.evaluation.gate.metric"),
                sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.evaluation.gate.value")),
                sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.evaluation.gate.threshold")),
                sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.evaluation.gate.gap")),
                sfn.JsonPath.json_to_string(sfn.JsonPath.list_at("$.evaluation.gate.reasons")),
                sfn.JsonPath.string_at("$.evaluation.report_uri"),
            ],
        )
        rejected.next(
            sfn.Pass(
                scope.construct,
                "RejectedOutcome",
                parameters={
                    "outcome": "REJECTED",
                    "project_version_arn.$": "$.version.arn",
                    "gate.$": "$.evaluation.gate",
                    "metrics.$": "$.evaluation.metrics",
                    "report_uri.$": "$.evaluation.report_uri",
                },
            )
        ).next(sfn.Succeed(scope.construct, "ModelRejected"))
        evaluate.next(
            sfn.Choice(scope.construct, "GatePassed?")
            .when(sfn.Condition.boolean_equals("$.evaluation.gate.passed", True), deploy)
            .otherwise(rejected)
        )

        create_project.next(datasets.start)
        use_project.next(datasets.start)
        return wrap.next(validate).next(find_project)

    def _find_project(
        self, scope: _Scope, *, found: sfn.IChainable, absent: sfn.IChainable
    ) -> sfn.IChainable:
        """DescribeProjects by name, page after page (``NextToken``) until the project is on one
        or there are no more pages; at most ``PROJECT_LOOKUP_MAX_PAGES`` pages, then the run
        fails (creating a project that may exist would fail with ResourceInUseException)."""
        construct = scope.construct
        # The page is kept whole: ResultSelector cannot select a NextToken that may be absent.
        first_page = _sdk(
            scope,
            "FindProject",
            "describeProjects",
            {"ProjectNames.$": "States.Array($.job.project_name)"},
            # DescribeProjects authorizes on no resource type.
            iam_resources=["*"],
            result_selector={"page.$": "$", "pages": 1},
            result_path="$.lookup",
        )
        next_page = _sdk(
            scope,
            "FindProjectNextPage",
            "describeProjects",
            {
                "ProjectNames.$": "States.Array($.job.project_name)",
                "NextToken.$": "$.lookup.page.NextToken",
            },
            iam_resources=["*"],
            result_path="$.lookup.page",
        )
        count = sfn.Pass(
            construct,
            "CountProjectPages",
            parameters={
                "page.$": "$.lookup.page",
                "pages.$": "States.MathAdd($.lookup.pages, 1)",
            },
            result_path="$.lookup",
        )
        incomplete = scope.guard.fail(
            construct,
            "ProjectLookupIncomplete",
            error="ProjectLookupIncomplete",
            cause=sfn.JsonPath.format(
                f"DescribeProjects still had more pages after {PROJECT_LOOKUP_MAX_PAGES} pages "
                "without project {}; not creating a project that may exist",
                sfn.JsonPath.string_at("$.job.project_name"),
            ),
        )
        lookup = (
            sfn.Choice(construct, "ProjectOnThisPage?")
            .when(sfn.Condition.is_present("$.lookup.page.ProjectDescriptions[0]"), found)
            .when(sfn.Condition.is_not_present("$.lookup.page.NextToken"), absent)
            .when(
                sfn.Condition.number_greater_than_equals(
                    "$.lookup.pages", PROJECT_LOOKUP_MAX_PAGES
                ),
                incomplete,
            )
            .otherwise(next_page)
        )
        next_page.next(count).next(lookup)
        return first_page.next(lookup)

    def _datasets(self, scope: _Scope, poll_seconds: int, max_polls: int) -> _DatasetStates:
        """Replace (or keep) the project's datasets; ``ready`` continues once both are usable."""
        guard = scope.guard
        interval = Duration.seconds(poll_seconds)
        delete_one = _sdk(
            scope,
            "DeleteDataset",
            "deleteDataset",
            {"DatasetArn.$": "$.arn"},
            result_path=sfn.JsonPath.DISCARD,
            catch=False,
        )
        gone = sfn.Succeed(scope.construct, "DatasetDeleted")
        deletion_wait = _poll_until_gone(scope, interval, max_polls, gone)
        delete_one.next(deletion_wait)
        delete_old = sfn.Map(
            scope.construct,
            "DeleteOldDatasets",
            items_path="$.project.datasets",
            item_selector={"arn.$": "$$.Map.Item.Value", "polls": 0},
            # All of them side by side: the timeout counts one deletion deadline.
            max_concurrency=MAX_PROJECT_DATASETS,
            result_path=sfn.JsonPath.DISCARD,
        )
        delete_old.item_processor(delete_one)
        guard.catch_all(delete_old)

        def create(name: str, dataset_type: str, source_path: str | None) -> sfn.TaskStateBase:
            parameters: dict[str, Any] = {
                "ProjectArn.$": "$.project.arn",
                "DatasetType": dataset_type,
            }
            if source_path is not None:
                parameters["DatasetSource.$"] = source_path
            return _sdk(
                scope,
                name,
                "createDataset",
                parameters,
                result_selector={"arn.$": "$.DatasetArn"},
                result_path=f"$.{dataset_type.lower()}_dataset",
            )

        create_train = create("CreateTrainDataset", "TRAIN", "$.job.datasets.train_source")
        create_test = create("CreateTestDataset", "TEST", "$.job.datasets.test_source")
        create_empty_test = create("CreateEmptyTestDataset", "TEST", None)
        ready = sfn.Pass(scope.construct, "DatasetsReady")

        distribute = _sdk(
            scope,
            "SplitTrainingData",
            "distributeDatasetEntries",
            {
                "Datasets": [
                    {"Arn.$": "$.train_dataset.arn"},
                    {"Arn.$": "$.test_dataset.arn"},
                ]
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        split_done = _poll_dataset(
            scope, "SplitTest", "$.test_dataset.arn", interval, max_polls, DATASET_SPLIT, ready
        )
        distribute.next(
            _poll_dataset(
                scope,
                "SplitTrain",
                "$.train_dataset.arn",
                interval,
                max_polls,
                DATASET_SPLIT,
                split_done,
            )
        )
        after_created = (
            sfn.Choice(scope.construct, "SplitNeeded?")
            .when(sfn.Condition.string_equals("$.job.datasets.test_mode", "auto_split"), distribute)
            .otherwise(ready)
        )
        test_done = _poll_dataset(
            scope, "Test", "$.test_dataset.arn", interval, max_polls, DATASET_CREATE, after_created
        )
        train_done = _poll_dataset(
            scope, "Train", "$.train_dataset.arn", interval, max_polls, DATASET_CREATE, test_done
        )
        create_test.next(train_done)
        create_empty_test.next(train_done)
        create_train.next(
            sfn.Choice(scope.construct, "TestSource?")
            .when(sfn.Condition.string_equals("$.job.datasets.test_mode", "source"), create_test)
            .otherwise(create_empty_test)
        )
        delete_old.next(create_train)
        existing = sfn.Pass(scope.construct, "UseExistingDatasets")
        start = (
            sfn.Choice(scope.construct, "DatasetMode?")
            .when(sfn.Condition.string_equals("$.job.datasets.mode", "existing"), existing)
            .when(sfn.Condition.is_present("$.project.datasets[0]"), delete_old)
            .otherwise(create_train)
        )
        return _DatasetStates(start=start, existing=existing, ready=ready)

    def _deploy(self, scope: _Scope, poll_seconds: int, max_polls: int) -> sfn.IChainable:
        """Start the version, publish it to inference, retire the previous one, notify."""
        config = self._config
        parameter = config.model_version_parameter
        no_current_model = sfn.Pass(
            scope.construct,
            "NoCurrentModel",
            parameters={"arn": NO_PREVIOUS_MODEL},
            result_path="$.previous",
        )
        read_current = _sdk(
            scope,
            "ReadCurrentModel",
            "getParameter",
            {"Name": parameter},
            service="ssm",
            iam_resources=[self.model_parameter_arn],
            result_selector={"arn.$": "$.Parameter.Value"},
            result_path="$.previous",
            transient=SSM_TRANSIENT_ERRORS,
            expected_errors={"Ssm.ParameterNotFoundException": no_current_model},
        )
        start = _sdk(
            scope,
            "StartModel",
            "startProjectVersion",
            {
                "ProjectVersionArn.$": "$.version.arn",
                "MinInferenceUnits": config.rekognition.min_inference_units,
                "MaxInferenceUnits": config.rekognition.max_inference_units,
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        publish = _sdk(
            scope,
            "PublishModel",
            "putParameter",
            {"Name": parameter, "Value.$": "$.version.arn", "Type": "String", "Overwrite": True},
            service="ssm",
            iam_resources=[self.model_parameter_arn],
            result_path=sfn.JsonPath.DISCARD,
            transient=SSM_TRANSIENT_ERRORS,
        )
        summary = (
            "Model version {} of project {} passed the quality gate and is RUNNING.\n"
            "Gate: {} = {} (threshold {}).\nMetrics: {}\nReport: {}\nInference now uses "
            "{} (SSM parameter " + parameter + "); previously {}."
        )
        values = [
            sfn.JsonPath.string_at("$.job.version_name"),
            sfn.JsonPath.string_at("$.job.project_name"),
            sfn.JsonPath.string_at("$.evaluation.gate.metric"),
            sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.evaluation.gate.value")),
            sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.evaluation.gate.threshold")),
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.evaluation.metrics")),
            sfn.JsonPath.string_at("$.evaluation.report_uri"),
            sfn.JsonPath.string_at("$.version.arn"),
            sfn.JsonPath.string_at("$.previous.arn"),
        ]
        outcome = {
            "outcome": "DEPLOYED",
            "project_version_arn.$": "$.version.arn",
            "previous_version_arn.$": "$.previous.arn",
            "gate.$": "$.evaluation.gate",
            "metrics.$": "$.evaluation.metrics",
            "report_uri.$": "$.evaluation.report_uri",
        }
        deployed = sfn.Succeed(scope.construct, "Deployed")
        notify = scope.guard.notify(
            scope.construct, "NotifyDeployed", outcome="DEPLOYED", summary=summary, values=values
        )
        notify.next(sfn.Pass(scope.construct, "DeployedOutcome", parameters=outcome)).next(deployed)
        if config.rekognition_training.stop_previous_version:
            stop_previous = _sdk(
                scope,
                "StopPreviousModel",
                "stopProjectVersion",
                {"ProjectVersionArn.$": "$.previous.arn"},
                result_path=sfn.JsonPath.DISCARD,
                expected_errors={
                    # Already stopped or deleted: nothing to retire.
                    "Rekognition.ResourceInUseException": notify,
                    "Rekognition.ResourceNotFoundException": notify,
                },
                catch=False,
            )
            # The new version runs and inference uses it: a stop that fails (after its
            # retries) does not undo the deployment. The run ends DEPLOYED and says, in the
            # notification and the output, that the old version still bills and how to stop it.
            still_running = self._previous_model_still_running(scope)
            stop_previous.add_catch(
                still_running, errors=["States.ALL"], result_path="$.stop_previous_error"
            )
            still_running.next(
                scope.guard.notify(
                    scope.construct,
                    "NotifyDeployedWithWarning",
                    outcome="DEPLOYED",
                    summary=summary + "\nWARNING: {}",
                    values=[*values, sfn.JsonPath.string_at("$.warning.message")],
                )
            ).next(
                sfn.Pass(
                    scope.construct,
                    "DeployedWithWarningOutcome",
                    parameters={**outcome, "warning.$": "$.warning"},
                )
            ).next(deployed)
            stop_previous.next(notify)
            project_prefix = self.project_resources[0].replace("/*", "/")
            publish.next(
                sfn.Choice(scope.construct, "PreviousModelToStop?")
                .when(
                    sfn.Condition.and_(
                        sfn.Condition.not_(
                            sfn.Condition.string_equals("$.previous.arn", NO_PREVIOUS_MODEL)
                        ),
                        sfn.Condition.not_(
                            sfn.Condition.string_equals_json_path("$.previous.arn", "$.version.arn")
                        ),
                        sfn.Condition.string_matches("$.previous.arn", f"{project_prefix}*"),
                    ),
                    stop_previous,
                )
                .otherwise(notify)
            )
        else:
            publish.next(notify)
        running = _poll_version(
            scope,
            "Start",
            interval=Duration.seconds(poll_seconds),
            max_polls=max_polls,
            poll=START,
            result_path="$.deployment",
            then=publish,
        )
        read_current.next(start)
        no_current_model.next(start)
        start.next(running)
        return read_current

    def _previous_model_still_running(self, scope: _Scope) -> sfn.Pass:
        """``$.warning``: the previous version still runs; what it costs, how to stop it."""
        config = self._config
        units = config.rekognition.min_inference_units
        hourly = INFERENCE_UNIT_HOUR_USD * units
        previous = sfn.JsonPath.string_at("$.previous.arn")
        error = sfn.JsonPath.string_at("$.stop_previous_error.Error")
        cause = sfn.JsonPath.string_at("$.stop_previous_error.Cause")
        ops_command = sfn.JsonPath.format(
            f"python -m ops model stop --env {config.name} --version-arn {{}}", previous
        )
        cli_command = sfn.JsonPath.format(
            "aws rekognition stop-project-version --project-version-arn {} "
            f"--region {Aws.REGION}",
            previous,
        )
        plural = "s" if units > 1 else ""
        return sfn.Pass(
            scope.construct,
            "PreviousModelStillRunning",
            parameters={
                "previous_version_still_running": previous,
                "error": error,
                "cause": cause,
                "hourly_cost_usd": hourly,
                "stop_commands": sfn.JsonPath.array(ops_command, cli_command),
                "message": sfn.JsonPath.format(
                    "The previous version {} is still RUNNING: stopping it failed ({}: {}). It "
                    f"bills about ${INFERENCE_UNIT_HOUR_USD} per inference-unit hour, about "
                    f"${hourly} per hour at the configured {units} minimum inference unit{plural}, "
                    "until it is stopped: {} or {}",
                    previous,
                    error,
                    cause,
                    ops_command,
                    cli_command,
                ),
            },
            result_path="$.warning",
        )

    # --- permissions and triggers ------------------------------------------------------------

    def _grant_workflow(self, data_bucket: s3.IBucket) -> None:
        """What Rekognition does with the caller's permissions during training."""
        role = self.state_machine.role
        # Training reads the manifests and images of the data bucket ...
        grant_objects(
            role,
            data_bucket,
            "",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"],
            list_bucket=True,
        )
        # ... and writes the model, its evaluation and manifest snapshots under models/.
        grant_objects(
            role,
            self.artifacts_bucket,
            "models/",
            ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
            list_bucket=True,
        )
        self._encryption_key.grant(role, "kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey")
        grant_service_grants(self._encryption_key, role)
        # CreateProjectVersion with Tags needs TagResource on the new version.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["rekognition:TagResource"], resources=self.project_resources
            )
        )
        # CreateDataset from another dataset reads the source's entries (any project).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["rekognition:ListDatasetEntries"],
                resources=[self._any_dataset_arn],
            )
        )
        Validations.of(self.workflow).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="rekognition:DescribeProjects authorizes on no resource type (it only "
                "lists project metadata) and rekognition:CreateProject neither, granted only "
                "with this workflow's ManagedBy request tag. (Also X-Ray and log delivery, see "
                "Workflow.)",
            ),
        )
        acknowledge_resources(
            self.workflow,
            self.project_resources,
            "The project's ARN ends in a creation timestamp unknown before the workflow creates "
            "it; the grant covers this one project's project, dataset and version ARNs only.",
        )
        acknowledge_resources(
            self.workflow,
            [self._any_dataset_arn],
            "Copying a dataset (CreateDataset from a DatasetArn) reads the source dataset's "
            "entries, which may belong to any project; ListDatasetEntries only.",
        )
        acknowledge_prefix_wildcards(
            self.workflow,
            data_bucket,
            [""],
            "Rekognition reads whichever manifest and images a request names in the data bucket "
            "(ValidateInput refuses other buckets); read-only.",
        )
        acknowledge_prefix_wildcards(
            self.workflow,
            self.artifacts_bucket,
            ["models/"],
            "Rekognition writes the model, its evaluation and manifest snapshots under models/ "
            "with names it chooses.",
        )

    def _triggers(
        self,
        config: EnvironmentConfig,
        data_bucket: s3.IBucket,
        alerts: AlertTopic,
        common: dict[str, Any],
    ) -> None:
        """Optional: start on a new manifest and/or on a schedule, never beside a running one."""
        training = config.rekognition_training
        if training.trigger_manifest_prefix is None and training.trigger_schedule is None:
            self.trigger_function: PythonFunction | None = None
            return
        function = PythonFunction(
            self,
            "Trigger",
            handler="rekognition_training.trigger.lambda_handler",
            description="Starts Rekognition training on a new manifest or on schedule",
            memory_size=256,
            timeout=Duration.seconds(30),
            service_name="rekognition-training-trigger",
            environment={
                "STATE_MACHINE_ARN": self.state_machine.state_machine_arn,
                "DATA_BUCKET": data_bucket.bucket_name,
                "SCHEDULED_MANIFEST_KEY": training.scheduled_manifest_key or "",
            },
            alarm_action=alerts.alarm_action,
            # One at a time: each trigger sees the run the previous one started.
            reserved_concurrency=1,
            **{**common, "invocation": Invocation.ASYNCHRONOUS},
        )
        self.state_machine.grant_start_execution(function.role)
        function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:ListExecutions"],
                resources=[self.state_machine.state_machine_arn],
            )
        )
        self.trigger_function = function
        target = targets.LambdaFunction(
            function.function,
            dead_letter_queue=function.dead_letter.queue if function.dead_letter else None,
            retry_attempts=3,
        )
        if training.trigger_manifest_prefix is not None:
            events.Rule(
                self,
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
                self,
                "Schedule",
                description="Scheduled retraining",
                schedule=events.Schedule.expression(training.trigger_schedule),
                targets=[target],
            )


@dataclass(frozen=True)
class _DatasetStates:
    start: sfn.IChainable
    existing: sfn.Pass
    ready: sfn.Pass


def _sdk(
    scope: _Scope,
    construct_id: str,
    action: str,
    parameters: dict[str, Any],
    *,
    service: str = "rekognition",
    iam_resources: Sequence[str] | None = None,
    iam_action: str | None = None,
    additional_iam_statements: Sequence[iam.PolicyStatement] = (),
    result_selector: dict[str, Any] | None = None,
    result_path: str | None = None,
    transient: Sequence[str] = REKOGNITION_TRANSIENT_ERRORS,
    expected_errors: dict[str, sfn.IChainable] | None = None,
    catch: bool = True,
) -> sfn.TaskStateBase:
    """A guarded aws-sdk task; IAM action = ``service:Action`` (unless given), resources the
    project's ARNs (unless given)."""
    task = tasks.CallAwsService(
        scope.construct,
        construct_id,
        service=service,
        action=action,
        parameters=parameters,
        iam_resources=list(iam_resources or scope.project_resources),
        iam_action=iam_action or f"{service}:{action[0].upper()}{action[1:]}",
        additional_iam_statements=list(additional_iam_statements) or None,
        result_selector=result_selector,
        result_path=result_path,
        task_timeout=sfn.Timeout.duration(SDK_TIMEOUT),
    )
    for error, handler in (expected_errors or {}).items():
        task.add_catch(handler, errors=[error], result_path=sfn.JsonPath.DISCARD)
    return scope.guard(task, transient_errors=transient, catch=catch)


def _polling_loop(
    scope: _Scope,
    label: str,
    interval: Duration,
    max_polls: int,
    describe: sfn.TaskStateBase,
    timed_out: sfn.IChainable,
) -> tuple[sfn.Chain, sfn.Pass]:
    """The bounded loop every poll shares: ``Init<label>Polls -> Wait<label> -> describe``.

    Returns that chain (the caller appends its status Choice) and the state that polls again:
    ``Count<label>Polls -> <label>Deadline?`` (``timed_out`` once ``max_polls`` are spent,
    otherwise back to the Wait).
    """
    construct = scope.construct
    init = sfn.Pass(construct, f"Init{label}Polls", parameters={"count": 0}, result_path="$.polls")
    wait = sfn.Wait(construct, f"Wait{label}", time=sfn.WaitTime.duration(interval))
    again = sfn.Pass(
        construct,
        f"Count{label}Polls",
        parameters={"count.$": "States.MathAdd($.polls.count, 1)"},
        result_path="$.polls",
    )
    again.next(
        sfn.Choice(construct, f"{label}Deadline?")
        .when(sfn.Condition.number_greater_than_equals("$.polls.count", max_polls), timed_out)
        .otherwise(wait)
    )
    return init.next(wait).next(describe), again


def _poll_dataset(
    scope: _Scope,
    name: str,
    arn_path: str,
    interval: Duration,
    max_polls: int,
    poll: StatusPoll,
    then: sfn.IChainable,
) -> sfn.IChainable:
    """Wait until the dataset at ``arn_path`` is DONE for ``poll``; a FAILED status fails the run
    at once with the dataset's description (its StatusMessage and StatusMessageCode)."""
    construct, guard = scope.construct, scope.guard
    status_path = f"$.dataset_status.{name.lower()}"
    describe = _sdk(
        scope,
        f"Describe{name}Dataset",
        "describeDataset",
        {"DatasetArn.$": arn_path},
        result_selector={"description.$": "$.DatasetDescription"},
        result_path=status_path,
    )
    status = f"{status_path}.description.Status"
    failed = guard.fail(
        construct,
        f"{name}DatasetFailed",
        error="DatasetFailed",
        cause=sfn.JsonPath.format(
            f"{name} dataset {{}} is {{}} (expected {poll.waits_for} while {poll.name}): {{}}",
            sfn.JsonPath.string_at(arn_path),
            sfn.JsonPath.string_at(status),
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at(f"{status_path}.description")),
        ),
    )
    timed_out = guard.fail(
        construct,
        f"{name}DatasetTimedOut",
        error="DatasetDeadlineExceeded",
        cause=sfn.JsonPath.format(
            f"{name} dataset {{}} was not complete after {max_polls} polls "
            f"({int(interval.to_seconds()) * max_polls} s)",
            sfn.JsonPath.string_at(arn_path),
        ),
    )
    first_poll, again = _polling_loop(
        scope, f"{name}Dataset", interval, max_polls, describe, timed_out
    )
    choice = _status_choice(
        construct, f"{name}DatasetReady?", status, poll, done=then, failed=failed, again=again
    )
    return first_poll.next(choice)


def _status_choice(
    construct: Construct,
    construct_id: str,
    status_path: str,
    poll: StatusPoll,
    *,
    done: sfn.IChainable,
    failed: sfn.IChainable,
    again: sfn.IChainable,
    unseen: str | None = None,
) -> sfn.Choice:
    """DONE -> ``done``, FAILED -> ``failed``; WORKING (and a status unknown at synth) polls again,
    as does a missing ``unseen`` path (the resource not visible yet).

    Built from the classification table (``rekognition_statuses``), the one statement of what
    each status means to this poll.
    """

    def any_of(progress: Progress) -> sfn.Condition:
        conditions = [sfn.Condition.string_equals(status_path, s) for s in poll.having(progress)]
        return conditions[0] if len(conditions) == 1 else sfn.Condition.or_(*conditions)

    choice = sfn.Choice(construct, construct_id)
    if unseen is not None:
        choice.when(sfn.Condition.is_not_present(unseen), again)
    return (
        choice.when(any_of(Progress.DONE), done)
        .when(any_of(Progress.FAILED), failed)
        .otherwise(again)
    )


def _poll_until_gone(
    scope: _Scope, interval: Duration, max_polls: int, gone: sfn.IChainable
) -> sfn.IChainable:
    """Inside the deletion Map: wait until DescribeDataset says the dataset no longer exists."""
    construct = scope.construct
    wait = sfn.Wait(construct, "WaitDatasetDeleted", time=sfn.WaitTime.duration(interval))
    describe = _sdk(
        scope,
        "DescribeDeletedDataset",
        "describeDataset",
        {"DatasetArn.$": "$.arn"},
        result_path=sfn.JsonPath.DISCARD,
        expected_errors={"Rekognition.ResourceNotFoundException": gone},
        catch=False,
    )
    count = sfn.Pass(
        construct,
        "CountDeletionPolls",
        parameters={"arn.$": "$.arn", "polls.$": "States.MathAdd($.polls, 1)"},
    )
    timed_out = sfn.Fail(
        construct,
        "DatasetDeletionTimedOut",
        error="DatasetDeadlineExceeded",
        cause=f"an old dataset was still being deleted after {max_polls} polls",
    )
    count.next(
        sfn.Choice(construct, "DeletionDeadline?")
        .when(sfn.Condition.number_greater_than_equals("$.polls", max_polls), timed_out)
        .otherwise(wait)
    )
    return wait.next(describe).next(count)


def _poll_version(
    scope: _Scope,
    name: str,
    *,
    interval: Duration,
    max_polls: int,
    poll: StatusPoll,
    result_path: str,
    then: sfn.IChainable,
) -> sfn.IChainable:
    """Poll DescribeProjectVersions (with VersionNames) until DONE for ``poll``; bounded. A
    FAILED status fails the run at once with the description (its StatusMessage)."""
    construct, guard = scope.construct, scope.guard
    describe = _sdk(
        scope,
        f"Describe{name}",
        "describeProjectVersions",
        {
            "ProjectArn.$": "$.project.arn",
            "VersionNames.$": "States.Array($.job.version_name)",
        },
        result_selector={"descriptions.$": "$.ProjectVersionDescriptions"},
        result_path=result_path,
    )
    status = f"{result_path}.descriptions[0].Status"
    failed = guard.fail(
        construct,
        f"{name}Failed",
        error=f"{name}Failed",
        cause=sfn.JsonPath.format(
            f"Version {{}} is {{}} (expected {poll.waits_for} while {poll.name}): {{}}",
            sfn.JsonPath.string_at("$.job.version_name"),
            sfn.JsonPath.string_at(status),
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at(f"{result_path}.descriptions[0]")),
        ),
    )
    timed_out = guard.fail(
        construct,
        f"{name}TimedOut",
        error="PollingDeadlineExceeded",
        cause=sfn.JsonPath.format(
            f"Version {{}} did not reach {poll.waits_for} within {max_polls} polls "
            f"({int(interval.to_seconds()) * max_polls} s)",
            sfn.JsonPath.string_at("$.job.version_name"),
        ),
    )
    first_poll, again = _polling_loop(scope, name, interval, max_polls, describe, timed_out)
    choice = _status_choice(
        construct,
        f"{name}Done?",
        status,
        poll,
        done=then,
        failed=failed,
        again=again,
        # Not visible yet (eventual consistency): poll again.
        unseen=f"{result_path}.descriptions[0]",
    )
    return first_poll.next(choice)
