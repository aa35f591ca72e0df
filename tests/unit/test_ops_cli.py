"""The operator command line's shared plumbing: config lookup and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ops.cli import main
from ops.common import ROOT


def test_config_prints_the_resolved_environment(capsys, cdk_context):
    assert main(["config", "--env", "prod"]) == 0
    shown = json.loads(capsys.readouterr().out)
    prod = cdk_context["environments"]["prod"]
    assert shown["account"] == prod["account"]
    assert (
        shown["lifecycle"]["noncurrent_version_expiration_days"]
        == (prod["lifecycle"]["noncurrent_version_expiration_days"])
    )
    # Not overridden in prod: comes from the defaults.
    assert shown["sagemaker"] == cdk_context["defaults"]["sagemaker"]


def test_unknown_environment_is_one_line_and_exit_2(capsys):
    assert main(["config", "--env", "nope"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "environments.nope" in error
    assert "dev, prod" in error


def test_missing_arguments_are_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["config"])
    assert exit_info.value.code == 2
    assert "--env" in capsys.readouterr().err


def test_the_command_line_does_not_load_the_cdk() -> None:
    # aws_cdk starts a Node.js process (~2 s, and Node's banner on stderr) for every command.
    code = "import sys, ops.cli; print(sorted(m for m in sys.modules if m.startswith('aws_cdk')))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
