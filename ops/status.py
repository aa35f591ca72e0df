"""Operator command: the environment at a glance, in the terminal.

    ops status --env dev [--hours 24]

The overview dashboard (``<prefix>-<env>-overview``) in the terminal: the alarms of the
environment (metric and composite, ``<prefix>-<env>-...``) with what is in ALARM and its runbook,
each pipeline's health numbers, the last evaluation's verdict, and the SageMaker endpoint as
SageMaker describes it (status and instances). The numbers are the dashboard's own: the command
reads the deployed overview's body (GetDashboard) and asks GetMetricData for each number widget's
queries, so the terminal and the console cannot disagree. Exit code 1 while anything is in ALARM.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from ops.common import (
    EXIT_FAILING,
    EXIT_OK,
    AwsEnvironmentError,
    aws_client,
    aws_failure,
    count_between,
    environment,
)
from stacks.config import EnvironmentConfig
from stacks.runbooks import runbook_of

_STATE_STYLES = {"ALARM": "bold red", "INSUFFICIENT_DATA": "yellow", "OK": "green"}
#: GetMetricData's default period for a dashboard metric without one.
DEFAULT_PERIOD = 300
_IDENTIFIER = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Alarm:
    name: str
    kind: str  # "metric" or "composite"
    state: str
    since: datetime | None
    runbook: str | None


@dataclass(frozen=True)
class Number:
    label: str
    value: float | None


@dataclass(frozen=True)
class Health:
    """One number widget of the overview: its title and values."""

    title: str
    numbers: tuple[Number, ...]


def register(commands: Any) -> None:
    """Add ``status`` to the ``ops`` subparsers."""
    parser = commands.add_parser(
        "status",
        help="the environment at a glance: alarms, health numbers, endpoint (exit 1 on ALARM)",
        description="The overview dashboard in the terminal: every alarm of the environment "
        "(what is in ALARM, with its runbook), each pipeline's health numbers as the deployed "
        "overview dashboard computes them, the last evaluation's verdict and the SageMaker "
        "endpoint's status and instances. Exit code 1 while any alarm is in ALARM.",
    )
    parser.add_argument("--env", required=True, help="environment name from cdk.json")
    parser.add_argument(
        "--hours",
        type=count_between(1, 24 * 14),
        default=24,
        help="time range of the numbers, in hours (1..336, default 24)",
    )
    parser.set_defaults(handler=command_status)


def command_status(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    cloudwatch = aws_client("cloudwatch", config.region)
    now = datetime.now(UTC)
    try:
        alarms = list_alarms(cloudwatch, f"{config.resource_name_prefix}-")
        widgets = overview_widgets(cloudwatch, config.overview_dashboard_name)
        health = [
            read_health(cloudwatch, widget, now, arguments.hours)
            for widget in widgets
            if widget.get("type") == "metric"
        ]
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, "cannot read the environment's alarms and dashboard") from error
    evaluation = last_evaluation(config, widgets)
    endpoint = endpoint_state(config)
    console = Console()
    firing = [alarm for alarm in alarms if alarm.state == "ALARM"]
    console.print(
        f"[bold]{config.name}[/]: {len(firing)} of {len(alarms)} alarms in ALARM "
        f"(numbers over the last {arguments.hours} h)"
    )
    if firing or any(alarm.state != "OK" for alarm in alarms):
        console.print(alarm_table(alarms, config.resource_name_prefix))
    console.print(health_table(health))
    console.print(f"Last evaluation: {evaluation}")
    console.print(f"SageMaker endpoint: {endpoint}")
    return EXIT_FAILING if firing else EXIT_OK


def list_alarms(cloudwatch: Any, prefix: str) -> list[Alarm]:
    """Metric and composite alarms named ``prefix...``, ALARM first (every page)."""
    found: list[Alarm] = []
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    for page in pages:
        for kind, key in (("metric", "MetricAlarms"), ("composite", "CompositeAlarms")):
            for alarm in page.get(key, []):
                found.append(
                    Alarm(
                        name=alarm["AlarmName"],
                        kind=kind,
                        state=alarm.get("StateValue", "INSUFFICIENT_DATA"),
                        since=alarm.get("StateUpdatedTimestamp"),
                        runbook=runbook_of(str(alarm.get("AlarmDescription", ""))),
                    )
                )
    order = list(_STATE_STYLES)
    return sorted(found, key=lambda a: (order.index(a.state) if a.state in order else 0, a.name))


def overview_widgets(cloudwatch: Any, name: str) -> list[dict[str, Any]]:
    """The deployed overview's widgets; a clear error when it is not deployed."""
    try:
        body = cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFound":
            raise AwsEnvironmentError(
                f"the overview dashboard {name} does not exist in this account and region: "
                "deploy the environment first (make deploy ENV=...)"
            ) from error
        raise
    widgets = json.loads(body).get("widgets", [])
    return [widget for widget in widgets if isinstance(widget, dict)]


def metric_queries(properties: dict[str, Any], period: int) -> list[dict[str, Any]]:
    """GetMetricData queries for a dashboard widget's ``metrics`` (the dashboard body format:
    ``[namespace, name, dimension, value, ..., {options}]`` or ``[{"expression": ...}]``)."""
    queries = []
    for index, entry in enumerate(properties.get("metrics", [])):
        options = entry[-1] if entry and isinstance(entry[-1], dict) else {}
        query_id = options.get("id") if _IDENTIFIER.match(str(options.get("id", ""))) else None
        query: dict[str, Any] = {
            "Id": query_id or f"q{index}",
            "ReturnData": options.get("visible", True) is not False,
        }
        if "label" in options:
            query["Label"] = options["label"]
        if "expression" in options:
            query["Expression"] = options["expression"]
            query["Period"] = period
        else:
            namespace, metric_name, *dimensions = [
                part for part in entry if not isinstance(part, dict)
            ]
            query["MetricStat"] = {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric_name,
                    "Dimensions": [
                        {"Name": key, "Value": value}
                        for key, value in zip(dimensions[::2], dimensions[1::2], strict=True)
                    ],
                },
                "Period": period,
                "Stat": options.get("stat", properties.get("stat", "Average")),
            }
        queries.append(query)
    return queries


def read_health(cloudwatch: Any, widget: dict[str, Any], now: datetime, hours: int) -> Health:
    """A number widget's values: the whole range's for a ``setPeriodToTimeRange`` widget, the
    latest datapoint otherwise (as the console shows them)."""
    properties = widget.get("properties", {})
    whole = bool(properties.get("setPeriodToTimeRange"))
    period = hours * 3600 if whole else int(properties.get("period", DEFAULT_PERIOD))
    queries = metric_queries(properties, period)
    shown = [query for query in queries if query["ReturnData"]]
    values: dict[str, float | None] = {query["Id"]: None for query in shown}
    token: str | None = None
    while True:
        request: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": now - timedelta(hours=hours),
            "EndTime": now,
            "ScanBy": "TimestampDescending",
        }
        if token:
            request["NextToken"] = token
        answer = cloudwatch.get_metric_data(**request)
        for result in answer.get("MetricDataResults", []):
            if result.get("Values") and values.get(result["Id"]) is None:
                values[result["Id"]] = float(result["Values"][0])
        token = answer.get("NextToken")
        if not token:
            break
    return Health(
        title=str(properties.get("title", "")),
        numbers=tuple(
            Number(str(query.get("Label", query["Id"])), values[query["Id"]]) for query in shown
        ),
    )


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._skip = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._skip = False

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split()).replace(" :", ":")


def last_evaluation(config: EnvironmentConfig, widgets: Iterable[dict[str, Any]]) -> str:
    """The overview's verdict line, from the evaluation widget's own function."""
    for widget in widgets:
        properties = widget.get("properties", {})
        params = properties.get("params", {})
        if widget.get("type") == "custom" and params.get("view") == "verdict":
            event = {"widgetContext": {"params": params, "theme": "light"}, **params}
            try:
                answer = aws_client("lambda", config.region).invoke(
                    FunctionName=properties["endpoint"], Payload=json.dumps(event).encode()
                )
                html = json.loads(answer["Payload"].read())
            except (ClientError, BotoCoreError, ValueError) as error:
                return f"unavailable ({aws_failure(error, 'the evaluation widget')})"
            return html_text(str(html))
    return "no evaluation widget on the overview"


def endpoint_state(config: EnvironmentConfig) -> str:
    """The SageMaker endpoint as SageMaker describes it: status and instances per variant."""
    name = config.sagemaker.endpoint_full_name(config.resource_name_prefix)
    try:
        described = aws_client("sagemaker", config.region).describe_endpoint(EndpointName=name)
    except ClientError as error:
        if "Could not find endpoint" in str(error.response.get("Error", {}).get("Message", "")):
            return f"{name} does not exist (not deployed: nothing bills)"
        return f"unavailable ({aws_failure(error, 'DescribeEndpoint')})"
    except BotoCoreError as error:
        return f"unavailable ({aws_failure(error, 'DescribeEndpoint')})"
    variants = described.get("ProductionVariants", [])
    instances = sum(int(variant.get("CurrentInstanceCount", 0)) for variant in variants)
    reason = described.get("FailureReason")
    return (
        f"{name} {described.get('EndpointStatus', '?')}, {instances} instance"
        f"{'s' * (instances != 1)}" + (f" (failure: {reason})" if reason else "")
    )


def _value(number: Number) -> str:
    if number.value is None:
        return "-"
    value = number.value
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def health_table(health: Sequence[Health]) -> Table:
    table = Table(title="Health (the overview dashboard's numbers)")
    table.add_column("What")
    table.add_column("Numbers")
    for item in health:
        table.add_row(
            item.title, " · ".join(f"{n.label}: [bold]{_value(n)}[/]" for n in item.numbers)
        )
    return table


def alarm_table(alarms: Iterable[Alarm], prefix: str) -> Table:
    table = Table(title="Alarms not OK")
    for column in ("State", "Alarm", "Since", "Runbook (README > Runbooks)"):
        table.add_column(column)
    for alarm in alarms:
        if alarm.state == "OK":
            continue
        table.add_row(
            f"[{_STATE_STYLES.get(alarm.state, '')}]{alarm.state}[/]",
            alarm.name.removeprefix(f"{prefix}-")
            + (" (composite)" if alarm.kind == "composite" else ""),
            alarm.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if alarm.since else "-",
            alarm.runbook or "-",
        )
    return table
