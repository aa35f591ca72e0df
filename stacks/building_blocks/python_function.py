"""The one way this app builds a Lambda function."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks import LAMBDA_SOURCE
from stacks.building_blocks.alarms import AlarmScope, kebab
from stacks.building_blocks.iam import acknowledge_resources
from stacks.building_blocks.network import (
    grant_network_interfaces,
    network_interfaces_arn,
    placement_of,
)
from stacks.building_blocks.queue import DeadLetterQueue
from stacks.building_blocks.retention import log_retention
from stacks.config import EnvironmentConfig

#: The latest Python runtime this CDK version knows; the Powertools layer is chosen to match it.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
POWERTOOLS_ACCOUNT = "017000801446"

#: Everything in lambda_src that is not runtime code; excluded so the asset hash is reproducible.
ASSET_EXCLUDES = [
    "**/__pycache__",
    "**/*.pyc",
    "**/.*",
    "**/tests",
    "**/test_*.py",
    "**/*.md",
]


class Invocation(enum.Enum):
    """How a function is invoked; decides where its failures go."""

    #: Step Functions, CloudWatch custom widgets, the CLI: errors return to the caller.
    SYNCHRONOUS = "synchronous"
    #: An SQS event source mapping: failed messages return to the queue and reach its DLQ.
    EVENT_SOURCE = "event_source"
    #: S3, EventBridge, SNS: Lambda retries, then sends the event to the dead-letter queue.
    ASYNCHRONOUS = "asynchronous"


def powertools_layer_arn(stack: Stack, layer_version: int) -> str:
    """The public Powertools for AWS Lambda (Python) v3 layer for this stack's region."""
    python = RUNTIME.name.replace(".", "")  # python3.14 -> python314
    return (
        f"arn:{stack.partition}:lambda:{stack.region}:{POWERTOOLS_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-arm64:{layer_version}"
    )


@dataclass(frozen=True)
class FunctionDefaults:
    """What every function of one environment shares (keyword arguments of `PythonFunction`)."""

    encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    powertools_layer_version: int
    metrics_namespace: str
    retain_logs: bool

    @classmethod
    def of(cls, config: EnvironmentConfig, encryption_key: kms.IKey) -> FunctionDefaults:
        return cls(
            encryption_key=encryption_key,
            log_retention=log_retention(config.log_retention_days),
            powertools_layer_version=config.powertools_layer_version,
            metrics_namespace=config.metrics_namespace,
            retain_logs=config.retain_data,
        )

    def kwargs(self) -> dict[str, Any]:
        """``PythonFunction(..., **defaults.kwargs())``."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


class PythonFunction(Construct):
    """A Python Lambda function with its own role, log group and the house defaults.

    Latest runtime on arm64, code from ``lambda_src`` (shared modules included), the Powertools
    layer, X-Ray active tracing, JSON logs into a KMS-encrypted log group with retention, an
    explicit memory size and timeout, and a role with no AWS managed policy: the caller grants
    exactly what the handler uses. Asynchronously invoked functions get an encrypted
    dead-letter queue whose first message raises an alarm in ``alarms``.

    In an isolated environment (a stack with a :class:`NetworkPlacement`) the function runs in
    the private subnets with the functions' security group; its role may manage only the network
    interfaces Lambda creates for it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        memory_size: int,
        timeout: Duration,
        invocation: Invocation,
        encryption_key: kms.IKey,
        log_retention: logs.RetentionDays,
        powertools_layer_version: int,
        service_name: str,
        metrics_namespace: str,
        environment: Mapping[str, str] | None = None,
        retain_logs: bool = False,
        reserved_concurrency: int | None = None,
        alarms: AlarmScope | None = None,
        source: Path = LAMBDA_SOURCE,
        role_name: str | None = None,
    ) -> None:
        """``role_name``: a fixed name, for a role another account's resource policy names
        (otherwise CloudFormation generates one)."""
        super().__init__(scope, construct_id)
        _validate(construct_id, source, handler, memory_size, timeout, reserved_concurrency)
        self.description = description
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=encryption_key,
            retention=log_retention,
            removal_policy=RemovalPolicy.RETAIN if retain_logs else RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {construct_id}: {description}"[:1000],
            role_name=role_name,
        )
        self.log_group.grant_write(self.role)
        self.network = placement_of(self)
        if self.network is not None:
            grant_network_interfaces(self.role, self.network, self.network.functions)
        self.dead_letter: DeadLetterQueue | None = None
        if invocation is Invocation.ASYNCHRONOUS:
            if alarms is None:
                raise ValueError(
                    f"PythonFunction {construct_id}: an asynchronously invoked function needs "
                    "alarms (the scope of its dead-letter queue's alarm)"
                )
            self.dead_letter = DeadLetterQueue(
                self,
                "DeadLetter",
                encryption_key=encryption_key,
                alarms=alarms,
                what=f"{kebab(construct_id)}-dead-letter",
                source_description=f"Function {construct_id}, after Lambda's own retries,",
            )
            # Lambda sends a failed asynchronous event to the DLQ with the function's own role:
            # an encrypted queue needs the key too, or the event is lost (Lambda Developer Guide,
            # "Dead-letter queues"; SQS needs GenerateDataKey and Decrypt to send under SSE-KMS).
            encryption_key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=lambda_.Code.from_asset(str(source), exclude=ASSET_EXCLUDES),
            description=description,
            memory_size=memory_size,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self,
                    "Powertools",
                    powertools_layer_arn(stack, powertools_layer_version),
                )
            ],
            environment={
                "POWERTOOLS_SERVICE_NAME": service_name,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
                **(environment or {}),
            },
            environment_encryption=encryption_key,
            dead_letter_queue=self.dead_letter.queue if self.dead_letter else None,
            reserved_concurrent_executions=reserved_concurrency,
            vpc=self.network.vpc if self.network else None,
            vpc_subnets=self.network.subnet_selection() if self.network else None,
            security_groups=[self.network.functions] if self.network else None,
        )
        self._acknowledge(invocation, reserved_concurrency)

    def add_policy(
        self,
        policy_id: str,
        *,
        statements: Sequence[iam.PolicyStatement],
        acknowledgements: Sequence[tuple[str, str]] = (),
    ) -> iam.Policy:
        """Attach a policy of exact statements to this function's role, owned by this function.

        For grants that need their own cdk-nag acknowledgements (say a prefix wildcard, or an API
        without resource-level permissions): ``acknowledgements`` are ``(rule id, reason)`` pairs
        placed on this policy only, so each reason sits next to the statements it explains.
        """
        if not statements:
            raise ValueError(f"PythonFunction {self.node.id}: add_policy needs statements")
        policy = iam.Policy(self, policy_id, roles=[self.role], statements=list(statements))
        for rule, reason in acknowledgements:
            Validations.of(policy).acknowledge(Acknowledgment(id=rule, reason=reason))
        return policy

    def _acknowledge(self, invocation: Invocation, reserved_concurrency: int | None) -> None:
        validations = Validations.of(self)
        acknowledgements = [
            (
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments/PutTelemetryRecords (and in a VPC "
                "ec2:DescribeNetworkInterfaces/DescribeSubnets) support no resource-level "
                "permissions; '*' is the only resource they accept.",
            ),
            (
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "Each function has its own role whose policy is generated from exact grants; an "
                "inline policy lives and dies with that role, a managed one would outlive it.",
            ),
        ]
        if self.network is None:
            acknowledgements.append(
                (
                    "NIST.800.53.R5-LambdaInsideVPC",
                    "This environment's network mode is public (chosen in cdk.json, e.g. for "
                    "dev: no VPC endpoint cost). Its functions call AWS's public endpoints over "
                    "TLS with IAM authentication and hold no network-reachable resource; "
                    "network.mode isolated places them in private subnets behind VPC endpoints.",
                )
            )
        else:
            acknowledge_resources(
                self,
                [network_interfaces_arn(Stack.of(self))],
                "Lambda names the interfaces it creates for the function at run time; the role "
                "may create them only in the VPC's subnets with the functions' security group.",
            )
        if reserved_concurrency is None:
            acknowledgements.append(
                (
                    "NIST.800.53.R5-LambdaConcurrency",
                    "Concurrency is bounded where load enters (SQS MaximumConcurrency, Step "
                    "Functions Map concurrency); reserving it per function would starve new "
                    "accounts whose regional limit is 10.",
                )
            )
        if invocation is not Invocation.ASYNCHRONOUS:
            reason = (
                "Invoked synchronously: errors return to the caller (Step Functions retries "
                "and catches them), so a Lambda DLQ would never receive anything."
                if invocation is Invocation.SYNCHRONOUS
                else "Invoked by an SQS event source: failed messages return to the source "
                "queue and reach its dead-letter queue, which is alarmed."
            )
            acknowledgements += [
                ("NIST.800.53.R5-LambdaDLQ", reason),
                ("Serverless-LambdaDLQ", reason),
            ]
        for rule, reason in acknowledgements:
            validations.acknowledge(Acknowledgment(id=rule, reason=reason))


def _validate(
    construct_id: str,
    source: Path,
    handler: str,
    memory_size: int,
    timeout: Duration,
    reserved_concurrency: int | None,
) -> None:
    module, _, function = handler.rpartition(".")
    if not module or not function:
        raise ValueError(f"PythonFunction {construct_id}: handler must be 'module.function'")
    module_path = source / (module.replace(".", "/") + ".py")
    if not module_path.is_file():
        raise ValueError(
            f"PythonFunction {construct_id}: handler module {module!r} not found in {source}"
        )
    if not 128 <= memory_size <= 10240:
        raise ValueError(f"PythonFunction {construct_id}: memory_size must be 128..10240 MB")
    if not 1 <= timeout.to_seconds() <= 900:
        raise ValueError(f"PythonFunction {construct_id}: timeout must be 1..900 seconds")
    if reserved_concurrency is not None and reserved_concurrency < 1:
        raise ValueError(f"PythonFunction {construct_id}: reserved_concurrency must be >= 1")
