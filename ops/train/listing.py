"""``ops train list``: the newest training runs with outcome, gate and version."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape
from rich.table import Table

from ops import common
from ops.common import (
    EXIT_OK,
    aws_failure,
    environment,
    stack_outputs,
)
from ops.train.common import (
    CONCERN,
    FAILED_STATUSES,
    STATE_MACHINE_OUTPUT,
    gate_text,
    json_object,
    stack_output,
    timestamp,
)
from rekognition_training.job import (
    version_name_for,
)


def command_train_list(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    outputs = stack_outputs(config, CONCERN, common.aws_client("cloudformation", config.region))
    state_machine = stack_output(outputs, STATE_MACHINE_OUTPUT, CONCERN)
    stepfunctions = common.aws_client("stepfunctions", config.region)
    try:
        # A page may hold fewer than asked for and a nextToken: read pages up to the limit.
        pages = stepfunctions.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine,
            PaginationConfig={"MaxItems": arguments.limit, "PageSize": arguments.limit},
        )
        executions = [item for page in pages for item in page["executions"]][: arguments.limit]
        descriptions = [
            stepfunctions.describe_execution(executionArn=item["executionArn"])
            for item in executions
        ]
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"cannot list the executions of {state_machine}") from error
    console = common.make_console()
    if not descriptions:
        console.print(f"No training runs yet ({state_machine}).", highlight=False)
        return EXIT_OK
    table = Table(title=f"Training runs ({config.name}), newest first")
    for column in (
        "Name",
        "Status",
        "Started (UTC)",
        "Stopped (UTC)",
        "Outcome",
        "Gate",
        "Version",
    ):
        table.add_column(column)
    for description in descriptions:
        table.add_row(*(escape(cell) for cell in _execution_row(description)))
    console.print(table)
    return EXIT_OK


def _execution_row(description: Mapping[str, Any]) -> list[str]:
    status = str(description.get("status"))
    output = json_object(description.get("output"))
    version = json_object(description.get("input")).get("version_name")
    if status in FAILED_STATUSES:
        outcome = str(description.get("error") or status)
    else:
        outcome = str(output.get("outcome") or ("" if status == "RUNNING" else status))
        if isinstance(output.get("warning"), dict):
            outcome += " (previous version still running)"
    gate = output.get("gate")
    return [
        str(description.get("name")),
        status,
        timestamp(description.get("startDate")),
        timestamp(description.get("stopDate")) if description.get("stopDate") else "",
        outcome,
        gate_text(gate) if isinstance(gate, dict) else "",
        str(version or version_name_for(str(description.get("name")))),
    ]
