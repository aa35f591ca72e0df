"""The buckets' data perimeter, evaluated on the deployed bucket policies (the README's table).

How each service reads or writes S3, as AWS documents it (the request contexts below follow it):

- Lambda functions in the VPC call S3 through the gateway endpoint with their role: the request
  carries ``aws:SourceVpc`` ("aws:SourceVpc ... the request is made through a VPC endpoint",
  IAM User Guide, "AWS global condition context keys").
- SageMaker training jobs and models in the VPC: "If you enable network isolation for training
  jobs that are configured to use a VPC, SageMaker downloads and uploads customer data and model
  artifacts through the specified VPC, but the training container does not have network access"
  (SageMaker API Reference, CreateTrainingJob ``EnableNetworkIsolation``): the execution role,
  with ``aws:SourceVpc``.
- Rekognition Custom Labels (training datasets from manifests, images; DetectCustomLabels on an
  S3 object) reads with the caller's credentials: "To use the AWS SDK with the latest release of
  Amazon Rekognition Custom Labels, you no longer need to give Amazon Rekognition Custom Labels
  permissions to access the Amazon S3 bucket that contains your training and testing images"
  (Custom Labels Developer Guide, "Set up SDK permissions"). That is a forward access session:
  "FAS uses the permissions of the identity calling an AWS service, combined with an AWS
  service's identity to make requests to downstream services" (IAM User Guide, "Forward access
  sessions"), with ``aws:ViaAWSService`` true and no ``aws:SourceVpc``.
- Step Functions (Distributed Map item readers and result writers, S3 SDK tasks) calls S3 with
  the state machine's role from AWS's network: no ``aws:SourceVpc``, not a FAS request. Its
  roles carry the perimeter's exclusion tag; only states.amazonaws.com can assume them.
- SageMaker data capture is written with the hosting role; nothing documents that it travels
  through the model's VPC, so that role carries the tag too.
- S3 server access logs are delivered by the ``logging.s3.amazonaws.com`` service principal
  (S3 User Guide, "Enabling Amazon S3 server access logging"): ``aws:PrincipalServiceName``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from stacks.building_blocks.network import PERIMETER_EXCLUSION_TAG
from tests.contract.cfn import Environment
from tests.contract.policy_evaluation import ALLOW, DENY, NO_DECISION, Request, decide

TLS = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
OTHER_VPC = "vpc-0aaaaaaaaaaaaaaaa"
OTHER_KEY = "arn:aws:kms:eu-west-1:111111111111:key/other"


@dataclass(frozen=True)
class Deployed:
    """What the scenarios need from one synthesized environment."""

    env: Environment
    policies: dict[str, list[dict[str, Any]]]  # bucket purpose -> statements
    buckets: dict[str, str]  # purpose -> bucket name
    vpc_id: str | None
    key_arn: str
    roles: dict[str, tuple[str, dict[str, str]]]  # "<stack>/<logical id>" -> (ARN, tags)

    def role(self, fragment: str) -> tuple[str, dict[str, str]]:
        (match,) = [v for k, v in self.roles.items() if fragment in k]
        return match


def deployed(env: Environment) -> Deployed:
    policies: dict[str, list[dict[str, Any]]] = {}
    buckets: dict[str, str] = {}
    for stack, _, resource in env.resources("AWS::S3::BucketPolicy"):
        name = str(env.resolve(stack, resource["Properties"]["Bucket"]))
        purpose = next(p for p in ("access-logs", "data", "artifacts") if f"-{p}-" in name)
        policies[purpose] = env.resolve(stack, resource["Properties"]["PolicyDocument"])[
            "Statement"
        ]
        buckets[purpose] = name
    vpcs = [env.ec2_id(stack, lid) for stack, lid, _ in env.resources("AWS::EC2::VPC")]
    ((key_stack, key_id, _),) = [r for r in env.resources("AWS::KMS::Key") if "storage" in r[0]]
    roles = {
        f"{stack}/{lid}": (
            env.arn(stack, lid),
            {t["Key"]: t["Value"] for t in role["Properties"].get("Tags", [])},
        )
        for stack, lid, role in env.resources("AWS::IAM::Role")
    }
    return Deployed(
        env, policies, buckets, vpcs[0] if vpcs else None, env.arn(key_stack, key_id), roles
    )


@pytest.fixture(scope="module")
def prod(contract_environments: dict[str, Environment]) -> Deployed:
    return deployed(contract_environments["prod"])


@pytest.fixture(scope="module")
def dev(contract_environments: dict[str, Environment]) -> Deployed:
    return deployed(contract_environments["dev"])


def as_role(
    d: Deployed,
    fragment: str,
    action: str,
    purpose: str,
    key: str = "incoming/cat.jpg",
    **context: Any,
) -> Request:
    """A request by the role whose logical id contains ``fragment``, with its tags."""
    arn, tags = d.role(fragment)
    principal_tags = {f"aws:PrincipalTag/{k}": v for k, v in tags.items()}
    resource = f"arn:aws:s3:::{d.buckets[purpose]}" + (f"/{key}" if key else "")
    return Request(
        action=action,
        resource=resource,
        principal_arn=arn,
        context={**TLS, "aws:PrincipalArn": arn, **principal_tags, **context},
    )


def as_service(d: Deployed, service: str, action: str, purpose: str, key: str) -> Request:
    return Request(
        action=action,
        resource=f"arn:aws:s3:::{d.buckets[purpose]}/{key}",
        service_principal=service,
        context={**TLS, "aws:PrincipalServiceName": service},
    )


# --- guards: the policy and the roles these scenarios rely on -------------------------------


def test_prod_is_isolated_and_the_roles_are_tagged_as_the_scenarios_assume(prod: Deployed) -> None:
    assert prod.vpc_id is not None
    assert prod.vpc_id.startswith("vpc-")
    assert PERIMETER_EXCLUSION_TAG not in prod.role("InferenceConsumerRole")[1]
    assert PERIMETER_EXCLUSION_TAG not in prod.role("TrainingTrainingRole")[1]
    assert prod.role("TrainingHostingRole")[1][PERIMETER_EXCLUSION_TAG] == "true"
    assert prod.role("ClassifyBatchStateMachineRole")[1][PERIMETER_EXCLUSION_TAG] == "true"


# --- inside the VPC ----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:ListBucket"])
def test_a_function_in_the_vpc_reaches_the_data(prod: Deployed, action: str) -> None:
    key = "" if action == "s3:ListBucket" else "incoming/cat.jpg"
    request = as_role(
        prod, "InferenceConsumerRole", action, "data", key, **{"aws:SourceVpc": prod.vpc_id}
    )
    assert decide(prod.policies["data"], request) == NO_DECISION  # the role's policy decides


def test_a_training_job_in_the_vpc_reads_its_channels_and_writes_the_model(
    prod: Deployed,
) -> None:
    inside = {"aws:SourceVpc": prod.vpc_id}
    read = as_role(
        prod,
        "TrainingTrainingRole",
        "s3:GetObject",
        "data",
        "sagemaker/training/train/a.jpg",
        **inside,
    )
    write = as_role(
        prod,
        "TrainingTrainingRole",
        "s3:PutObject",
        "artifacts",
        "sagemaker/models/job/output/model.tar.gz",
        **inside,
        **{
            "s3:x-amz-server-side-encryption": "aws:kms",
            "s3:x-amz-server-side-encryption-aws-kms-key-id": prod.key_arn,
        },
    )
    assert decide(prod.policies["data"], read) == NO_DECISION
    assert decide(prod.policies["artifacts"], write) == NO_DECISION


# --- from outside --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "purpose"),
    [
        ("InferenceConsumerRole", "data"),
        ("TrainingTrainingRole", "data"),
        ("TrainingTrainingRole", "artifacts"),
    ],
)
def test_the_same_roles_from_outside_are_denied(prod: Deployed, role: str, purpose: str) -> None:
    """Credentials taken out of the VPC (or a job run without it) reach nothing."""
    for context in ({}, {"aws:SourceVpc": OTHER_VPC}):
        request = as_role(prod, role, "s3:GetObject", purpose, **context)
        assert decide(prod.policies[purpose], request) == DENY, context


def test_an_untagged_operator_role_from_a_laptop_is_denied(prod: Deployed) -> None:
    arn = "arn:aws:iam::111111111111:role/operators"
    request = Request(
        action="s3:GetObject",
        resource=f"arn:aws:s3:::{prod.buckets['artifacts']}/results/rekognition/a.json",
        principal_arn=arn,
        context={**TLS, "aws:PrincipalArn": arn},
    )
    assert decide(prod.policies["artifacts"], request) == DENY


def test_bucket_configuration_stays_reachable_for_deployments(prod: Deployed) -> None:
    """CloudFormation updates policies and lifecycle from outside the VPC."""
    for action in ("s3:PutBucketPolicy", "s3:PutLifecycleConfiguration", "s3:GetBucketPolicy"):
        request = as_role(prod, "InferenceConsumerRole", action, "data", key="")
        assert decide(prod.policies["data"], request) == NO_DECISION, action


# --- the named exceptions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["InferenceConsumerRole", "rekognition-training/TrainingWorkflowStateMachineRole"]
)
def test_rekognition_reads_images_and_manifests_with_the_callers_credentials(
    prod: Deployed, role: str
) -> None:
    """DetectCustomLabels on an S3 object (the consumer) and dataset creation from a manifest
    (the training workflow): forward access sessions, ``aws:ViaAWSService`` true."""
    via_rekognition = {
        "aws:ViaAWSService": "true",
        "aws:CalledVia": ["rekognition.amazonaws.com"],
    }
    request = as_role(
        prod, role, "s3:GetObject", "data", "training/manifests/a.manifest", **via_rekognition
    )
    assert decide(prod.policies["data"], request) == NO_DECISION
    # The same role without the service in between is the outside case.
    assert (
        decide(
            prod.policies["data"], as_role(prod, "InferenceConsumerRole", "s3:GetObject", "data")
        )
        == DENY
    )


def test_rekognition_as_its_own_service_principal_is_not_an_exception(prod: Deployed) -> None:
    """Custom Labels no longer reads as rekognition.amazonaws.com (see the module docstring):
    the bucket grants it nothing and the perimeter does not exempt it."""
    request = as_service(
        prod, "rekognition.amazonaws.com", "s3:GetObject", "data", "incoming/a.jpg"
    )
    assert decide(prod.policies["data"], request) == DENY


def test_step_functions_reads_and_writes_with_its_tagged_role(prod: Deployed) -> None:
    listing = as_role(prod, "ClassifyBatchStateMachineRole", "s3:ListBucket", "data", key="")
    results = as_role(
        prod,
        "ClassifyBatchStateMachineRole",
        "s3:PutObject",
        "artifacts",
        "results/sagemaker/batch/x.json",
    )
    assert decide(prod.policies["data"], listing) == NO_DECISION
    assert decide(prod.policies["artifacts"], results) == NO_DECISION


def test_sagemaker_data_capture_writes_with_the_hosting_role_and_the_key(prod: Deployed) -> None:
    def capture(key_arn: str) -> Request:
        return as_role(
            prod,
            "TrainingHostingRole",
            "s3:PutObject",
            "artifacts",
            "sagemaker/data-capture/classifier/AllTraffic/2026/12/01/00/x.jsonl",
            **{
                "s3:x-amz-server-side-encryption": "aws:kms",
                "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn,
            },
        )

    assert decide(prod.policies["artifacts"], capture(prod.key_arn)) == NO_DECISION
    assert decide(prod.policies["artifacts"], capture(OTHER_KEY)) == DENY


def test_log_delivery_writes_access_logs_and_nothing_else(prod: Deployed) -> None:
    def delivery(purpose: str) -> Request:
        request = as_service(
            prod, "logging.s3.amazonaws.com", "s3:PutObject", purpose, "Data/2026-12-01"
        )
        return Request(
            action=request.action,
            resource=request.resource,
            service_principal=request.service_principal,
            context={
                **request.context,
                "aws:SourceArn": f"arn:aws:s3:::{prod.buckets['data']}",
                "aws:SourceAccount": "111111111111",
            },
        )

    assert decide(prod.policies["access-logs"], delivery("access-logs")) == ALLOW
    assert decide(prod.policies["data"], delivery("data")) == DENY


def test_an_unknown_service_principal_is_denied(prod: Deployed) -> None:
    request = as_service(prod, "glue.amazonaws.com", "s3:GetObject", "data", "incoming/a.jpg")
    assert decide(prod.policies["data"], request) == DENY


# --- encryption: the environment's key only ------------------------------------------------


@pytest.mark.parametrize("name", ["dev", "prod"])
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, NO_DECISION),  # the bucket's default: the environment key
        # SSE-KMS without a key id: S3 would use the AWS managed key aws/s3.
        ({"s3:x-amz-server-side-encryption": "aws:kms"}, DENY),
        ({"s3:x-amz-server-side-encryption": "AES256"}, DENY),
        ({"s3:x-amz-server-side-encryption": "aws:kms:dsse"}, DENY),
        (
            {
                "s3:x-amz-server-side-encryption": "aws:kms",
                "s3:x-amz-server-side-encryption-aws-kms-key-id": OTHER_KEY,
            },
            DENY,
        ),
    ],
)
def test_uploads_with_another_encryption_are_denied(
    prod: Deployed, dev: Deployed, name: str, headers: dict[str, str], expected: str
) -> None:
    d = prod if name == "prod" else dev
    inside = {"aws:SourceVpc": d.vpc_id} if d.vpc_id else {}
    for purpose in ("data", "artifacts"):
        request = as_role(
            d,
            "InferenceConsumerRole",
            "s3:PutObject",
            purpose,
            "errors/rekognition/x.json",
            **inside,
            **headers,
        )
        assert decide(d.policies[purpose], request) == expected, (purpose, headers)


def test_uploads_naming_the_environment_key_are_not_denied(prod: Deployed) -> None:
    request = as_role(
        prod,
        "InferenceConsumerRole",
        "s3:PutObject",
        "artifacts",
        "results/rekognition/x.json",
        **{
            "aws:SourceVpc": prod.vpc_id,
            "s3:x-amz-server-side-encryption": "aws:kms",
            "s3:x-amz-server-side-encryption-aws-kms-key-id": prod.key_arn,
        },
    )
    assert decide(prod.policies["artifacts"], request) == NO_DECISION


# --- dev: public mode, no perimeter ----------------------------------------------------------


def test_dev_has_no_network_perimeter(dev: Deployed) -> None:
    assert dev.vpc_id is None
    request = as_role(dev, "InferenceConsumerRole", "s3:GetObject", "data")
    assert decide(dev.policies["data"], request) == NO_DECISION
    for statements in dev.policies.values():
        assert not [s for s in statements if s.get("Sid") == "DenyOutsideTheNetworkPerimeter"]


# --- the evaluator itself ---------------------------------------------------------------------


def test_the_evaluator_refuses_what_it_does_not_model() -> None:
    statement = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    }
    request = Request(
        action="s3:GetObject", resource="arn:aws:s3:::b/k", context={"aws:SourceIp": "10.0.0.1"}
    )
    with pytest.raises(NotImplementedError):
        decide([statement], request)


@pytest.mark.parametrize(
    ("operator", "context", "holds"),
    [
        ("StringNotEquals", {}, True),  # missing key: a negated operator holds
        ("StringEquals", {}, False),  # missing key: a positive operator does not
        ("StringEqualsIfExists", {}, True),
        ("StringNotEqualsIfExists", {"k": "a"}, False),
        ("StringNotEqualsIfExists", {"k": "c"}, True),
        ("StringEquals", {"k": "b"}, True),  # any of the values
    ],
)
def test_the_evaluator_follows_the_documented_condition_semantics(
    operator: str, context: dict[str, str], holds: bool
) -> None:
    statement = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {operator: {"k": ["a", "b"]}},
    }
    request = Request(action="s3:GetObject", resource="arn:aws:s3:::b/k", context=context)
    assert (decide([statement], request) == DENY) is holds


@pytest.mark.parametrize(
    ("wanted", "context", "holds"),
    [("true", {}, True), ("false", {}, False), ("false", {"k": "x"}, True)],
)
def test_the_evaluator_reads_null_as_key_absent(
    wanted: str, context: dict[str, str], holds: bool
) -> None:
    statement = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:PutObject",
        "Resource": "*",
        "Condition": {"Null": {"k": wanted}},
    }
    request = Request(action="s3:PutObject", resource="arn:aws:s3:::b/k", context=context)
    assert (decide([statement], request) == DENY) is holds
