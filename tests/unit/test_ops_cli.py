"""The operator command line's shared plumbing: config lookup and one-line errors."""

from __future__ import annotations

import json

import pytest

from ops.cli import main


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
