#!/usr/bin/env python3
"""State payload and transitions per image: S3 references (ours) versus base64 in the state.

    .venv/bin/python benchmarks/sagemaker_payload.py

For images of 10 KB, 200 KB and 2 MB it runs two state machines locally (moto, through the
workflow runner of tests/workflows, which executes the real handlers):

- **ours**: the synthesized ``ClassifyImage`` workflow of the dev environment (Validate ->
  Classify -> Confident? -> Result -> Classified), the image passed as ``{"s3_uri": ...}``;
- **original**: the original projects' design (serialize -> classify -> filter, three
  ``lambda:invoke`` tasks passing ``{"statusCode", "body": {"image_data": <base64>, ...}}`` on),
  with the original Lambdas reconstructed in ``benchmarks/sagemaker_original.py``.

The endpoint answers the same confident result to both. Reported per image: the largest state
payload (the biggest input or output of any state, the figure the 256 KiB quota applies to), the
state data carried in total (all inputs and outputs), the states entered (Standard workflows bill
each transition, $0.025 per 1,000), the execution status, and whether the design exceeds the
quota. moto enforces the quota as AWS does (``States.DataLimitExceeded``), so a failing run stops
at the first oversized state; the payload the original design *needs* is then measured by calling
its serialize Lambda directly. Prints a table (rich) and writes
``benchmarks/results/sagemaker_payload.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("AWS_REGION", "eu-west-1")

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from moto import mock_aws  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks import sagemaker_original  # noqa: E402
from stacks.config import load_environment  # noqa: E402
from stacks.environment import build_environment  # noqa: E402
from tests.workflows.harness import MOTO_CONFIG, LocalWorkflow, WorkflowRun  # noqa: E402
from tests.workflows.sagemaker_support import (  # noqa: E402
    DATA_BUCKET,
    INPUT_PREFIX,
    STACK,
    answer,
    create_buckets,
    image,
    machine_id,
)

RESULTS = ROOT / "benchmarks" / "results" / "sagemaker_payload.json"
SIZES = {"10 KB": 10 * 1024, "200 KB": 200 * 1024, "2 MB": 2 * 1024 * 1024}
PAYLOAD_LIMIT = 256 * 1024
PRICE_PER_TRANSITION = 0.025 / 1000
CONFIDENT = [0.97, 0.03]


def dev_templates() -> dict[str, dict[str, Any]]:
    """Every dev template, synthesized as `cdk synth` does (cdk.json's context, nag off)."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = App(context=context, builtin_cloud_formation_validation=False)
    stacks = build_environment(app, load_environment(context, "dev"))
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}


def original_template() -> dict[str, Any]:
    """The original design as a template the runner can deploy: three functions, one machine."""
    handlers = {
        "Serialize": "serialize_image_data",
        "Classify": "classify",
        "Filter": "filter_low_confidence",
    }
    resources: dict[str, Any] = {
        f"{name}Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": f"benchmarks.sagemaker_original.{handler}",
                "MemorySize": 1024,
                "Timeout": 60,
                "Environment": {"Variables": {"ENDPOINT": "image-classification-endpoint"}},
            },
        }
        for name, handler in handlers.items()
    }
    names = list(handlers)
    parts: list[Any] = ['{"StartAt": "Serialize", "States": {']
    for index, name in enumerate(names):
        transition = f'"Next": "{names[index + 1]}"' if index + 1 < len(names) else '"End": true'
        parts += [
            f'"{name}": {{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", '
            '"Parameters": {"FunctionName": "',
            {"Fn::GetAtt": [f"{name}Function", "Arn"]},
            f'", "Payload.$": "$"}}, "OutputPath": "$.Payload", {transition}}}',
            "," if index + 1 < len(names) else "",
        ]
    parts.append("}}")
    resources["Original"] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"DefinitionString": {"Fn::Join": ["", parts]}},
    }
    return {"Resources": resources}


def measure(run: WorkflowRun) -> dict[str, Any]:
    sizes = [
        len(details[field].encode())
        for event in run.history
        for details in event.values()
        if isinstance(details, dict)
        for field in ("input", "output")
        if isinstance(details.get(field), str)
    ]
    return {
        "status": run.status,
        "error": run.error,
        "largest_state_bytes": max(sizes, default=0),
        "state_bytes_total": sum(sizes),
        "states_entered": len(run.entered),
        "states": run.entered,
    }


def run_both(templates: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_buckets()
        ours = LocalWorkflow(
            templates, STACK, machine_id(templates[STACK], "InferenceClassifyImage")
        )
        ours.script("sagemaker-runtime", "InvokeEndpoint", answer(CONFIDENT))
        original = LocalWorkflow({"original": original_template()}, "original", "Original")
        original.script("sagemaker-runtime", "InvokeEndpoint", answer(CONFIDENT))
        for label, size in SIZES.items():
            key = f"{INPUT_PREFIX}benchmark/{size}.png"
            s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=image(size, kind="png"))
            slug = label.replace(" ", "")
            ours_run = measure(
                ours.run({"s3_uri": f"s3://{DATA_BUCKET}/{key}"}, name=f"ours-{slug}")
            )
            request = {"s3_bucket": DATA_BUCKET, "s3_key": key}
            original_run = measure(original.run(request, name=f"original-{slug}"))
            # What the design needs in its state, whether or not the quota let it through.
            needed = len(
                json.dumps(sagemaker_original.serialize_image_data(request, None)).encode()
            )
            original_run["needed_state_bytes"] = needed
            ours_run["needed_state_bytes"] = ours_run["largest_state_bytes"]
            for measured in (ours_run, original_run):
                measured["exceeds_256_kib"] = measured["needed_state_bytes"] > PAYLOAD_LIMIT
                measured["transition_cost_per_1000_images_usd"] = round(
                    1000 * measured["states_entered"] * PRICE_PER_TRANSITION, 4
                )
            rows.append(
                {"image": label, "image_bytes": size, "ours": ours_run, "original": original_run}
            )
    return rows


def print_table(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="State payload and transitions per image (quota: 256 KiB = 262,144 bytes)")
    for column in (
        "image",
        "design",
        "largest state B",
        "needed B",
        "> 256 KiB",
        "all states B",
        "transitions",
        "$ / 1k images",
        "result",
    ):
        text = column in ("image", "design", "result")
        table.add_column(column, justify="left" if text else "right", no_wrap=text)
    for row in rows:
        for design in ("ours", "original"):
            measured = row[design]
            table.add_row(
                row["image"],
                "S3 reference (ours)" if design == "ours" else "base64 in state (original)",
                f"{measured['largest_state_bytes']:,}",
                f"{measured['needed_state_bytes']:,}",
                "[red]YES[/red]" if measured["exceeds_256_kib"] else "no",
                f"{measured['state_bytes_total']:,}",
                str(measured["states_entered"]),
                f"{measured['transition_cost_per_1000_images_usd']:.3f}",
                measured["error"] or measured["status"],
            )
    console.print(table)


def main() -> int:
    console = Console(width=max(170, Console().width))
    console.print("Synthesizing the dev environment and running both designs in moto ...")
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    # The handlers' JSON logs and metrics go to stdout; keep the table readable.
    with contextlib.redirect_stdout(io.StringIO()):
        rows = run_both(dev_templates())
    print_table(rows, console)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "sagemaker_payload",
                "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"python": platform.python_version(), "platform": platform.platform()},
                "payload_limit_bytes": PAYLOAD_LIMIT,
                "price_per_transition_usd": PRICE_PER_TRANSITION,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"Written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
