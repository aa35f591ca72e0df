"""Snapshots of every synthesized template: any change to the CloudFormation shows up in review.

Only asset hashes (they change with any byte of lambda_src) and the code version (the git commit
at synth, ``stacks.code_version``) are scrubbed. Re-record on purpose
with ``make snapshots`` and review the diff; a missing snapshot fails.
"""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Template
from syrupy.extensions.json import JSONSnapshotExtension

from contracts.naming import stack_concerns
from shared.lineage import CODE_VERSION_VARIABLE
from stacks.config import load_all
from tests.conftest import load_cdk_json

#: The Network stack exists only in isolated environments.
_CONFIGS = load_all(load_cdk_json()["context"])

ASSET_HASH = re.compile(r"[0-9a-f]{64}(\.zip|\.json)")
CODE_VERSION = re.compile(rf'"{CODE_VERSION_VARIABLE}": "[^"]*"')


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def scrubbed(template: Template) -> dict:
    text = json.dumps(template.to_json(), sort_keys=True)
    text = CODE_VERSION.sub(f'"{CODE_VERSION_VARIABLE}": "<code-version>"', text)
    return json.loads(ASSET_HASH.sub(r"<asset-hash>\1", text))


@pytest.mark.parametrize(
    ("env", "stack"),
    [
        (config.name, stack)
        for config in _CONFIGS
        for stack in stack_concerns(isolated=config.network.isolated)
    ],
)
def test_template_snapshot(templates, snapshot_json, env, stack):
    assert scrubbed(templates[(env, f"{env.capitalize()}{stack}")]) == snapshot_json
