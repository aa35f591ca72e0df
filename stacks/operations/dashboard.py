"""Two CloudWatch dashboards per environment: an overview that fits one screen, and the detail.

``<prefix>-<env>-overview`` (at most :data:`OVERVIEW_ROWS` grid rows): the top row is an
alarm-status widget with every alarm of the environment (composites first) beside the links;
then each pipeline's row of health numbers (:class:`stacks.operations.panels.Panel.health`).
``<prefix>-<env>-operations`` keeps the rest: each pipeline's graphs, row by row without gaps
(:func:`stacks.operations.panels.check_row`). Each links to the other.

A Lambda-backed custom widget shows the latest evaluated Rekognition model version: in full (its
confusion-matrix heat map and gate verdict) on the detailed dashboard, as one line (version,
verdict, headline figures) on the overview.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contracts.metrics import EVALUATION_WIDGET_SERVICE
from stacks.building_blocks.iam import acknowledge_prefix_wildcards, grant_objects
from stacks.building_blocks.python_function import FunctionDefaults, Invocation, PythonFunction
from stacks.building_blocks.state_machine import Workflow
from stacks.operations.panels import (
    EVALUATION_WIDGET_WIDTH,
    FULL,
    HEALTH_HEIGHT,
    HEIGHT,
    Panel,
    check_row,
    header,
)
from stacks.pipelines.rekognition_training import RekognitionTraining

#: The overview must fit one screen.
OVERVIEW_ROWS = 18
ALARMS_HEIGHT = 5
WIDGET_SERVICE = EVALUATION_WIDGET_SERVICE


def dashboard_url(name: str) -> str:
    return (
        f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
        f"#dashboards/dashboard/{name}"
    )


@dataclass(frozen=True)
class DashboardLinks:
    """What the dashboards link to, besides each other."""

    workflows: Sequence[Workflow]
    queues: Mapping[str, sqs.IQueue]
    data_bucket_name: str
    artifacts_bucket: s3.IBucket
    runbook_url: str | None


class EvaluationWidgetFunction(Construct):
    """The function behind the dashboard's evaluation widget; reads only the project's reports."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        training: RekognitionTraining,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        artifacts_bucket = training.artifacts_bucket
        reports_prefix = training.reports_prefix
        self.function = PythonFunction(
            self,
            "Renderer",
            handler="evaluation_widget.handler.lambda_handler",
            description="Renders the latest model evaluation (heat map, gate) on the dashboard",
            memory_size=512,
            timeout=Duration.seconds(30),
            invocation=Invocation.SYNCHRONOUS,
            service_name=WIDGET_SERVICE,
            **defaults.kwargs(),
            environment={
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "PROJECT_NAME": training.project_name,
                "REPORTS_PREFIX": reports_prefix,
                "ENVIRONMENT_NAME": training.environment_name,
            },
        )
        grant_objects(
            self.function.role,
            artifacts_bucket,
            reports_prefix,
            ["s3:GetObject"],
            list_bucket=True,
        )
        defaults.encryption_key.grant_decrypt(self.function.role)
        acknowledge_prefix_wildcards(
            self.function,
            artifacts_bucket,
            [reports_prefix],
            "Reads the evaluation reports of the project's versions, named when trained.",
        )


def evaluation_widgets(
    function: PythonFunction, project: str
) -> tuple[cloudwatch.CustomWidget, cloudwatch.CustomWidget]:
    """The evaluation widget in full (detailed dashboard) and as one line (the overview)."""

    def widget(title: str, width: int, height: int, params: dict[str, str]) -> Any:
        return cloudwatch.CustomWidget(
            function_arn=function.function.function_arn,
            title=title,
            width=width,
            height=height,
            update_on_refresh=True,
            update_on_resize=False,
            update_on_time_range_change=False,
            params=params,
        )

    full = widget(
        "Latest model version: confusion matrix and gate",
        EVALUATION_WIDGET_WIDTH,
        HEIGHT * 2,
        {"project": project},
    )
    verdict = widget(
        "Rekognition: last evaluation",
        FULL - 8,
        HEALTH_HEIGHT,
        {"project": project, "view": "verdict"},
    )
    return full, verdict


class OperationsDashboards(Construct):
    """The overview and the detailed dashboard, built from the pipelines' :class:`Panel` s."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_name: str,
        overview_name: str,
        detail_name: str,
        panels: Sequence[Panel],
        alarms: Sequence[cloudwatch.IAlarm],
        links: DashboardLinks,
    ) -> None:
        super().__init__(scope, construct_id)
        self.overview_rows: list[list[cloudwatch.IWidget]] = []
        self.detail_rows: list[list[cloudwatch.IWidget]] = []
        self.overview = cloudwatch.Dashboard(
            self, "Overview", dashboard_name=overview_name, default_interval=Duration.hours(24)
        )
        self.detail = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=detail_name, default_interval=Duration.hours(24)
        )
        top = [
            cloudwatch.AlarmStatusWidget(
                title=f"Alarms of {environment_name} (ALARM first)",
                alarms=list(alarms),
                width=FULL - 6,
                height=ALARMS_HEIGHT,
                sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
            ),
            cloudwatch.TextWidget(
                markdown=(
                    f"# {environment_name}\n"
                    f"[Detailed dashboard]({dashboard_url(detail_name)})  \n"
                    f"{_runbooks(links.runbook_url)}  \n"
                    f"`python -m ops status --env {environment_name}`"
                ),
                width=6,
                height=ALARMS_HEIGHT,
            ),
        ]
        self._add(self.overview, self.overview_rows, "overview top", top)
        for panel in panels:
            if panel.health:
                self._add(
                    self.overview, self.overview_rows, panel.title, panel.health, HEALTH_HEIGHT
                )
        height = sum(row[0].height for row in self.overview_rows)
        if height > OVERVIEW_ROWS:
            raise ValueError(
                f"the overview is {height} grid rows high; it must fit one screen ({OVERVIEW_ROWS})"
            )
        self._add(
            self.detail,
            self.detail_rows,
            "links",
            [_links(environment_name, overview_name, links)],
        )
        for panel in panels:
            self._add(self.detail, self.detail_rows, f"{panel.title} header", [header(panel.title)])
            for index, row in enumerate(panel.detail):
                self._add(self.detail, self.detail_rows, f"{panel.title} {index + 1}", row)

    @staticmethod
    def _add(
        dashboard: cloudwatch.Dashboard,
        rows: list[list[cloudwatch.IWidget]],
        where: str,
        widgets: Sequence[cloudwatch.IWidget],
        height: int | None = None,
    ) -> None:
        check_row(where, widgets, height)
        rows.append(list(widgets))
        dashboard.add_widgets(*widgets)


def _runbooks(runbook_url: str | None) -> str:
    return f"[Runbooks]({runbook_url})" if runbook_url else "Runbooks: README, *Runbooks*"


def _links(
    environment_name: str, overview_name: str, links: DashboardLinks
) -> cloudwatch.TextWidget:
    region = Aws.REGION
    machines = " · ".join(
        f"[{workflow.workflow_name}](https://{region}.console.aws.amazon.com/states/home"
        f"?region={region}#/statemachines/view/{workflow.state_machine.state_machine_arn})"
        for workflow in links.workflows
    )
    queues = " · ".join(
        f"[{name}]({queue_console_url(queue)})" for name, queue in links.queues.items()
    )
    buckets = " · ".join(
        f"[{purpose}](https://s3.console.aws.amazon.com/s3/buckets/{name}?region={region})"
        for purpose, name in (
            ("data", links.data_bucket_name),
            ("artifacts", links.artifacts_bucket.bucket_name),
        )
    )
    return cloudwatch.TextWidget(
        markdown=(
            f"# Image classification — {environment_name} · "
            f"[Overview]({dashboard_url(overview_name)})\n"
            f"**Workflows:** {machines}  \n"
            f"**Queues:** {queues}  \n"
            f"**Buckets:** {buckets}  \n"
            f"**{_runbooks(links.runbook_url)}** · every alarm's description names its "
            "runbook section."
        ),
        width=FULL,
        height=5,
    )


def queue_console_url(queue: sqs.IQueue) -> str:
    """SQS console page of a queue (its URL, percent-encoded, is the page's address)."""
    region, account = Aws.REGION, Aws.ACCOUNT_ID
    return (
        f"https://{region}.console.aws.amazon.com/sqs/v3/home?region={region}#/queues/"
        f"https%3A%2F%2Fsqs.{region}.amazonaws.com%2F{account}%2F{queue.queue_name}"
    )
