"""``ops train start|watch|list``: Rekognition Custom Labels training runs (``ops report`` is in
``ops/report.py``), one module per command.

    ops train start --env dev --manifest s3://DATA_BUCKET/manifests/train.manifest
    ops train watch EXECUTION_ARN [--interval SECONDS] [--timeout MINUTES]
    ops train list --env dev [--limit N]
    ops report --manifest PATH --summary PATH --out DIR
    ops report --env dev --version NAME --out DIR

``train start`` checks the request with the workflow's own ``normalize_job`` (the code of its
``ValidateInput`` state) before any AWS call, and again with the data bucket once it is known,
before anything starts or bills. ``train watch`` keeps one live status line (the state, the
checks of the current polling loop against its bound, elapsed time, when the next check is due
and when the loop gives up) and prints only what changes the story: a new step, a loop begun or
finished, a failed attempt, a retry, the end; then a summary. ``report`` runs the ``Evaluate``
state's code (``rekognition_training.evaluation_sources``) on local files or on a trained
version, with a progress bar while it reads the manifest, and writes the same ``metrics.json``
and ``report.html`` the workflow stores.

Exit codes (``ops.common``): 0 success (``watch``: DEPLOYED or REJECTED), 1 the run FAILED,
TIMED_OUT or was ABORTED, 2 bad input (one line per problem), 3 environment problem,
4 ``watch --timeout`` reached while the run goes on, 130 ``watch`` interrupted with Ctrl-C.
"""

from __future__ import annotations

from typing import Any

from ops.common import count_between, minutes, seconds
from ops.train.common import add_gate_options
from ops.train.listing import command_train_list
from ops.train.start import command_train_start
from ops.train.watch import (
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_STATUS_EVERY_MINUTES,
    DEFAULT_WATCH_TIMEOUT_MINUTES,
    command_train_watch,
)


def register(commands: Any) -> None:
    """Add ``train start|watch|list`` to the ``ops`` subparsers."""
    train = commands.add_parser(
        "train",
        help="Rekognition training runs: start, watch, list",
        description="Start, follow and list runs of the environment's Rekognition Custom Labels "
        "training workflow (train, evaluate, gate, deploy).",
    )
    actions = train.add_subparsers(dest="action", required=True, metavar="ACTION")

    start = actions.add_parser(
        "start",
        help="validate a training request and start the training workflow",
        description="Check a training request with the workflow's own validation (sources, "
        "version name, gate) before any AWS call, check that the manifests exist in the data "
        "bucket, then start the run and print its execution ARN and console link. Give exactly "
        "one training source. Build a manifest with: ops manifest --env ENV FOLDER.",
    )
    start.add_argument("--env", required=True, help="environment name from cdk.json")
    start.add_argument("--manifest", metavar="S3_URI", help="training Ground Truth manifest")
    start.add_argument("--dataset-arn", metavar="ARN", help="training dataset to copy")
    start.add_argument(
        "--use-existing-datasets",
        action="store_true",
        help="train on the project's current datasets",
    )
    start.add_argument("--test-manifest", metavar="S3_URI", help="test manifest (default: split)")
    start.add_argument("--test-dataset-arn", metavar="ARN", help="test dataset to copy")
    start.add_argument("--version", metavar="NAME", help="version name (default v-<name>)")
    add_gate_options(start, "default: the environment's quality_gate")
    start.add_argument("--name", metavar="EXECUTION_NAME", help="execution name (default: dated)")
    start.set_defaults(handler=command_train_start)

    watch = actions.add_parser(
        "watch",
        help="follow a training run to its outcome with a live status line",
        description="Follow a training run: a live status line on a terminal (state, checks of "
        "the current polling loop against its bound, elapsed time, next check, when the loop "
        "gives up), a line per new step, polling loop, failed attempt or retry, then a summary "
        "and the outcome. Without a terminal the status line is printed every --status-every "
        "minutes. Only reads: Ctrl-C or --timeout stop the watching, never the run.",
    )
    watch.add_argument("execution_arn", metavar="EXECUTION_ARN")
    watch.add_argument(
        "--interval",
        type=seconds,
        metavar="SECONDS",
        default=DEFAULT_INTERVAL_SECONDS,
        help=f"seconds between checks (default {DEFAULT_INTERVAL_SECONDS:g})",
    )
    watch.add_argument(
        "--timeout",
        type=minutes,
        metavar="MINUTES",
        default=DEFAULT_WATCH_TIMEOUT_MINUTES,
        help=f"minutes to watch at most (default {DEFAULT_WATCH_TIMEOUT_MINUTES:g})",
    )
    watch.add_argument(
        "--status-every",
        type=minutes,
        metavar="MINUTES",
        default=DEFAULT_STATUS_EVERY_MINUTES,
        help="without a terminal, minutes between status lines "
        f"(default {DEFAULT_STATUS_EVERY_MINUTES:g})",
    )
    watch.set_defaults(handler=command_train_watch)

    listing = actions.add_parser(
        "list",
        help="recent training runs and their outcomes",
        description="The newest training runs: name, status, start and stop, outcome, gate "
        "metric = value (threshold), version.",
    )
    listing.add_argument("--env", required=True, help="environment name from cdk.json")
    listing.add_argument(
        "--limit", type=count_between(1, 1000), default=10, metavar="N", help="1-1000 (default 10)"
    )
    listing.set_defaults(handler=command_train_list)
