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

ROOT = Path(__file__).resolve().parents[1]


def load_cdk_json() -> dict[str, Any]:
    with (ROOT / "cdk.json").open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@pytest.fixture(scope="session")
def cdk_context() -> dict[str, Any]:
    """The ``context`` block of cdk.json: feature flags, defaults and environments."""
    return load_cdk_json()["context"]


@pytest.fixture
def context_copy(cdk_context: dict[str, Any]) -> dict[str, Any]:
    """A private copy of the context a test may change."""
    return copy.deepcopy(cdk_context)
