"""Tasks that wait for a task token (``.waitForTaskToken``), against the Developer Guide's rules.

A callback task must hand ``$$.Task.Token`` to whoever answers (or the run waits until its
timeout for an answer that cannot come), must time out within Step Functions' one-year limit,
and its timeout must lead somewhere deliberate (a Catch of ``States.Timeout``), not only to the
generic failure path. ``integrations.CALLBACK_SERVICES`` holds where the pattern exists.
"""

from __future__ import annotations

import json

import pytest

from tests.contract import checks
from tests.contract.cfn import Environment
from tests.contract.conftest import ENVIRONMENT_NAMES
from tests.contract.integrations import CALLBACK_ERRORS, MAX_CALLBACK_SECONDS, describe


def callback_tasks(env: Environment) -> list[tuple[str, checks.State]]:
    return [
        (f"{machine.stack}/{machine.logical_id}", state)
        for machine in checks.machines(env)
        for state in machine.tasks()
        if str(state.body["Resource"]).endswith(".waitForTaskToken")
    ]


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_every_callback_task_passes_its_token_times_out_and_handles_it(
    contract_environments: dict[str, Environment], env: str
) -> None:
    tasks = callback_tasks(contract_environments[env])
    for where, state in tasks:
        assert describe(state.body["Resource"]).problem is None, where
        assert "$$.Task.Token" in json.dumps(state.body.get("Parameters", {})), (
            f"{where} {state.name}: the token is not passed on"
        )
        timeout = state.body.get("TimeoutSeconds")
        assert isinstance(timeout, int), f"{where} {state.name}: no TimeoutSeconds"
        assert 0 < timeout <= MAX_CALLBACK_SECONDS, f"{where} {state.name}: {timeout} s"
        caught = {name for rule in state.body.get("Catch", []) for name in rule["ErrorEquals"]}
        assert "States.Timeout" in caught, f"{where} {state.name}: its timeout is not handled"
        assert caught >= CALLBACK_ERRORS, f"{where} {state.name}: a rejection is not handled"
    # prod waits for approval; the all-features environment promotes without one.
    assert bool(tasks) == (env == "prod")


def test_a_callback_on_a_service_without_the_pattern_is_a_problem() -> None:
    assert describe("arn:aws:states:::sagemaker:createModel.waitForTaskToken").problem
    assert describe("arn:aws:states:::aws-sdk:s3:getObject.waitForTaskToken").problem
    assert describe("arn:aws:states:::sns:publish.waitForTaskToken").problem is None
