"""Argument parsing and dispatch for ``python -m ops``.

Every command validates its arguments and answers bad input with one line on stderr and exit
code 2, like the configuration errors of ``cdk synth``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from ops import operations, rekognition, sagemaker, training
from ops.common import UsageError, environment


def command_config(arguments: argparse.Namespace) -> int:
    """Print an environment's resolved configuration (defaults merged, validated) as JSON."""
    config = environment(arguments.env)
    print(json.dumps(dataclasses.asdict(config), indent=2))
    return 0


def register(commands: Any) -> None:
    """Add this module's commands to the ``python -m ops`` subparsers."""
    config = commands.add_parser("config", help="show an environment's resolved configuration")
    config.add_argument("--env", required=True, help="environment name from cdk.json")
    config.set_defaults(handler=command_config)


#: Modules providing ``register(commands)``; a new command group adds its module here.
COMMAND_MODULES: list[Any] = [sys.modules[__name__]]
COMMAND_MODULES.append(rekognition)
COMMAND_MODULES.append(training)
COMMAND_MODULES.append(sagemaker)
COMMAND_MODULES.append(operations)


def build_parser() -> argparse.ArgumentParser:
    """Every command module registers its own subcommands (``register(commands)``)."""
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        result: int = arguments.handler(arguments)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return result
