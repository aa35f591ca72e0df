"""Operator command for the environment's alarms.

    ops alarms --env dev [--all]

Lists the alarms of the environment (named ``<prefix>-<env>-...``) that are not OK (``--all``:
every one) with their state, since when, the reason CloudWatch gives and the README runbook
section to follow, then the dashboard's address. Exit code 1 while any alarm is in ALARM, so
scripts and deploy gates can use it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from contracts.naming import stack_concerns
from ops.common import EXIT_FAILING, EXIT_OK, aws_client, aws_failure, environment
from stacks.config import EnvironmentConfig
from stacks.runbooks import runbook_of


def concerns(config: EnvironmentConfig) -> tuple[str, ...]:
    """Every stack of the environment (stacks/environment.py)."""
    return stack_concerns(isolated=config.network.isolated)


_STATE_STYLES = {"ALARM": "bold red", "INSUFFICIENT_DATA": "yellow", "OK": "green"}
_REASON_LIMIT = 120


@dataclass(frozen=True)
class AlarmState:
    """One alarm as an operator reads it."""

    name: str
    stack: str
    state: str
    since: datetime | None
    reason: str
    runbook: str | None


def register(commands: Any) -> None:
    """Add ``alarms`` to the ``ops`` subparsers."""
    parser = commands.add_parser(
        "alarms",
        help="list the environment's alarms that fire, with their runbooks",
        description="The alarms of the environment's stacks that are not OK (--all: every one) "
        "with their state, since when, CloudWatch's reason and the README runbook section, "
        "then the dashboard's address. Exit code 1 while any alarm is in ALARM, so scripts "
        "and deploy gates can use it.",
    )
    parser.add_argument("--env", required=True, help="environment name from cdk.json")
    parser.add_argument("--all", action="store_true", help="show OK alarms too")
    parser.set_defaults(handler=command_alarms)


def command_alarms(arguments: argparse.Namespace) -> int:
    """Print the alarms that are not OK (or all of them); 1 while any is in ALARM."""
    config = environment(arguments.env)
    cloudwatch = aws_client("cloudwatch", config.region)
    try:
        alarms = list_alarms(cloudwatch, [config.resource_name_prefix])
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, "cannot list the alarms") from error
    console = Console()
    shown = alarms if arguments.all else [alarm for alarm in alarms if alarm.state != "OK"]
    firing = sum(alarm.state == "ALARM" for alarm in alarms)
    if not alarms:
        console.print(
            f"No alarms found for environment {config.name}: are its stacks deployed in this "
            "account and region?"
        )
    elif shown:
        console.print(table(shown, config.name))
    console.print(
        f"{firing} of {len(alarms)} alarms of {config.name} in ALARM. "
        f"Dashboard: {dashboard_url(config, cloudwatch)}"
    )
    return EXIT_FAILING if firing else EXIT_OK


def list_alarms(cloudwatch: Any, prefixes: Iterable[str]) -> list[AlarmState]:
    """Metric and composite alarms named ``<prefix>-...`` for one of ``prefixes`` (the app names
    every alarm ``<prefix>-<env>-<pipeline>-<what>``), most urgent first."""
    found: list[AlarmState] = []
    paginator = cloudwatch.get_paginator("describe_alarms")
    for stack in prefixes:
        pages = paginator.paginate(
            AlarmNamePrefix=f"{stack}-", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        for page in pages:
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                found.append(
                    AlarmState(
                        name=alarm["AlarmName"],
                        stack=stack,
                        state=alarm.get("StateValue", "INSUFFICIENT_DATA"),
                        since=alarm.get("StateUpdatedTimestamp"),
                        reason=str(alarm.get("StateReason", "")),
                        runbook=runbook_of(str(alarm.get("AlarmDescription", ""))),
                    )
                )
    return sorted(found, key=_urgency)


def _urgency(alarm: AlarmState) -> tuple[int, str]:
    """ALARM first, then INSUFFICIENT_DATA, then OK; by name within a state."""
    states = list(_STATE_STYLES)
    return (states.index(alarm.state) if alarm.state in states else 0, alarm.name)


def table(alarms: Iterable[AlarmState], environment_name: str) -> Table:
    result = Table(title=f"Alarms of {environment_name}")
    for column in ("State", "Alarm", "Since", "Runbook (README > Runbooks)", "Reason"):
        result.add_column(column)
    for alarm in alarms:
        reason = alarm.reason
        if len(reason) > _REASON_LIMIT:
            reason = reason[: _REASON_LIMIT - 3] + "..."
        result.add_row(
            f"[{_STATE_STYLES.get(alarm.state, '')}]{alarm.state}[/]",
            alarm.name.removeprefix(f"{alarm.stack}-"),
            alarm.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if alarm.since else "-",
            alarm.runbook or "-",
            reason,
        )
    return result


def dashboard_url(config: EnvironmentConfig, cloudwatch: Any) -> str:
    region = config.region or cloudwatch.meta.region_name
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{config.dashboard_name}"
    )
