"""Retry and Catch error names against the errors each integration can raise."""

from __future__ import annotations

from typing import Any

from tests.contract import code
from tests.contract.asl import (
    State,
)
from tests.contract.cfn import Environment
from tests.contract.checks.findings import Finding, Tally, machines, place
from tests.contract.integrations import STATES_ERRORS, Integration, describe

# --- 4. Error names ----------------------------------------------------------------------------


def error_names(env: Environment, tally: Tally | None = None) -> list[Finding]:
    """Every ErrorEquals names an error the integration (or the function's code) can raise."""
    tally = tally or Tally()
    findings: list[Finding] = []
    functions = _functions_by_arn(env)
    for machine in machines(env):
        raised_in_scope: dict[str, set[str]] = {}
        for state in machine.all_states():
            allowed = _allowed_errors(env, state, functions)
            raised_in_scope.setdefault(state.scope, set()).update(allowed)
            if state.type == "Fail" and "Error" in state.body:
                raised_in_scope[state.scope].add(state.body["Error"])
        for state in machine.all_states():
            if state.type in {"Map", "Parallel"}:
                prefix = f"{state.scope}/{state.name}".lstrip("/")
                allowed = set().union(
                    *(names for scope, names in raised_in_scope.items() if scope.startswith(prefix))
                )
                allowed |= STATES_ERRORS
            elif state.type == "Task":
                allowed = _allowed_errors(env, state, functions)
            else:
                continue
            for kind in ("Retry", "Catch"):
                for rule in state.body.get(kind, []):
                    for name in rule["ErrorEquals"]:
                        tally.add("error names")
                        if name not in allowed:
                            findings.append(
                                Finding(
                                    "errors",
                                    place(machine, state),
                                    f"{kind} on {name!r}, which {_raiser(state)} never raises "
                                    f"(it can raise: {_summary(allowed)})",
                                )
                            )
    return findings


def _raiser(state: State) -> str:
    resource = state.body.get("Resource")
    return f"{resource}" if resource else f"the {state.type}'s states"


def _summary(names: set[str] | frozenset[str]) -> str:
    shown = sorted(n for n in names if not n.startswith("States."))
    return ", ".join(shown[:40]) + (" ..." if len(shown) > 40 else "") + " and States.*"


def _allowed_errors(
    env: Environment, state: State, functions: dict[str, tuple[str, str, dict[str, Any]]]
) -> set[str]:
    if state.type != "Task":
        return set()
    integration = describe(state.body["Resource"])
    allowed = set(integration.error_names())
    target = _invoked_function(state, integration)
    if target is not None and target in functions:
        handler = functions[target][2]["Properties"]["Handler"].rsplit(".", 1)[0]
        allowed |= code.exception_names(handler)
    return allowed


def _invoked_function(state: State, integration: Integration) -> str | None:
    if integration.kind == "function":
        return str(state.body["Resource"])
    if integration.sfn_service == "lambda":
        name = state.body.get("Parameters", {}).get("FunctionName")
        return str(name) if name else None
    return None


def _functions_by_arn(env: Environment) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {env.arn(stack, lid): (stack, lid, res) for stack, lid, res in env.functions()}
