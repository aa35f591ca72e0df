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
from pathlib import Path
from typing import Any

from stacks.config import ConfigError, EnvironmentConfig, load_environment

ROOT = Path(__file__).resolve().parents[1]


class UsageError(Exception):
    """Bad input from the operator; printed as one line, exit code 2."""


def load_context(cdk_json: Path = ROOT / "cdk.json") -> dict[str, Any]:
    """The ``context`` block of cdk.json, as ``cdk synth`` sees it."""
    try:
        context: dict[str, Any] = json.loads(cdk_json.read_text(encoding="utf-8"))["context"]
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"cannot read the context of {cdk_json}: {error}") from error
    return context


def environment(name: str) -> EnvironmentConfig:
    """The validated configuration of environment ``name``."""
    try:
        return load_environment(load_context(), name)
    except ConfigError as error:
        raise UsageError(f"configuration error in cdk.json: {error}") from error


def command_config(arguments: argparse.Namespace) -> int:
    """Print an environment's resolved configuration (defaults merged, validated) as JSON."""
    config = environment(arguments.env)
    print(json.dumps(dataclasses.asdict(config), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config = commands.add_parser("config", help="show an environment's resolved configuration")
    config.add_argument("--env", required=True, help="environment name from cdk.json")
    config.set_defaults(handler=command_config)
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
