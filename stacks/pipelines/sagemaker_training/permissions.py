"""The two roles SageMaker works with, the state machine's key grants, the acknowledgements.

The training role reads the channels, writes the model, logs and encrypts; the hosting role reads
the model, captures data, logs and encrypts. Both are scoped to the prefixes below (which
``stacks.config.RESERVED_ARTIFACT_PREFIXES`` reserves) and to their fixed log groups. Each
wildcard is acknowledged here, next to the grants that need it. (The state machine's own
statements are the policies of its Tasks, in ``definition`` and ``endpoint``.)
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Aws, Stack, Tags, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contracts.s3_layout import SAGEMAKER_DATA_CAPTURE_PREFIX, SAGEMAKER_MODELS_PREFIX
from stacks.building_blocks.encryption import grant_service_grants
from stacks.building_blocks.iam import (
    acknowledge_prefix_wildcards,
    acknowledge_resources,
    grant_objects,
)
from stacks.building_blocks.network import (
    PERIMETER_EXCLUSION_TAG,
    grant_network_interfaces,
    network_interfaces_arn,
    placement_of,
)
from stacks.config import EnvironmentConfig

MODELS_PREFIX = SAGEMAKER_MODELS_PREFIX
DATA_CAPTURE_PREFIX = SAGEMAKER_DATA_CAPTURE_PREFIX


def _arn(scope: Construct, resource: str, name: str) -> str:
    """A SageMaker ARN of the stack of ``scope`` (``training-job``, ``model``, ...)."""
    return str(
        Stack.of(scope).format_arn(service="sagemaker", resource=resource, resource_name=name)
    )


def _training_role(
    owner: Construct,
    *,
    config: EnvironmentConfig,
    data_bucket: s3.IBucket,
    artifacts_bucket: s3.IBucket,
    key: kms.IKey,
    log_groups: list[str],
) -> iam.Role:
    """What a training job does: read the channels, write the model, log, encrypt."""
    training = config.sagemaker.training
    role = iam.Role(
        owner,
        "TrainingRole",
        assumed_by=_sagemaker_principal(),
        description="SageMaker training jobs of the image-classification workflow",
    )
    _grant_vpc_access(role, "training")
    grant_objects(role, data_bucket, training.data_prefix, ["s3:GetObject"], list_bucket=True)
    grant_objects(
        role, artifacts_bucket, MODELS_PREFIX, ["s3:PutObject", "s3:AbortMultipartUpload"]
    )
    key.grant(role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
    grant_service_grants(key, role)
    log_groups.append("/aws/sagemaker/TrainingJobs")
    _grant_logs_and_metrics(role, "/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TrainingJobs")
    return role


def _hosting_role(
    owner: Construct,
    *,
    artifacts_bucket: s3.IBucket,
    key: kms.IKey,
    endpoint_name: str,
    log_groups: list[str],
) -> iam.Role:
    """What the endpoint does: read the model, capture data, log, encrypt."""
    role = iam.Role(
        owner,
        "HostingRole",
        assumed_by=_sagemaker_principal(),
        description="SageMaker models and endpoint of the image-classification workflow",
    )
    if _grant_vpc_access(role, "hosting"):
        # Data capture is written by SageMaker's hosting platform with this role, with no
        # documented promise that it travels through the model's VPC: the buckets' perimeter
        # lets this role in by its tag (only sagemaker.amazonaws.com of this account can assume
        # it, and it may write only under the data-capture prefix).
        Tags.of(role).add(PERIMETER_EXCLUSION_TAG, "true")
    grant_objects(role, artifacts_bucket, MODELS_PREFIX, ["s3:GetObject"])
    grant_objects(role, artifacts_bucket, DATA_CAPTURE_PREFIX, ["s3:PutObject"])
    key.grant(role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
    log_groups.append(f"/aws/sagemaker/Endpoints/{endpoint_name}")
    _grant_logs_and_metrics(
        role, f"/aws/sagemaker/Endpoints/{endpoint_name}", "/aws/sagemaker/Endpoints"
    )
    return role


def _sagemaker_principal() -> iam.ServicePrincipal:
    """SageMaker, assuming the role for this account's jobs and models only (confused deputy
    prevention: ``aws:SourceAccount`` in the trust policy)."""
    return iam.ServicePrincipal(
        "sagemaker.amazonaws.com",
        conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
    )


def _grant_vpc_access(role: iam.Role, tier: str) -> bool:
    """In an isolated environment, let SageMaker attach the role's jobs or models to the VPC
    (SageMaker Developer Guide, "Give SageMaker AI access to resources in your Amazon VPC")."""
    network = placement_of(role)
    if network is None:
        return False
    grant_network_interfaces(
        role,
        network,
        network.training if tier == "training" else network.hosting,
        interface_actions=[
            "ec2:CreateNetworkInterfacePermission",
            "ec2:DeleteNetworkInterfacePermission",
        ],
        describe_actions=[
            "ec2:DescribeVpcs",
            "ec2:DescribeDhcpOptions",
            "ec2:DescribeSecurityGroups",
        ],
    )
    acknowledge_resources(
        role,
        [network_interfaces_arn(Stack.of(role))],
        "SageMaker names the network interfaces it creates for a job or model at run time; "
        "the role may create them only in the VPC's subnets with the tier's security group.",
    )
    return True


def _grant_state_machine(encryption_key: kms.IKey, role: iam.IRole) -> None:
    """KmsKeyId of the training job and the endpoint configuration: SageMaker creates grants
    on the key for the caller's request."""
    encryption_key.grant(role, "kms:DescribeKey")
    grant_service_grants(encryption_key, role)


def _acknowledge(
    owner: Construct,
    *,
    config: EnvironmentConfig,
    data_bucket: s3.IBucket,
    artifacts_bucket: s3.IBucket,
    job_prefix: str,
    log_groups: list[str],
) -> None:
    training = config.sagemaker.training
    Validations.of(owner).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="cloudwatch:PutMetricData accepts no resource but is limited by the "
            "cloudwatch:namespace condition; in a VPC, SageMaker's network-interface calls "
            "(ec2:CreateNetworkInterface, Describe*) name interfaces that do not exist yet. "
            "(Also X-Ray and log delivery, see Workflow.)",
        ),
        Acknowledgment(
            id="NIST.800.53.R5-IAMNoInlinePolicy",
            reason="The SageMaker roles get policies generated from exact grants; an inline "
            "policy lives and dies with its role.",
        ),
    )
    acknowledge_resources(
        owner,
        [
            _arn(owner, kind, f"{job_prefix}-*")
            for kind in ("training-job", "model", "endpoint-config")
        ],
        f"Each run names its training job, model and endpoint configuration "
        f"'{job_prefix}-<12 hex>' at run time; the grant is limited to that prefix.",
    )
    acknowledge_prefix_wildcards(
        owner,
        data_bucket,
        [training.data_prefix],
        "Training reads every image and list file of its channels under the training data "
        "prefix (GetObject only).",
    )
    acknowledge_prefix_wildcards(
        owner,
        artifacts_bucket,
        [MODELS_PREFIX, DATA_CAPTURE_PREFIX],
        "Training writes model.tar.gz under a folder named after the job and the endpoint's "
        "model reads it back; data capture writes time-partitioned files under its prefix.",
    )
    acknowledge_resources(
        owner,
        [f"{_log_group_arn(owner, group)}:*" for group in log_groups],
        "SageMaker writes one log stream per training job or endpoint instance into its "
        "fixed log group.",
    )


def _pass_role(role: iam.IRole) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )


def _log_group_arn(scope: Construct, log_group: str) -> str:
    return str(
        Stack.of(scope).format_arn(
            service="logs",
            resource="log-group",
            resource_name=log_group,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
    )


def _grant_logs_and_metrics(role: iam.Role, log_group: str, metric_namespace: str) -> None:
    """SageMaker jobs and endpoints log and publish metrics with their execution role."""
    group_arn = _log_group_arn(role, log_group)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            resources=[group_arn, f"{group_arn}:*"],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": metric_namespace}},
        )
    )


def _scalable_targets(owner: Construct) -> str:
    """Application Auto Scaling's scalable targets of this account and region: their ids are
    generated by the service (``scalable-target/<id>``), so no narrower ARN exists."""
    return str(
        Stack.of(owner).format_arn(
            service="application-autoscaling", resource="scalable-target", resource_name="*"
        )
    )


#: The service-linked role Application Auto Scaling uses for SageMaker variants (created by
#: the first RegisterScalableTarget of the account, which needs iam:CreateServiceLinkedRole).
SCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
SCALING_ROLE = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"


def _grant_autoscaling(owner: Construct, role: iam.IRole, endpoint_name: str) -> None:
    """What registering the endpoint's scaling needs beyond the two calls: the service-linked
    role's creation (only that role, only for that service), and the target-tracking alarms
    Application Auto Scaling creates in the caller's name (``TargetTracking-<resource id>-*``)."""
    stack = Stack.of(owner)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name=f"aws-service-role/{SCALING_SERVICE}/{SCALING_ROLE}",
                )
            ],
            conditions={"StringEquals": {"iam:AWSServiceName": SCALING_SERVICE}},
        )
    )
    alarms = stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name=f"TargetTracking-endpoint/{endpoint_name}/variant/*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"], resources=[alarms]
        )
    )
    acknowledge_resources(
        owner,
        [_scalable_targets(owner), alarms],
        "Application Auto Scaling names each scalable target with a generated id, and the "
        "target-tracking alarms it creates for the endpoint's variant with a generated suffix; "
        "limited to this account and region (scalable targets) and to this endpoint (alarms).",
    )
