"""Private isolated subnets that reach AWS through VPC endpoints only, and where workloads sit.

:class:`IsolatedNetwork` builds (or imports) the VPC, its endpoints and one security group per
tier; :class:`NetworkPlacement` is what a workload needs from it (subnets, its tier's group, the
VPC id the buckets' data perimeter compares against). A stack that runs workloads attaches the
placement once (:func:`attach_placement`); every :class:`PythonFunction` and SageMaker job built
in that stack then finds it with :func:`placement_of`, so no function can be left outside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Aws, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.building_blocks.encryption import EnvironmentKey
from stacks.building_blocks.retention import log_retention
from stacks.config import NetworkConfig

HTTPS = 443


@dataclass(frozen=True)
class InterfaceEndpoint:
    """One interface endpoint: ``com.amazonaws.<region>.<service>``, and who calls it from the
    VPC (the README's cost table and the closing note read this table)."""

    service: str
    callers: str


#: Every AWS API a workload calls from inside the VPC, as PrivateLink names the service.
#: ``tests/infra/test_network.py`` derives the same set from the boto3 clients of lambda_src
#: (botocore's endpoint prefixes), so a handler calling a new service fails the tests here, not
#: in production. Not here, because nothing calls them from the VPC: KMS (SSE-KMS, encrypted
#: queues, topics and log groups are decrypted by those services themselves), STS (Lambda and
#: SageMaker hand the role's credentials to the code), CloudWatch Logs (Lambda and SageMaker
#: ship stdout themselves), EventBridge (called by S3 from AWS's network), ECR (SageMaker
#: pulls the built-in algorithm's image itself).
INTERFACE_ENDPOINTS: tuple[InterfaceEndpoint, ...] = (
    InterfaceEndpoint("sqs", "Rekognition inference consumer (error records, redrive)"),
    InterfaceEndpoint("sns", "functions that notify (training trigger, notifier)"),
    InterfaceEndpoint("monitoring", "model controller and evaluation (PutMetricData, metrics)"),
    InterfaceEndpoint("states", "training trigger, notifier (StartExecution, execution history)"),
    InterfaceEndpoint("ssm", "inference consumer and controller (model version, capacity)"),
    InterfaceEndpoint("lambda", "model controller (event source MaximumConcurrency)"),
    InterfaceEndpoint("rekognition", "inference consumer and controller (Detect/Start/Stop)"),
    InterfaceEndpoint("sagemaker.runtime", "SageMaker classify function (InvokeEndpoint)"),
    InterfaceEndpoint("sagemaker.api", "relabel collect function (Ground Truth labeling jobs)"),
    InterfaceEndpoint("xray", "every function's X-Ray daemon (active tracing)"),
)

#: Tag that lets a principal reach the buckets from outside the VPC. AWS's data perimeter
#: examples use the same key; only roles that AWS services assume carry it (see README,
#: "Network isolation").
PERIMETER_EXCLUSION_TAG = "dp:exclude:network"


@dataclass(frozen=True)
class NetworkPlacement:
    """Where a workload of an isolated environment runs."""

    vpc: ec2.IVpc
    vpc_id: str
    subnets: tuple[ec2.ISubnet, ...]
    #: Lambda functions.
    functions: ec2.ISecurityGroup
    #: SageMaker training jobs (their instances also talk to each other: distributed training).
    training: ec2.ISecurityGroup
    #: SageMaker models behind the endpoint.
    hosting: ec2.ISecurityGroup

    @property
    def subnet_ids(self) -> list[str]:
        return [subnet.subnet_id for subnet in self.subnets]

    def subnet_selection(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnets=list(self.subnets))


_PLACEMENT_ATTRIBUTE = "_network_placement"


def attach_placement(stack: Stack, placement: NetworkPlacement | None) -> None:
    """Run every workload built in ``stack`` in ``placement`` (``None``: public endpoints)."""
    setattr(stack, _PLACEMENT_ATTRIBUTE, placement)


def placement_of(scope: Construct) -> NetworkPlacement | None:
    """The placement of ``scope``'s stack; ``None`` for public environments and stacks that
    run no workload."""
    placement: NetworkPlacement | None = getattr(Stack.of(scope), _PLACEMENT_ATTRIBUTE, None)
    return placement


def network_interfaces_arn(stack: Stack) -> str:
    """Every network interface of the stack's account and region."""
    return str(stack.format_arn(service="ec2", resource="network-interface", resource_name="*"))


def grant_network_interfaces(
    role: iam.IRole,
    network: NetworkPlacement,
    group: ec2.ISecurityGroup,
    *,
    interface_actions: Sequence[str] = (),
    describe_actions: Sequence[str] = (),
) -> None:
    """What a service does with ``role`` to attach its compute to the VPC: create interfaces
    only in the VPC's subnets with ``group``, manage the interfaces it names at run time, and
    the ``Describe*`` calls that accept no resource. (Lambda: what the AWS managed policy
    AWSLambdaVPCAccessExecutionRole grants, scoped; SageMaker: its documented VPC access.)"""
    stack = Stack.of(role)

    def ec2_arn(resource: str, name: str) -> str:
        return str(stack.format_arn(service="ec2", resource=resource, resource_name=name))

    interfaces = network_interfaces_arn(stack)
    principal = role.grant_principal
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ec2:CreateNetworkInterface"],
            resources=[
                interfaces,
                *(ec2_arn("subnet", subnet_id) for subnet_id in network.subnet_ids),
                ec2_arn("security-group", group.security_group_id),
            ],
        )
    )
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
                *interface_actions,
            ],
            resources=[interfaces],
        )
    )
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", *describe_actions],
            resources=["*"],
        )
    )


class IsolatedNetwork(Construct):
    """The VPC of an isolated environment: created (with its endpoints) or reused.

    Created: private isolated subnets in each configured Availability Zone, no NAT gateway and no
    internet gateway, flow logs of all traffic to an encrypted log group, the S3 gateway endpoint
    on the subnets' route tables and the :data:`INTERFACE_ENDPOINTS` with private DNS, every
    endpoint policy limited to this account's principals (and for S3 this account's buckets).
    ``other_resource_accounts``: accounts whose buckets workloads also read through the S3
    endpoint (a promotion source's artifacts bucket in another account).
    Reused (``vpc_id``): the VPC, its subnets and its endpoints are someone else's; only the
    tiers' security groups are created.

    Each tier's security group allows HTTPS out to the endpoints' security group and the S3
    prefix list, and nothing else; the endpoints accept HTTPS from the tiers only.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: NetworkConfig,
        name_prefix: str,
        log_retention_days: int,
        retain: bool,
        other_resource_accounts: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self._resource_accounts = [Aws.ACCOUNT_ID, *other_resource_accounts]
        if not network.isolated or network.s3_prefix_list_id is None:
            raise ValueError("IsolatedNetwork: the network configuration is not isolated")
        self.vpc: ec2.IVpc
        subnets: Sequence[ec2.ISubnet]
        if network.vpc_id is not None:
            self.vpc = ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=network.vpc_id,
                availability_zones=list(network.availability_zones),
                isolated_subnet_ids=list(network.subnet_ids),
            )
            subnets = self.vpc.isolated_subnets
            assert network.endpoint_security_group_id is not None  # the config checks it
            endpoints = ec2.SecurityGroup.from_security_group_id(
                self, "EndpointsSecurityGroup", network.endpoint_security_group_id, mutable=False
            )
        else:
            vpc = self._create_vpc(network, name_prefix, log_retention_days, retain)
            self.vpc = vpc
            subnets = vpc.isolated_subnets
            endpoints = ec2.SecurityGroup(
                self,
                "EndpointsSecurityGroup",
                vpc=vpc,
                description=f"Interface endpoints of {name_prefix}: HTTPS from the tiers only",
                allow_all_outbound=False,
            )
            self._add_endpoints(vpc, endpoints)
        prefix_list = ec2.Peer.prefix_list(network.s3_prefix_list_id)
        tiers = {}
        for tier, description in (
            ("Functions", "Lambda functions"),
            ("Training", "SageMaker training jobs"),
            ("Hosting", "SageMaker models behind the endpoint"),
        ):
            group = ec2.SecurityGroup(
                self,
                f"{tier}SecurityGroup",
                vpc=self.vpc,
                description=f"{description} of {name_prefix}: HTTPS to the VPC endpoints only",
                allow_all_outbound=False,
            )
            # Separate rule resources (a group object as the peer): inline rules that name
            # each other would make the two groups depend on each other.
            group.connections.allow_to(endpoints, ec2.Port.tcp(HTTPS), description)
            group.add_egress_rule(prefix_list, ec2.Port.tcp(HTTPS), "S3 gateway endpoint")
            tiers[tier] = group
        # Distributed training: SageMaker's instances of one job talk to each other (encrypted,
        # EnableInterContainerTrafficEncryption); nothing else reaches them.
        training = tiers["Training"]
        training.connections.allow_internally(
            ec2.Port.all_traffic(), "Instances of one training job"
        )
        Validations.of(training).acknowledge(
            Acknowledgment(
                id="NIST.800.53.R5-EC2RestrictedCommonPorts",
                reason="The only inbound rule's source is this security group itself: the "
                "instances of one training job exchange (encrypted) traffic, nothing else "
                "reaches them.",
            )
        )
        self.placement = NetworkPlacement(
            vpc=self.vpc,
            vpc_id=self.vpc.vpc_id,
            subnets=tuple(subnets),
            functions=tiers["Functions"],
            training=training,
            hosting=tiers["Hosting"],
        )

    def _create_vpc(
        self, network: NetworkConfig, name_prefix: str, log_retention_days: int, retain: bool
    ) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.80.0.0/20"),
            availability_zones=list(network.availability_zones),
            nat_gateways=0,
            create_internet_gateway=False,
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
        )
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        vpc.apply_removal_policy(removal)
        # Its own key: the environment key lives in the Storage stack, whose bucket policies
        # need this VPC's id (a key from there would make the two stacks depend on each other).
        key = EnvironmentKey(
            self, "FlowLogsKey", alias=f"alias/{name_prefix}-network", retain=retain
        )
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=key.key,
            retention=log_retention(log_retention_days),
            removal_policy=removal,
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        Validations.of(vpc).acknowledge(
            Acknowledgment(
                id="NIST.800.53.R5-IAMNoInlinePolicy",
                reason="The flow log's delivery role gets one policy generated from its exact "
                "grant (write to its log group); an inline policy lives and dies with the role.",
            ),
            Acknowledgment(
                id="NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
                reason="Nothing is attached to the default security group: every function, job, "
                "model and endpoint gets one of the tiers' groups. Closing it needs CDK's "
                "custom-resource Lambda, itself outside any VPC and with a managed policy.",
            ),
        )
        return vpc

    def _add_endpoints(self, vpc: ec2.Vpc, security_group: ec2.SecurityGroup) -> None:
        account_only = {"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}}
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        s3 = vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[isolated]
        )
        s3.add_to_policy(
            iam.PolicyStatement(
                sid="ThisAccountsPrincipalsAndBuckets",
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "aws:PrincipalAccount": Aws.ACCOUNT_ID,
                        # This account's buckets, and a promotion source's in another account.
                        "aws:ResourceAccount": (
                            self._resource_accounts
                            if len(self._resource_accounts) > 1
                            else Aws.ACCOUNT_ID
                        ),
                    }
                },
            )
        )
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for endpoint in INTERFACE_ENDPOINTS:
            construct_id = "".join(part.capitalize() for part in endpoint.service.split("."))
            interface = vpc.add_interface_endpoint(
                construct_id,
                service=ec2.InterfaceVpcEndpointAwsService(endpoint.service),
                private_dns_enabled=True,
                open=False,
                security_groups=[security_group],
                subnets=isolated,
            )
            interface.add_to_policy(
                iam.PolicyStatement(
                    sid="ThisAccountsPrincipals",
                    principals=[iam.AnyPrincipal()],
                    actions=["*"],
                    resources=["*"],
                    conditions=account_only,
                )
            )
            self.interface_endpoints[endpoint.service] = interface
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Endpoint policies name no resource: they limit who may use the "
                "endpoint (this account's principals), the services' own policies the rest.",
            )
        )
