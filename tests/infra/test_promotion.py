"""The promotion's stacks: prod's workflow and reader, and what a source in another account allows.

cdk.json's dev has no account (it is taken to be in prod's, where identity policies suffice);
here dev is pinned to an account of its own, as a team with one account per environment would,
and the source side is checked: dev's artifacts bucket and key allow prod's reader role exactly
the lineage records, through S3, and nothing else; the whole app still passes the cdk-nag gate.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.config import load_all
from stacks.environment import EnvironmentStacks, build_environment
from tests.infra.test_security_gate import gated_app

DEV_ACCOUNT = "222222222222"
READER = ":iam::111111111111:role/imgclf-prod-promotion-reader"


@pytest.fixture(scope="module")
def cross_account(cdk_context: dict[str, Any], tmp_path_factory) -> dict[str, EnvironmentStacks]:
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"].update({"account": DEV_ACCOUNT, "region": "eu-west-1"})
    outdir = tmp_path_factory.mktemp("cross-account")
    app = gated_app(context, outdir)
    built = {config.name: build_environment(app, config) for config in load_all(context)}
    app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []  # the cdk-nag gate, for this configuration too
    return built


def rendered(value: Any) -> str:
    return json.dumps(value).replace('{"Ref": "AWS::Partition"}', "${AWS::Partition}")


def statements(template: Template, kind: str) -> list[dict[str, Any]]:
    found = []
    for resource in template.find_resources(kind).values():
        document = resource["Properties"].get("PolicyDocument") or resource["Properties"].get(
            "KeyPolicy"
        )
        found += document["Statement"]
    return found


def ours(statement: dict[str, Any]) -> bool:
    return statement.get("Sid") == "PromotionReaderProd"


def test_dev_allows_prods_reader_only_the_lineage_records(cross_account):
    storage = Template.from_stack(cross_account["dev"].storage)
    (bucket,) = [
        s
        for s in statements(storage, "AWS::S3::BucketPolicy")
        if s.get("Sid") == "PromotionReaderProd"
    ]
    assert bucket["Action"] == "s3:GetObject"
    assert bucket["Principal"]["AWS"]  # prod's account ...
    assert DEV_ACCOUNT not in rendered(bucket["Principal"])
    assert "111111111111" in rendered(bucket["Principal"])
    # ... and there only its reader role.
    assert READER in rendered(bucket["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    assert "/reports/imgclf-dev-image-classifier/*/lineage.json" in rendered(bucket["Resource"])
    (key,) = [
        s for s in statements(storage, "AWS::KMS::Key") if s.get("Sid") == "PromotionReaderProd"
    ]
    assert key["Action"] == "kms:Decrypt"
    assert key["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    assert READER in rendered(key["Condition"]["ArnEquals"]["aws:PrincipalArn"])


def test_prods_reader_role_has_the_name_dev_allows_and_reads_devs_account(cross_account):
    training = Template.from_stack(cross_account["prod"].rekognition_training)
    roles = training.find_resources("AWS::IAM::Role")
    named = [r["Properties"].get("RoleName") for r in roles.values()]
    assert "imgclf-prod-promotion-reader" in named
    functions = training.find_resources("AWS::Lambda::Function")
    (reader,) = [f for key, f in functions.items() if key.startswith("PromotionReadSource")]
    variables = reader["Properties"]["Environment"]["Variables"]
    assert variables["SOURCE_BUCKET"] == f"imgclf-dev-artifacts-{DEV_ACCOUNT}-eu-west-1"
    # Another account's parameter is read by its ARN (a shared parameter).
    parameter = f":ssm:eu-west-1:{DEV_ACCOUNT}:parameter/imgclf-dev/rekognition/model-version-arn"
    assert parameter in rendered(variables["SOURCE_PARAMETER"])
    copy_grants = [
        s
        for s in statements(training, "AWS::IAM::Policy")
        if "rekognition:CopyProjectVersion" in json.dumps(s["Action"])
    ]
    resources = rendered([s["Resource"] for s in copy_grants])
    assert f":{DEV_ACCOUNT}:project/imgclf-dev-image-classifier/version/*" in resources


def test_within_one_account_the_source_adds_nothing(environments):
    storage = Template.from_stack(environments["dev"].storage)
    sids = [s.get("Sid") for s in statements(storage, "AWS::S3::BucketPolicy")]
    sids += [s.get("Sid") for s in statements(storage, "AWS::KMS::Key")]
    assert not [sid for sid in sids if sid and sid.startswith("PromotionReader")]
