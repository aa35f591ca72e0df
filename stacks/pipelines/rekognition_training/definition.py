"""The state graph of the training workflow: steps 1, 2, 4 and 5, and the gate.

``WrapRequest`` -> ``ValidateInput`` -> ``FindProject`` (``CreateProject`` or ``UseProject``) ->
the datasets (``datasets``) -> ``CreateVersion`` and its training poll -> ``Evaluate`` ->
``RecordLineage`` -> ``TagVersion`` -> ``GatePassed?``: the deployment (``deployment``) or
``NotifyRejected`` -> ``ModelRejected``.
State names are construct ids under ``<construct>/States``; the order in which the tasks are
created is the order of their statements in the state machine role's policy, so it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.building_blocks.python_function import PythonFunction
from stacks.building_blocks.state_machine import TaskGuard
from stacks.config import PROJECT_LOOKUP_MAX_PAGES, EnvironmentConfig
from stacks.pipelines.rekognition_training.datasets import _datasets
from stacks.pipelines.rekognition_training.deployment import DeployOrigin, _deploy
from stacks.pipelines.rekognition_training.polling import _poll_version, _Scope, _sdk
from stacks.pipelines.rekognition_training.statuses import TRAINING

#: The ``ManagedBy`` tag of every project and version the workflow creates.
MANAGED_BY = "rekognition-training-workflow"


@dataclass(frozen=True)
class _WorkflowParts:
    """What the definition reads from the :class:`RekognitionTraining` construct that owns it."""

    #: The construct the ``States`` scope is created under.
    owner: Construct
    config: EnvironmentConfig
    validate_function: PythonFunction
    evaluate_function: PythonFunction
    lineage_function: PythonFunction
    artifacts_bucket: s3.IBucket
    encryption_key: kms.IKey
    project_resources: list[str]
    model_parameter_arn: str
    #: Tags of the projects and versions the workflow creates.
    tags: dict[str, str]


def _definition(parts: _WorkflowParts, guard: TaskGuard) -> sfn.IChainable:
    """Every state of the workflow; :class:`Workflow` calls it with the guard of its Tasks."""
    config = parts.config
    training = config.rekognition_training
    # State names are construct ids: keep them apart from the functions' ids.
    states = Construct(parts.owner, "States")
    scope = _Scope(states, guard, parts.project_resources)

    # Any JSON value may start a run; a Catch can record its error only in an object (on
    # AWS, States.ResultPathMatchFailure otherwise), so the request is wrapped in one first
    # and ValidateInput refuses whatever is not an object.
    wrap = sfn.Pass(scope.construct, "WrapRequest", parameters={"request.$": "$"})
    validate = guard.invoke(
        scope.construct,
        "ValidateInput",
        function=parts.validate_function.function,
        timeout=Duration.seconds(60),
        payload=sfn.TaskInput.from_object(
            {"request.$": "$.request", "execution_name.$": "$$.Execution.Name"}
        ),
        result_selector={"job.$": "$"},
    )
    create_project = _create_project(scope, parts.tags)
    use_project = sfn.Pass(
        scope.construct,
        "UseProject",
        parameters={
            "arn.$": "$.lookup.page.ProjectDescriptions[0].ProjectArn",
            "datasets.$": "$.lookup.page.ProjectDescriptions[0].Datasets[*].DatasetArn",
        },
        result_path="$.project",
    )
    find_project = _find_project(scope, found=use_project, absent=create_project)

    create_version = _sdk(
        scope,
        "CreateVersion",
        "createProjectVersion",
        {
            "ProjectArn.$": "$.project.arn",
            "VersionName.$": "$.job.version_name",
            "OutputConfig": {
                "S3Bucket": parts.artifacts_bucket.bucket_name,
                "S3KeyPrefix.$": "$.job.output_prefix",
            },
            "KmsKeyId": parts.encryption_key.key_arn,
            "Tags": parts.tags,
        },
        result_selector={"arn.$": "$.ProjectVersionArn"},
        result_path="$.version",
    )
    datasets = _datasets(scope, training.dataset_poll_seconds, training.dataset_max_polls)
    datasets.existing.next(create_version)
    datasets.ready.next(create_version)

    evaluate = guard.invoke(
        scope.construct,
        "Evaluate",
        function=parts.evaluate_function.function,
        timeout=Duration.minutes(6),
        payload=sfn.TaskInput.from_object(
            {"job.$": "$.job", "version.$": "$.training.descriptions[0]"}
        ),
        result_path="$.evaluation",
    )
    record_lineage = guard.invoke(
        scope.construct,
        "RecordLineage",
        function=parts.lineage_function.function,
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
    tag_version = _sdk(
        scope,
        "TagVersion",
        "tagResource",
        {"ResourceArn.$": "$.version.arn", "Tags.$": "$.lineage.tags"},
        result_path=sfn.JsonPath.DISCARD,
    )
    evaluate.next(record_lineage).next(tag_version)
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

    deploy = _deploy(
        scope,
        training.start_poll_seconds,
        training.start_max_polls,
        config=config,
        model_parameter_arn=parts.model_parameter_arn,
        # The run's own record (a promotion names its source's instead).
        origin=DeployOrigin(outcome={"lineage_uri.$": "$.lineage.uri"}),
    )
    rejected = guard.notify(
        scope.construct,
        "NotifyRejected",
        outcome="REJECTED",
        summary=(
            "Model version {} of project {} was trained but NOT deployed.\n"
            "Gate verdict: {}\nReasons: {}\n"
            "Report: {}\nThe version is kept and can be started by hand."
        ),
        values=[
            sfn.JsonPath.string_at("$.job.version_name"),
            sfn.JsonPath.string_at("$.job.project_name"),
            # The verdict line ops train and the report use: the same words and digits.
            sfn.JsonPath.string_at("$.evaluation.gate.summary"),
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
                "lineage_uri.$": "$.lineage.uri",
            },
        )
    ).next(sfn.Succeed(scope.construct, "ModelRejected"))
    tag_version.next(
        sfn.Choice(scope.construct, "GatePassed?")
        .when(sfn.Condition.boolean_equals("$.evaluation.gate.passed", True), deploy)
        .otherwise(rejected)
    )

    create_project.next(datasets.start)
    use_project.next(datasets.start)
    return wrap.next(validate).next(find_project)


def _create_project(scope: _Scope, tags: dict[str, str]) -> sfn.TaskStateBase:
    """``CreateProject`` named ``$.job.project_name``, tagged ``tags``; ``$.project.arn``."""
    return _sdk(
        scope,
        "CreateProject",
        "createProject",
        {"ProjectName.$": "$.job.project_name", "Tags": tags},
        # Creating with Tags needs TagResource on the new project (the task's own grant) ...
        iam_action="rekognition:TagResource",
        # ... and CreateProject, for which the authorization reference lists no resource
        # type (an older Custom Labels guide scopes it to a project ARN): "*" works under
        # both readings, and the request tag keeps it to projects this workflow creates.
        additional_iam_statements=[
            iam.PolicyStatement(
                actions=["rekognition:CreateProject"],
                resources=["*"],
                conditions={"StringEquals": {"aws:RequestTag/ManagedBy": tags["ManagedBy"]}},
            )
        ],
        result_selector={"arn.$": "$.ProjectArn"},
        result_path="$.project",
    )


def _find_project(
    scope: _Scope, *, found: sfn.IChainable, absent: sfn.IChainable
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
            sfn.Condition.number_greater_than_equals("$.lookup.pages", PROJECT_LOOKUP_MAX_PAGES),
            incomplete,
        )
        .otherwise(next_page)
    )
    next_page.next(count).next(lookup)
    return first_page.next(lookup)
