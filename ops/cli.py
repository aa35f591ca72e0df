"""Argument parsing and dispatch for ``ops`` (``python -m ops``).

Every command module registers its own subcommands; :func:`main` is the one place where an
error becomes a line on stderr and an exit code (see ``ops.common.EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from ops import (
    alarms,
    approval,
    classify,
    drift,
    lineage,
    manifest,
    model,
    promotion,
    report,
    review,
    sagemaker,
    simulate,
    status,
    teardown,
    train,
)
from ops.common import (
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    OpsError,
    aws_failure,
    environment,
    one_line,
)

DESCRIPTION = """\
The operator's command line of the image-classification pipelines: build a training
manifest, train and evaluate Rekognition Custom Labels models, start and stop the model,
classify images, promote a gated model from one environment to another (with approval), run
the SageMaker pipeline, send low-confidence images to human review, see the environment at a
glance (status), simulate traffic, list firing alarms, and tear an environment down without
leaving anything that bills.

Commands that take --env read that environment from cdk.json and call AWS with your
credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) in the
environment's region, or AWS_REGION when cdk.json gives none. Every --timeout is in minutes.
Arguments are checked before anything is called or started."""


def _epilog() -> str:
    codes = "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items())
    return f"exit codes:\n{codes}\n\nops COMMAND --help describes a command."


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming the argument, exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {one_line(message)} (see: {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def command_config(arguments: argparse.Namespace) -> int:
    """Print an environment's resolved configuration (defaults merged, validated) as JSON."""
    config = environment(arguments.env)
    print(json.dumps(dataclasses.asdict(config), indent=2))
    return 0


def register(commands: Any) -> None:
    """Add this module's commands to the ``ops`` subparsers."""
    config = commands.add_parser(
        "config",
        help="show an environment's resolved configuration (reads only cdk.json)",
        description="Print the configuration of an environment as the app deploys it: "
        "cdk.json's defaults merged with the environment's overrides, validated, as JSON. "
        "Calls no AWS API.",
    )
    config.add_argument("--env", required=True, help="environment name from cdk.json")
    config.set_defaults(handler=command_config)


#: Modules providing ``register(commands)``; a new command group adds its module here.
COMMAND_MODULES: list[Any] = [
    sys.modules[__name__],
    manifest,
    train,
    report,
    model,
    classify,
    sagemaker,
    alarms,
    drift,
    review,
    promotion,
    status,
    simulate,
    teardown,
    lineage,
    # approve / reject: of a SageMaker model package or of a promotion execution.
    approval,
]


def build_parser() -> argparse.ArgumentParser:
    """Every command module registers its own subcommands (``register(commands)``)."""
    parser = Parser(
        prog="ops",
        description=DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def leaf_commands(parser: argparse.ArgumentParser) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every runnable command as (words, its parser): ``("model", "start")``, ``("config",)``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                nested = list(leaf_commands(child))
                if nested:
                    yield from (((name, *words), leaf) for words, leaf in nested)
                else:
                    yield (name,), child


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (``ops.common.EXIT_CODES``)."""
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as leaving:  # --help (0) or a usage error (2), already printed
        return leaving.code if isinstance(leaving.code, int) else EXIT_USAGE
    try:
        result: int = arguments.handler(arguments)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except (BotoCoreError, ClientError) as error:
        failure = aws_failure(error, "AWS call failed")
        print(f"error: {failure}", file=sys.stderr)
        return failure.exit_code
    except KeyboardInterrupt:
        print("interrupted; work already started in AWS goes on", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        print(
            "error: internal error in ops (a bug): please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return result
