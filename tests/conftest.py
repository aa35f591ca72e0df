"""Shared fixtures: the app context from cdk.json, loaded as `cdk synth` loads it."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

# jsii prints a Node end-of-life banner from every process; it must be set before jsii starts.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# No test may reach AWS. Handlers create their boto3 clients at import time, possibly outside
# moto: give every client fake credentials and a region so it signs and moto can answer.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    # What the Lambda runtime sets; handlers read it (the workflow runner sets it per call too,
    # but Map children run on threads while the environment is patched and restored).
    "AWS_REGION": "eu-west-1",
    "POWERTOOLS_TRACE_DISABLED": "1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)

ROOT = Path(__file__).resolve().parents[1]


def load_cdk_json() -> dict[str, Any]:
    with (ROOT / "cdk.json").open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


#: Every environment of cdk.json, in its order: tests parametrized over environments use this, so
#: adding an environment adds its cases.
ENVIRONMENTS: list[str] = list(load_cdk_json()["context"]["environments"])


@pytest.fixture(scope="session")
def cdk_context() -> dict[str, Any]:
    """The ``context`` block of cdk.json: feature flags, defaults and environments."""
    return load_cdk_json()["context"]


@pytest.fixture
def context_copy(cdk_context: dict[str, Any]) -> dict[str, Any]:
    """A private copy of the context a test may change."""
    return copy.deepcopy(cdk_context)
