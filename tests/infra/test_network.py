"""Network isolation: dev has no VPC at all; prod runs every workload in isolated subnets.

The interface endpoints are checked against what the code calls (the boto3 clients of
lambda_src, named by botocore's own endpoint prefixes), not against a second list kept equal.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_cdk.assertions import Template

from stacks.building_blocks.network import INTERFACE_ENDPOINTS, PERIMETER_EXCLUSION_TAG
from stacks.config import load_environment
from stacks.environment import EnvironmentStacks, build_environment
from tests.conftest import ROOT
from tests.infra.conftest import make_app

#: Each interface endpoint's caller is a boto3 client, except X-Ray: the Lambda runtime's X-Ray
#: daemon sends every traced function's segments (Lambda Developer Guide, "Visualize Lambda
#: function invocations using AWS X-Ray"), from the function's network.
CALLED_WITHOUT_A_CLIENT = {"xray"}
#: PrivateLink spells one service differently from its API endpoint prefix.
PRIVATELINK_NAMES = {"runtime.sagemaker": "sagemaker.runtime", "api.sagemaker": "sagemaker.api"}


def all_resources(stacks: EnvironmentStacks) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for stack in stacks.all():
        for logical_id, resource in Template.from_stack(stack).to_json()["Resources"].items():
            found[f"{stack.node.id}/{logical_id}"] = resource
    return found


def of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


@pytest.fixture(scope="module")
def dev_resources(environments: dict[str, EnvironmentStacks]) -> dict[str, dict[str, Any]]:
    return all_resources(environments["dev"])


@pytest.fixture(scope="module")
def prod_resources(environments: dict[str, EnvironmentStacks]) -> dict[str, dict[str, Any]]:
    return all_resources(environments["prod"])


def boto3_services_of_lambda_src() -> set[str]:
    """Every service name passed to ``boto3.client(...)`` / ``client(...)`` in lambda_src."""
    services: set[str] = set()
    for path in (ROOT / "lambda_src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
                == "client"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                services.add(node.args[0].value)
    return services


def test_lambda_src_clients_are_found() -> None:
    """Guard: the scan finds the clients the handlers are known to create."""
    assert {"rekognition", "s3", "sqs", "sagemaker-runtime"} <= boto3_services_of_lambda_src()


# --- dev: public, no VPC resource at all ---------------------------------------------------


def test_dev_synthesizes_without_any_vpc_resource(
    environments: dict[str, EnvironmentStacks], dev_resources: dict[str, dict[str, Any]]
) -> None:
    assert environments["dev"].network is None
    assert not [k for k, v in dev_resources.items() if v["Type"].startswith("AWS::EC2::")]
    text = json.dumps(dev_resources)
    assert "VpcConfig" not in text
    assert "ec2:CreateNetworkInterface" not in text
    assert PERIMETER_EXCLUSION_TAG not in text
    assert "aws:SourceVpc" not in text


def test_public_functions_acknowledge_lambda_inside_vpc_and_isolated_ones_do_not(
    environments: dict[str, EnvironmentStacks],
) -> None:
    """The acknowledgement stays only where it is true: in prod the rule is satisfied."""

    def acknowledged(stacks: EnvironmentStacks) -> list[str]:
        return [
            construct.node.path
            for stack in stacks.all()
            for construct in stack.node.find_all()
            for entry in construct.node.metadata
            if entry.type == "aws:cdk:acknowledged-rules"
            and any("LambdaInsideVPC" in key for key in entry.data)
        ]

    assert acknowledged(environments["dev"])
    assert acknowledged(environments["prod"]) == []


# --- prod: the VPC and its endpoints -------------------------------------------------------


def test_prod_vpc_has_isolated_subnets_in_two_zones_and_no_route_out(
    prod_resources: dict[str, dict[str, Any]], cdk_context: dict[str, Any]
) -> None:
    (vpc,) = of_type(prod_resources, "AWS::EC2::VPC").values()
    assert vpc["DeletionPolicy"] == "Retain"
    for kind in (
        "AWS::EC2::NatGateway",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::EgressOnlyInternetGateway",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::EIP",
    ):
        assert not of_type(prod_resources, kind), kind
    subnets = of_type(prod_resources, "AWS::EC2::Subnet").values()
    zones = {subnet["Properties"]["AvailabilityZone"] for subnet in subnets}
    assert zones == set(cdk_context["environments"]["prod"]["network"]["availability_zones"])
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
    # No route leaves the VPC except the S3 gateway endpoint's (routes to a prefix list).
    assert not of_type(prod_resources, "AWS::EC2::Route")
    (flow_log,) = of_type(prod_resources, "AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["TrafficType"] == "ALL"


def test_interface_endpoints_are_exactly_what_the_code_calls(
    prod_resources: dict[str, dict[str, Any]],
) -> None:
    session = botocore.session.get_session()
    prefixes = {
        session.get_service_model(name).metadata["endpointPrefix"]
        for name in boto3_services_of_lambda_src()
    }
    prefixes = {PRIVATELINK_NAMES.get(prefix, prefix) for prefix in prefixes}
    expected_interfaces = (prefixes - {"s3"}) | CALLED_WITHOUT_A_CLIENT
    endpoints = of_type(prod_resources, "AWS::EC2::VPCEndpoint").values()
    services = {}
    for endpoint in endpoints:
        name = endpoint["Properties"]["ServiceName"]
        parts = [name] if isinstance(name, str) else name["Fn::Join"][1]
        text = "".join("<region>" if p == {"Ref": "AWS::Region"} else str(p) for p in parts)
        service = text.removeprefix("com.amazonaws.").split(".", 1)[1]
        services[service] = endpoint["Properties"]
    assert {s.service for s in INTERFACE_ENDPOINTS} == expected_interfaces
    assert set(services) == expected_interfaces | {"s3"}
    assert services["s3"]["VpcEndpointType"] == "Gateway"
    for name in expected_interfaces:
        properties = services[name]
        assert properties["VpcEndpointType"] == "Interface", name
        assert properties["PrivateDnsEnabled"] is True, name
        assert len(properties["SubnetIds"]) == 2, name


def test_endpoint_policies_admit_this_accounts_principals_only(
    prod_resources: dict[str, dict[str, Any]],
) -> None:
    for logical_id, endpoint in of_type(prod_resources, "AWS::EC2::VPCEndpoint").items():
        (statement,) = endpoint["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"AWS": "*"}
        condition = statement["Condition"]["StringEquals"]
        assert condition["aws:PrincipalAccount"] == {"Ref": "AWS::AccountId"}, logical_id
        if endpoint["Properties"]["VpcEndpointType"] == "Gateway":
            assert condition["aws:ResourceAccount"] == {"Ref": "AWS::AccountId"}


def test_each_tier_may_send_https_to_the_endpoints_and_nothing_else(
    environments: dict[str, EnvironmentStacks], cdk_context: dict[str, Any]
) -> None:
    network = environments["prod"].network
    assert network is not None
    template = Template.from_stack(network).to_json()["Resources"]
    groups = {k: v for k, v in template.items() if v["Type"] == "AWS::EC2::SecurityGroup"}
    endpoints_group = next(k for k in groups if "Endpoints" in k)
    prefix_list = cdk_context["environments"]["prod"]["network"]["s3_prefix_list_id"]
    egress = [
        v["Properties"] for v in template.values() if v["Type"] == "AWS::EC2::SecurityGroupEgress"
    ]
    for tier in ("Functions", "Training", "Hosting"):
        (group_id,) = [k for k in groups if tier in k]
        inline = groups[group_id]["Properties"].get("SecurityGroupEgress", [])
        rules = inline + [e for e in egress if e["GroupId"]["Fn::GetAtt"][0] == group_id]
        destinations = set()
        for rule in rules:
            if rule.get("DestinationSecurityGroupId", {}).get("Fn::GetAtt", [None])[0] == group_id:
                assert tier == "Training"  # a job's instances talk to each other
                continue
            assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
            destinations.add(
                rule.get("DestinationPrefixListId")
                or rule["DestinationSecurityGroupId"]["Fn::GetAtt"][0]
            )
        assert destinations == {prefix_list, endpoints_group}, tier
        assert "CidrIp" not in json.dumps(rules)
    ingress = [
        v["Properties"] for v in template.values() if v["Type"] == "AWS::EC2::SecurityGroupIngress"
    ]
    to_endpoints = [i for i in ingress if i["GroupId"]["Fn::GetAtt"][0] == endpoints_group]
    assert {i["SourceSecurityGroupId"]["Fn::GetAtt"][0] for i in to_endpoints} == {
        k for k in groups if k != endpoints_group
    }
    assert all(i["FromPort"] == i["ToPort"] == 443 for i in to_endpoints)


# --- prod: the workloads -------------------------------------------------------------------


def test_every_prod_function_runs_in_the_isolated_subnets_with_the_functions_group(
    environments: dict[str, EnvironmentStacks],
) -> None:
    stacks = environments["prod"]
    assert stacks.network is not None
    placement = stacks.network.placement
    functions = 0
    for stack in stacks.all():
        resolved = Template.from_stack(stack).to_json()["Resources"]
        for logical_id, resource in resolved.items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            functions += 1
            vpc = resource["Properties"].get("VpcConfig")
            assert vpc is not None, f"{stack.node.id}/{logical_id}"
            assert len(vpc["SubnetIds"]) == len(placement.subnets)
            (group,) = vpc["SecurityGroupIds"]
            text = json.dumps(group)
            assert "FunctionsSecurityGroup" in text, logical_id
    assert functions >= 10


def _states(template: Template) -> dict[str, Any]:
    for resource in template.to_json()["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            body = resource["Properties"]["DefinitionString"]
            text = "".join(p if isinstance(p, str) else json.dumps(p) for p in body["Fn::Join"][1])
            if '"Train"' in text:
                return body
    raise AssertionError("no training state machine")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_training_jobs_and_models_are_isolated_and_placed_in_the_vpc(
    environments: dict[str, EnvironmentStacks], env: str
) -> None:
    definition = json.dumps(_states(Template.from_stack(environments[env].sagemaker)))
    assert '\\"EnableNetworkIsolation\\":true' in definition
    assert '\\"EnableInterContainerTrafficEncryption\\":true' in definition
    # The job and the model each get the VPC and their own tier's group, prod only.
    if env == "prod":
        assert definition.count('\\"VpcConfig\\"') == 2
        assert "TrainingSecurityGroup" in definition
        assert "HostingSecurityGroup" in definition
    else:
        assert "VpcConfig" not in definition


def test_sagemaker_roles_trust_only_this_accounts_sagemaker(
    environments: dict[str, EnvironmentStacks],
) -> None:
    for env in ("dev", "prod"):
        roles = Template.from_stack(environments[env].sagemaker).find_resources("AWS::IAM::Role")
        sagemaker_roles = [
            r
            for r in roles.values()
            if "sagemaker.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
        ]
        assert len(sagemaker_roles) == 2
        for role in sagemaker_roles:
            (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            assert statement["Condition"] == {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
            }


def test_perimeter_exclusion_tag_is_on_service_assumed_roles_only(
    prod_resources: dict[str, dict[str, Any]],
) -> None:
    """Only roles that AWS services assume and that call S3 from AWS's network carry it: the
    state machines' roles, the SageMaker hosting role (data capture) and Ground Truth's."""
    tagged = []
    for logical_id, role in of_type(prod_resources, "AWS::IAM::Role").items():
        tags = {t["Key"]: t["Value"] for t in role["Properties"].get("Tags", [])}
        if tags.get(PERIMETER_EXCLUSION_TAG) == "true":
            tagged.append(logical_id)
            principals = json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
            assert "states.amazonaws.com" in principals or "sagemaker.amazonaws.com" in principals
            assert "lambda.amazonaws.com" not in principals
    assert any("HostingRole" in t for t in tagged)
    assert any("GroundTruthRole" in t for t in tagged)
    assert not any("TrainingRole" in t for t in tagged)
    assert sum("StateMachineRole" in t for t in tagged) >= 5


def test_endpoint_log_group_is_created_encrypted_with_retention(
    environments: dict[str, EnvironmentStacks], cdk_context: dict[str, Any]
) -> None:
    for env in ("dev", "prod"):
        config = load_environment(cdk_context, env)
        groups = Template.from_stack(environments[env].sagemaker).find_resources(
            "AWS::Logs::LogGroup",
            {"Properties": {"LogGroupName": f"/aws/sagemaker/Endpoints/imgclf-{env}-classifier"}},
        )
        (group,) = groups.values()
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days
        assert "KmsKeyId" in group["Properties"]


def test_reusing_a_vpc_creates_only_the_tiers_security_groups(
    context_copy: dict[str, Any],
) -> None:
    context_copy["environments"]["prod"]["network"] = {
        "mode": "isolated",
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
        "availability_zones": ["eu-west-1a", "eu-west-1b"],
        "endpoint_security_group_id": "sg-0123456789abcdef0",
        "s3_prefix_list_id": "pl-6da54004",
    }
    stacks = build_environment(make_app(context_copy), load_environment(context_copy, "prod"))
    assert stacks.network is not None
    network = Template.from_stack(stacks.network).to_json()["Resources"]
    kinds = {v["Type"] for v in network.values()}
    # (The ingress rule is the training group's own: a job's instances.)
    assert kinds == {
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::SecurityGroupIngress",
    }
    storage = json.dumps(Template.from_stack(stacks.storage).to_json())
    assert '"aws:SourceVpc": "vpc-0123456789abcdef0"' in storage
    consumer = Template.from_stack(stacks.rekognition_inference).find_resources(
        "AWS::Lambda::Function"
    )
    subnets = {json.dumps(f["Properties"]["VpcConfig"]["SubnetIds"]) for f in consumer.values()}
    assert subnets == {'["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]'}
    egress = [v["Properties"] for v in network.values() if v["Type"].endswith("Egress")]
    assert "sg-0123456789abcdef0" in [e.get("DestinationSecurityGroupId") for e in egress]


def test_readme_states_every_endpoint() -> None:
    readme = (Path(ROOT) / "README.md").read_text(encoding="utf-8")
    for endpoint in INTERFACE_ENDPOINTS:
        assert f"`com.amazonaws.<region>.{endpoint.service}`" in readme, endpoint.service


def test_synthesis_needs_no_context_lookup(cdk_context: dict[str, Any], tmp_path: Path) -> None:
    """`cdk synth` has no AWS credentials (and cdk.context.json is not kept): a lookup (say of
    the account's Availability Zones for prod's VPC) would stop it."""
    from stacks.config import load_all

    app = make_app(cdk_context, outdir=str(tmp_path))
    for config in load_all(cdk_context):
        build_environment(app, config)
    app.synth()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest.get("missing") is None


def test_s3_endpoint_admits_a_promotion_sources_buckets_in_another_account(
    context_copy: dict[str, Any],
) -> None:
    """Prod's promotion reads the lineage record from dev's artifacts bucket: with dev in
    another account, the gateway endpoint must let that one account's buckets through too."""
    context_copy["environments"]["dev"].update(account="222222222222", region="eu-west-1")
    stacks = build_environment(make_app(context_copy), load_environment(context_copy, "prod"))
    assert stacks.network is not None
    (gateway,) = [
        r
        for r in Template.from_stack(stacks.network).to_json()["Resources"].values()
        if r["Type"] == "AWS::EC2::VPCEndpoint" and r["Properties"]["VpcEndpointType"] == "Gateway"
    ]
    (statement,) = gateway["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Condition"]["StringEquals"]["aws:ResourceAccount"] == [
        {"Ref": "AWS::AccountId"},
        "222222222222",
    ]
