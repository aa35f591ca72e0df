"""Plumbing shared by every ``ops`` command: errors and exit codes, AWS clients,
configuration and stack lookups.

One place decides what an operator sees when something goes wrong:

- :class:`OpsError` carries a one-line message and its exit code (:data:`EXIT_CODES`);
- :func:`aws_client` is the only way a command gets a boto3 client; a missing region becomes
  :class:`AwsEnvironmentError` before any call is made;
- :func:`aws_failure` turns any botocore error (no credentials, expired or rejected credentials,
  access denied, AWS unreachable, a service error) into an :class:`OpsError` naming what to do;
- :func:`stack_outputs` says "not deployed" for a missing stack, with the command that deploys it.

``ops.cli.main`` prints the error as one line on stderr and returns its code; nothing an operator
can cause prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stacks.config import ConfigError, EnvironmentConfig, load_environment

ROOT = Path(__file__).resolve().parents[1]
# Runtime code shared with the Lambda functions (e.g. the evaluation report) and the contracts
# live in lambda_src, which ops/__init__.py puts on sys.path (through stacks/__init__.py).

EXIT_OK = 0
#: The thing checked is failing: an alarm fires, a run failed, an image could not be classified.
EXIT_FAILING = 1
#: Bad arguments or configuration; nothing was done (checked before any AWS call).
EXIT_USAGE = 2
#: The environment is not usable: no region or credentials, AWS refuses or cannot be reached,
#: a stack is not deployed.
EXIT_ENVIRONMENT = 3
#: ``--timeout`` reached while the operation goes on in AWS (a run, a start, a deletion).
EXIT_STILL_RUNNING = 4
#: A bug in ops itself: the traceback is printed so it can be reported.
EXIT_INTERNAL = 70
#: Interrupted (Ctrl-C) or not confirmed by the operator; AWS-side work goes on.
EXIT_INTERRUPTED = 130

#: The table the README and ``--help`` show.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_FAILING: "the thing checked is failing (an alarm fires, a run failed, images failed)",
    EXIT_USAGE: "usage or configuration error (nothing was done)",
    EXIT_ENVIRONMENT: "environment problem: no region or credentials, AWS refused or "
    "unreachable, stack not deployed",
    EXIT_STILL_RUNNING: "--timeout reached; the operation goes on in AWS",
    EXIT_INTERNAL: "internal error (a bug: please report the traceback)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C) or not confirmed",
}

NO_REGION = (
    "no AWS region: set AWS_REGION (e.g. export AWS_REGION=eu-west-1), use a profile that "
    "has one (AWS_PROFILE), or give the environment a region in cdk.json"
)
NO_CREDENTIALS = (
    "no AWS credentials: set AWS_PROFILE to a profile of ~/.aws/config (aws configure, or "
    "aws sso login --profile NAME), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
#: Error codes with which AWS rejects the credentials themselves.
_REJECTED_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidToken",
    }
)
_EXPIRED_CREDENTIALS = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
_ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)


class OpsError(Exception):
    """A failure an operator can act on: printed as one line, the process exits ``exit_code``."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(one_line(message))
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(OpsError):
    """Bad input from the operator (arguments, configuration); exit code 2."""

    exit_code = EXIT_USAGE


class AwsEnvironmentError(OpsError):
    """No region or credentials, AWS refused or unreachable, stack not deployed; exit code 3."""

    exit_code = EXIT_ENVIRONMENT


class StillRunningError(OpsError):
    """A wait reached its ``--timeout``; the operation goes on in AWS. Exit code 4."""

    exit_code = EXIT_STILL_RUNNING


def one_line(text: str) -> str:
    """``text`` with its whitespace runs (newlines included) collapsed to single spaces."""
    return " ".join(str(text).split())


def error_code(error: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def aws_failure(error: BaseException, doing: str) -> OpsError:
    """The :class:`OpsError` to raise for a botocore error met while ``doing`` something.

    Credentials and region problems get the same message whichever command meets them;
    everything else names the call that failed. All of them are environment problems (3):
    the operator's input was fine, the AWS side is not usable as it is.
    """
    if isinstance(error, OpsError):
        return error
    if isinstance(error, NoRegionError):
        return AwsEnvironmentError(NO_REGION)
    if isinstance(error, NoCredentialsError):
        return AwsEnvironmentError(NO_CREDENTIALS)
    if isinstance(error, PartialCredentialsError):
        return AwsEnvironmentError(f"incomplete AWS credentials ({error}); {NO_CREDENTIALS}")
    if isinstance(error, ProfileNotFound):
        return AwsEnvironmentError(
            f"{error}: set AWS_PROFILE to a profile of ~/.aws/config (aws configure list-profiles)"
        )
    if isinstance(error, SSOError | TokenRetrievalError | CredentialRetrievalError):
        return AwsEnvironmentError(
            f"cannot get AWS credentials ({error}): refresh them (aws sso login --profile NAME)"
        )
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return AwsEnvironmentError(f"cannot reach AWS ({error}): check the network or proxy")
    code = error_code(error)
    if code in _EXPIRED_CREDENTIALS:
        return AwsEnvironmentError(
            f"{doing}: the AWS credentials have expired ({code}): refresh them "
            "(aws sso login --profile NAME, or new temporary keys)"
        )
    if code in _REJECTED_CREDENTIALS:
        return AwsEnvironmentError(
            f"{doing}: AWS rejected the credentials ({code}): check AWS_PROFILE or the access key"
        )
    if code in _ACCESS_DENIED:
        return AwsEnvironmentError(
            f"{doing}: access denied: {error}; the operator's role needs this permission"
        )
    return AwsEnvironmentError(f"{doing}: {error}")


def default_region() -> str | None:
    """The region an environment without one in cdk.json uses: AWS_REGION, then what boto3
    finds (AWS_DEFAULT_REGION, the profile's region), in the AWS CLI's order."""
    region = os.environ.get("AWS_REGION") or boto3._get_default_session().region_name
    return str(region) if region else None


def boto3_client(service: str, region: str) -> Any:
    """boto3's client of ``service`` in ``region``, from the default session."""
    try:
        return boto3._get_default_session().client(service, region_name=region)
    except BotoCoreError as error:
        raise aws_failure(error, f"cannot create a {service} client") from error


#: What :func:`aws_client` makes every client with: the one seam the tests replace (with moto's
#: clients, a botocore Stubber or a fake that refuses to be called).
client_factory: Callable[[str, str], Any] = boto3_client


def aws_client(service: str, region: str | None) -> Any:
    """The boto3 client of ``service`` in ``region`` (None: :func:`default_region`): the only
    way a command gets a client.

    Raises :class:`AwsEnvironmentError` when no region can be found, for every service alike
    (S3 and STS would otherwise quietly pick a global default).
    """
    region = region or default_region()
    if region is None:
        raise AwsEnvironmentError(NO_REGION)
    return client_factory(service, region)


def make_console() -> Console:
    """The console commands print to (a seam: tests force a terminal to see the live line)."""
    return Console()


def progress_bar(console: Console) -> Progress:
    """The progress line of commands that work through many images: what, bar, n/total, time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


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


def stack_name(config: EnvironmentConfig, concern: str) -> str:
    """CloudFormation name of one of the environment's stacks (``contracts.naming``, as
    stacks/environment.py names them; a test checks it against every synthesized stack)."""
    return config.stack_name(concern)


class StackNotDeployedError(AwsEnvironmentError):
    """The stack does not exist in this account and region."""


def stack_outputs(config: EnvironmentConfig, concern: str, cloudformation: Any) -> dict[str, str]:
    """Outputs of a deployed stack, e.g. ``stack_outputs(config, "Storage", boto3_client)``.

    Operators name an environment; bucket names, ARNs and URLs come from the stacks themselves.
    Raises :class:`StackNotDeployedError` when the stack does not exist.
    """
    name = stack_name(config, concern)
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except (BotoCoreError, ClientError) as error:
        if error_code(error) == "ValidationError" and "does not exist" in str(error):
            region = cloudformation.meta.region_name
            raise StackNotDeployedError(
                f"stack {name} is not deployed in this account and region ({region}): "
                f"deploy it with make deploy ENV={config.name}, or set AWS_PROFILE/AWS_REGION "
                "to where it is"
            ) from error
        raise aws_failure(error, f"cannot describe stack {name}") from error
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def stdin_is_interactive() -> bool:
    """True when a person can answer a prompt (a seam for the tests)."""
    return sys.stdin.isatty()


# --------------------------------------------------------------------------------------------
# argparse types: a bad value is a usage error naming its option, before any AWS call
# --------------------------------------------------------------------------------------------


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def minutes(text: str) -> float:
    """``--timeout``: a positive number of minutes (every command's ``--timeout`` is in minutes)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of minutes, got {text}")
    return value


def seconds(text: str) -> float:
    """``--interval``/``--poll``: a positive number of seconds."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1] (thresholds, recall floors, split fractions)."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text}")
    return value


def count_between(low: int, high: int) -> Any:
    """An argparse type for a whole number in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse
