"""The operator command line as a whole: help, exit codes, and what every command says when the
AWS environment is missing (no region, no credentials)."""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from ops import common
from ops.cli import build_parser, leaf_commands, main
from ops.common import (
    EXIT_CODES,
    NO_CREDENTIALS,
    NO_REGION,
    ROOT,
    AwsEnvironmentError,
    aws_client,
    aws_failure,
)
from stacks.config import deep_merge
from tests.image_files import png

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:imgclf-dev-training:run-1"
PROMOTION = "arn:aws:states:eu-west-1:111111111111:execution:Promotion:promote-v1-1"


def minimal_arguments(tmp_path: Path) -> dict[tuple[str, ...], list[str]]:
    """The smallest valid arguments of every command that calls AWS; a new command must add
    itself here (the test below fails until it does)."""
    image = tmp_path / "photo.png"
    image.write_bytes(png())
    return {
        ("manifest",): ["--env", "dev", "s3://imgclf-dev-data-x/datasets/flowers/"],
        ("train", "start"): ["--env", "dev", "--use-existing-datasets"],
        ("train", "watch"): [EXECUTION],
        ("train", "list"): ["--env", "dev"],
        ("report",): ["--env", "dev", "--version", "v1", "--out", str(tmp_path / "report")],
        ("model", "status"): ["--env", "dev"],
        ("model", "start"): ["--env", "dev"],
        ("model", "stop"): ["--env", "dev"],
        ("classify",): ["--env", "dev", str(image)],
        ("sagemaker", "classify"): ["--env", "dev", str(image)],
        ("sagemaker", "train"): ["--env", "dev"],
        ("alarms",): ["--env", "dev"],
        ("status",): ["--env", "dev"],
        ("simulate",): ["--env", "dev", "--pipeline", "sagemaker", "--images", str(image)],
        ("drift",): ["--env", "dev"],
        ("review", "status"): ["--env", "dev"],
        ("review", "start"): [
            "--env",
            "dev",
            "--workteam",
            "arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/reviewers",
        ],
        ("teardown",): ["--env", "dev", "--yes"],
        ("lineage",): ["--env", "dev", "--version", "v1"],
        # prod is the environment that promotes (from dev); it configures its region.
        ("promote",): ["--env", "prod", "--version", "v1"],
        ("approve",): ["--env", "prod", "--execution", PROMOTION],
        ("reject",): ["--env", "prod", "--execution", PROMOTION, "--reason", "not yet"],
    }


#: Commands whose environment (prod) configures its region: they meet the credentials first.
REGION_IN_CONFIG = {("promote",), ("approve",), ("reject",)}


#: Commands that call no AWS API, and their exit code without credentials or region.
LOCAL_COMMANDS = {("config",): (["--env", "dev"], 0)}


def without_aws(tmp_path: Path, region: str | None) -> dict[str, str]:
    """The process environment with no credentials from anywhere, and ``region`` or none."""
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name != "BOTO_CONFIG"
    }
    environment.update(
        {
            "AWS_CONFIG_FILE": str(empty),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty),
            "AWS_EC2_METADATA_DISABLED": "true",
            "COLUMNS": "200",
        }
    )
    if region is not None:
        environment["AWS_REGION"] = region
    return environment


def run_ops(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_every_command_has_minimal_arguments_here(tmp_path: Path) -> None:
    commands = {words for words, _ in leaf_commands(build_parser())}
    assert commands == set(minimal_arguments(tmp_path)) | set(LOCAL_COMMANDS)


@pytest.mark.parametrize(
    ("region", "message"),
    [(None, NO_REGION), ("eu-west-1", NO_CREDENTIALS)],
    ids=["no region", "no credentials"],
)
def test_every_command_without_region_or_credentials_says_so_in_one_line(
    tmp_path: Path, region: str | None, message: str
) -> None:
    environment = without_aws(tmp_path, region)
    cases = {words: [*words, *rest] for words, rest in minimal_arguments(tmp_path).items()}
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = pool.map(lambda arguments: run_ops(arguments, environment), cases.values())
        results = dict(zip(cases, outcomes, strict=True))

    for words, result in results.items():
        command = " ".join(words)
        assert "Traceback" not in result.stderr, command
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (command, result.stderr)
        assert result.returncode == 3, (command, result.returncode, result.stderr)
        # train watch takes its region from the execution ARN: it meets the credentials first.
        expected = (
            NO_CREDENTIALS if words == ("train", "watch") or words in REGION_IN_CONFIG else message
        )
        assert lines[0] == f"error: {expected}", command


@pytest.mark.parametrize("region", [None, "eu-west-1"], ids=["no region", "no credentials"])
def test_local_commands_work_without_aws(tmp_path: Path, region: str | None) -> None:
    for words, (rest, code) in LOCAL_COMMANDS.items():
        result = run_ops([*words, *rest], without_aws(tmp_path, region))
        assert result.returncode == code, result.stderr
        assert result.stderr == ""


def test_config_prints_the_resolved_environment(capsys, cdk_context):
    assert main(["config", "--env", "prod"]) == 0
    shown = json.loads(capsys.readouterr().out)
    prod = cdk_context["environments"]["prod"]
    assert shown["account"] == prod["account"]
    assert (
        shown["lifecycle"]["noncurrent_version_expiration_days"]
        == (prod["lifecycle"]["noncurrent_version_expiration_days"])
    )
    # The defaults with prod's overrides merged in (prod scales its endpoint).
    assert shown["sagemaker"] == deep_merge(cdk_context["defaults"]["sagemaker"], prod["sagemaker"])
    assert shown["sagemaker"]["endpoint"]["autoscaling"]["max_instances"] == 4
    assert shown["sagemaker"]["endpoint"]["instance_type"] == "ml.m5.large"  # a default


def test_unknown_environment_is_one_line_and_exit_2(capsys):
    assert main(["config", "--env", "nope"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "environments.nope" in error
    assert "dev, prod" in error


def test_usage_errors_are_one_line_naming_the_argument(capsys):
    assert main(["config"]) == 2
    assert capsys.readouterr().err == (
        "error: the following arguments are required: --env (see: ops config --help)\n"
    )
    assert main(["model", "start", "--env", "dev", "--timeout", "-5"]) == 2
    assert capsys.readouterr().err == (
        "error: argument --timeout: must be a positive number of minutes, got -5 "
        "(see: ops model start --help)\n"
    )


@pytest.mark.parametrize(
    "words",
    [
        ["train", "watch", EXECUTION],
        ["model", "start", "--env", "dev"],
        ["model", "stop", "--env", "dev"],
        ["classify", "--env", "dev", "x.png"],
        ["sagemaker", "classify", "--env", "dev", "x.png"],
        ["sagemaker", "train", "--env", "dev"],
        ["teardown", "--env", "dev"],
    ],
)
@pytest.mark.parametrize("value", ["-1", "0", "soon"])
def test_every_timeout_is_positive_minutes(
    capsys: pytest.CaptureFixture[str], words: list[str], value: str
) -> None:
    assert main([*words, "--timeout", value]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: argument --timeout: ")
    assert "minutes" in error or "not a number" in error


def test_every_timeout_option_says_minutes() -> None:
    for words, parser in leaf_commands(build_parser()):
        for action in parser._actions:
            if "--timeout" in action.option_strings:
                assert action.metavar == "MINUTES", words
                assert action.type is common.minutes, words


def test_model_actions_are_subcommands_with_their_own_help(capsys):
    assert main(["model", "--help"]) == 0
    out = capsys.readouterr().out
    for action in ("status", "start", "stop"):
        assert action in out
    assert main(["model", "stop", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: ops model stop" in out
    assert "Disable the consumer's event source" in out


def test_top_level_help_is_for_users_and_lists_the_exit_codes(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "``" not in out
    assert "The operator's command line of the image-classification pipelines" in out
    for code, meaning in EXIT_CODES.items():
        assert f"{code:>3}  {meaning}" in out


def test_exit_codes_are_distinct() -> None:
    assert len(set(EXIT_CODES)) == len(EXIT_CODES)
    assert set(EXIT_CODES) >= {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        (NoRegionError(), NO_REGION),
        (NoCredentialsError(), NO_CREDENTIALS),
        (ProfileNotFound(profile="ops"), "set AWS_PROFILE to a profile"),
        (EndpointConnectionError(endpoint_url="https://x"), "cannot reach AWS"),
    ],
)
def test_environment_errors_are_exit_3_with_what_to_do(error: Exception, fragment: str) -> None:
    failure = aws_failure(error, "doing it")
    assert failure.exit_code == 3
    assert fragment in str(failure)


def _client_error(code: str) -> Any:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "no"}}, "DescribeStacks")


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("ExpiredToken", "the AWS credentials have expired"),
        ("InvalidClientTokenId", "AWS rejected the credentials"),
        ("AccessDenied", "access denied"),
        ("InternalFailure", "doing it: An error occurred (InternalFailure)"),
    ],
)
def test_aws_refusals_are_exit_3_naming_the_call(code: str, fragment: str) -> None:
    failure = aws_failure(_client_error(code), "doing it")
    assert failure.exit_code == 3
    assert fragment in str(failure)
    assert str(failure).startswith("doing it")


def test_no_region_is_refused_for_global_services_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # S3 and STS would quietly default to us-east-1 / aws-global.
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    for service in ("s3", "sts", "cloudformation"):
        with pytest.raises(AwsEnvironmentError, match="no AWS region"):
            aws_client(service, None)


def test_aws_region_comes_first_as_in_the_aws_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert aws_client("sts", None).meta.region_name == "eu-central-1"
    assert aws_client("sts", "ap-south-1").meta.region_name == "ap-south-1"


def test_a_bug_is_exit_70_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(arguments: Any) -> int:
        raise ZeroDivisionError("oops")

    parser = build_parser()
    monkeypatch.setattr("ops.cli.build_parser", lambda: parser)
    parser.set_defaults(handler=broken)
    for action in parser._actions:
        if action.dest == "command":
            action.choices["config"].set_defaults(handler=broken)

    assert main(["config", "--env", "dev"]) == 70
    error = capsys.readouterr().err
    assert "Traceback" in error
    assert "ZeroDivisionError: oops" in error
    assert error.rstrip().endswith("please report it with the traceback above")


def test_the_command_line_does_not_load_the_cdk() -> None:
    # aws_cdk starts a Node.js process (~2 s, and Node's banner on stderr) for every command.
    code = "import sys, ops.cli; print(sorted(m for m in sys.modules if m.startswith('aws_cdk')))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_the_ops_console_script_is_this_command_line() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"] == {"ops": "ops.cli:main"}
    module, _, name = project["project"]["scripts"]["ops"].partition(":")
    assert getattr(importlib.import_module(module), name) is main
    # ops.cli imports stacks.config: the editable install serves both (and every subpackage)
    # from this checkout.
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("ops", "stacks")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert {"ops", "stacks", "stacks.config", "stacks.pipelines"} <= on_disk
    # setuptools' find matches each dotted package name against the include patterns.
    assert all(any(fnmatch.fnmatchcase(name, pattern) for pattern in include) for name in on_disk)


def test_make_setup_installs_the_command_again_when_pyproject_changes(tmp_path: Path) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (prerequisites,) = re.findall(r"^\$\(BIN\)/\.installed:(.*)$", makefile, re.MULTILINE)
    assert "pyproject.toml" in prerequisites.split()
    venv = tmp_path / "venv"
    dry = subprocess.run(
        ["make", "-n", f"VENV={venv}", f"{venv}/bin/.installed"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert (
        f"{venv}/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e ."
        in (dry.stdout)
    )


@pytest.mark.parametrize(
    ("options", "teardown", "destroy"),
    [
        ([], "ops teardown --env dev", "cdk destroy --all --context env=dev"),
        (["YES=1"], "ops teardown --env dev --yes", "cdk destroy --all --context env=dev --force"),
    ],
)
def test_make_destroy_tears_down_before_it_deletes_the_stacks(
    options: list[str], teardown: str, destroy: str
) -> None:
    dry = subprocess.run(
        ["make", "-n", "destroy", "ENV=dev", *options],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    lines = [line.strip() for line in dry.stdout.splitlines()]
    (first,) = [n for n, line in enumerate(lines) if line.endswith(teardown)]
    (second,) = [n for n, line in enumerate(lines) if line.endswith(destroy)]
    assert lines[first].startswith(".venv/bin/")
    assert first < second
