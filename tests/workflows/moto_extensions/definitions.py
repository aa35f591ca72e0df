"""Where moto's ASL grammar is narrower than AWS's.

moto's parser rejects a Distributed Map's ``"ExecutionType": "EXPRESS"`` and an integer
``ToleratedFailurePercentage``, and has no ``ItemBatcher``: :func:`moto_definition` hands moto
STANDARD and a float instead, and keeps the batcher aside for ``distributed_map`` (the deployed
definition is unchanged and is what tests assert on). Express child semantics (at-least-once,
five-minute limit) are therefore not emulated.

A Fail state whose ``ErrorPath`` yields a ``States.*`` name (re-raising a caught
``States.ExceedToleratedFailureThreshold``, ``States.TaskFailed``, ...) fails with that name, as
on AWS; moto refuses it (``ValueError``, reported as ``States.Runtime``):
:func:`reraised_error_patch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from unittest import mock

from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.state.fail import state_fail

from tests.workflows.moto_extensions.distributed_map import ITEM_BATCHERS


def moto_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """``definition`` rewritten where moto's ASL grammar is narrower than AWS's (see above)."""

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, Mapping):
            return node
        rewritten = {key: visit(value) for key, value in node.items()}
        batcher = rewritten.pop("ItemBatcher", None)
        if batcher is not None:
            if "Label" not in rewritten:
                raise NotImplementedError("harness: an ItemBatcher needs the Map's Label")
            ITEM_BATCHERS[rewritten["Label"]] = batcher
        config = rewritten.get("ProcessorConfig")
        if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
            config["ExecutionType"] = "STANDARD"
        percentage = rewritten.get("ToleratedFailurePercentage")
        if isinstance(percentage, int) and not isinstance(percentage, bool):
            rewritten["ToleratedFailurePercentage"] = float(percentage)
        return rewritten

    return dict(visit(definition))


class _ReraisedErrorName(ErrorName):
    """A Fail state's error name from ``ErrorPath``: any string, ``States.*`` included."""


def reraised_error_patch() -> Any:
    """Fail states take any error name from ``ErrorPath``, ``States.*`` included."""
    return mock.patch.object(state_fail, "CustomErrorName", _ReraisedErrorName)
