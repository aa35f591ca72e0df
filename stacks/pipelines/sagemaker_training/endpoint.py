"""The endpoint: what each of its statuses means, how it is looked up, how a deployment is awaited.

``ENDPOINT_STATUSES`` classifies every EndpointStatus once (a unit test compares it with
botocore's enum); the ``EndpointReady?`` Choice after each DescribeEndpoint is built from it.
``FindEndpoint`` asks for the exact name (a missing endpoint is an expected answer, told apart
from throttling by its message and retried a bounded number of times); the wait polls until the
endpoint is InService with the requested configuration, and tells a rolled-back update and
every failed status apart, adding SageMaker's ``FailureReason`` to the cause.

The builders are steps of :func:`~stacks.pipelines.sagemaker_training.definition._deploy`, called
in the order the states were always created.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.building_blocks.sagemaker_tasks import (
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    UpdateEndpoint,
)
from stacks.building_blocks.state_machine import ERROR_PATH, TaskGuard
from stacks.config import SageMakerEndpointConfig
from stacks.endpoint_scaling import (
    SCALABLE_DIMENSION,
    SCALING_METRIC,
    SCALING_NAMESPACE,
    scaling_policy_name,
    scaling_resource_id,
)
from stacks.endpoint_scaling import (
    VARIANT_NAME as VARIANT_NAME,
)
from stacks.pipelines.sagemaker_training.calls import (
    SAGEMAKER_SDK_TRANSIENT_ERRORS,
    UNMODELLED_SAGEMAKER_ERROR,
)

#: Endpoint creation or update usually takes 5-10 minutes; the poll gives up after 45.
ENDPOINT_POLL_INTERVAL = Duration.seconds(60)
ENDPOINT_MAX_POLLS = 45


class EndpointPhase(enum.Enum):
    """Where a deployment stands when DescribeEndpoint reports a status."""

    #: InService: deployed, if it serves the requested configuration (else it rolled back).
    DONE = "done"
    #: SageMaker is still working: poll again (bounded by ENDPOINT_MAX_POLLS).
    WORKING = "working"
    #: The deployment cannot succeed any more: fail at once with the status's error name.
    FAILED = "failed"


@dataclass(frozen=True)
class EndpointStatusMeaning:
    phase: EndpointPhase
    #: The workflow's error name for a FAILED status.
    error: str | None = None
    #: What the status means for the operator, in the failure's cause.
    explanation: str = ""


ENDPOINT_IN_SERVICE = "InService"
#: InService, but not with the requested configuration (or with a new FailureReason).
ENDPOINT_ROLLED_BACK = "EndpointUpdateRolledBack"
#: Every EndpointStatus of botocore's SageMaker model, classified once (a unit test compares
#: this table with botocore's enum). The Choice after each DescribeEndpoint is built from it.
ENDPOINT_STATUSES: dict[str, EndpointStatusMeaning] = {
    ENDPOINT_IN_SERVICE: EndpointStatusMeaning(EndpointPhase.DONE),
    "Creating": EndpointStatusMeaning(EndpointPhase.WORKING),
    "Updating": EndpointStatusMeaning(EndpointPhase.WORKING),
    # Maintenance by SageMaker; it ends in InService.
    "SystemUpdating": EndpointStatusMeaning(EndpointPhase.WORKING),
    # A failed scaling or weight change rolling back; it ends in InService.
    "RollingBack": EndpointStatusMeaning(EndpointPhase.WORKING),
    "Failed": EndpointStatusMeaning(
        EndpointPhase.FAILED,
        "EndpointFailed",
        "it could not be created or updated. DeleteEndpoint is the only operation a Failed "
        "endpoint accepts: delete it and run the workflow again.",
    ),
    "UpdateRollbackFailed": EndpointStatusMeaning(
        EndpointPhase.FAILED,
        "EndpointUpdateRollbackFailed",
        "the update failed and so did the rollback to the previous configuration, so the "
        "endpoint may serve neither. Fix the cause, then update or delete the endpoint.",
    ),
    "OutOfService": EndpointStatusMeaning(
        EndpointPhase.FAILED,
        "EndpointOutOfService",
        "it is not available to take requests.",
    ),
    "Deleting": EndpointStatusMeaning(
        EndpointPhase.FAILED,
        "EndpointDeleted",
        "someone deleted it while it was being deployed.",
    ),
}
#: What DescribeEndpoint answers (ValidationException) for an endpoint that does not exist.
ENDPOINT_NOT_FOUND_MESSAGE = "Could not find endpoint"
#: Lookups of the endpoint before another SageMakerException (throttling) fails the run.
ENDPOINT_LOOKUP_ATTEMPTS = 5
ENDPOINT_LOOKUP_INTERVAL = Duration.seconds(10)


@dataclass(frozen=True)
class _EndpointTasks:
    """The two DescribeEndpoint calls: the lookup before deploying, the poll after."""

    find_endpoint: tasks.CallAwsService
    describe: tasks.CallAwsService


def _endpoint_tasks(
    states: Construct, endpoint_name: str, endpoint_arn: str, timeout: sfn.Timeout
) -> _EndpointTasks:
    """``FindEndpoint`` and ``DescribeEndpoint``, created before any Task is guarded."""
    # The endpoint by its exact name: DescribeEndpoint answers for that one endpoint, where
    # ListEndpoints pages (10 a page, newest first) through every name that contains it.
    find_endpoint = tasks.CallAwsService(
        states,
        "FindEndpoint",
        service="sagemaker",
        action="describeEndpoint",
        parameters={"EndpointName": endpoint_name},
        iam_resources=[endpoint_arn],
        iam_action="sagemaker:DescribeEndpoint",
        result_selector={
            "status.$": "$.EndpointStatus",
            # [] or [reason]: FailureReason is optional, and only an indefinite path may
            # match nothing. The reason it had before tells a stale reason from a new one.
            "failure_reasons.$": "$..FailureReason",
        },
        result_path="$.existing",
        task_timeout=timeout,
    )
    describe = tasks.CallAwsService(
        states,
        "DescribeEndpoint",
        service="sagemaker",
        action="describeEndpoint",
        parameters={"EndpointName": endpoint_name},
        iam_resources=[endpoint_arn],
        iam_action="sagemaker:DescribeEndpoint",
        result_selector={
            "status.$": "$.EndpointStatus",
            "config.$": "$.EndpointConfigName",
            "failure_reasons.$": "$..FailureReason",
        },
        result_path="$.endpoint",
        task_timeout=timeout,
    )
    return _EndpointTasks(find_endpoint=find_endpoint, describe=describe)


@dataclass(frozen=True)
class _Lookup:
    """The states around ``FindEndpoint``: its bounded retries and what its answer leads to."""

    lookup_failed: sfn.Pass
    endpoint_missing: sfn.Choice
    init_lookups: sfn.Pass
    count_lookups: sfn.Pass
    not_updatable: sfn.Pass


def _endpoint_lookup(
    states: Construct, guard: TaskGuard, endpoint_name: str, endpoint: _EndpointTasks
) -> _Lookup:
    """Guards both calls, bounds the lookup's retries, and refuses an endpoint not InService."""
    find_endpoint, describe = endpoint.find_endpoint, endpoint.describe
    # A missing endpoint is an expected answer: SageMaker models no error for it, so it
    # arrives as the unmodelled SageMaker.SageMakerException ("ValidationException: Could
    # not find endpoint ..."), the name throttling and service errors share. So the lookup
    # is not retried by name (a missing endpoint would be looked up again and again): any
    # other error of that name is tried again a bounded number of times, then fails.
    lookup_failed = guard.fail(
        states,
        "EndpointLookupFailed",
        error=sfn.JsonPath.string_at("$.lookup.Error"),
        cause=sfn.JsonPath.string_at("$.lookup.Cause"),
    )
    endpoint_missing = sfn.Choice(states, "EndpointMissing?")
    find_endpoint.add_catch(
        endpoint_missing, errors=[UNMODELLED_SAGEMAKER_ERROR], result_path="$.lookup"
    )
    guard(find_endpoint, transient_errors=("States.Timeout",))
    guard(describe, transient_errors=SAGEMAKER_SDK_TRANSIENT_ERRORS)
    init_lookups = sfn.Pass(
        states, "InitEndpointLookups", parameters={"count": 1}, result_path="$.lookups"
    )
    count_lookups = sfn.Pass(
        states,
        "CountEndpointLookups",
        parameters={"count.$": "States.MathAdd($.lookups.count, 1)"},
        result_path="$.lookups",
    )
    count_lookups.next(
        sfn.Wait(states, "WaitEndpointLookup", time=sfn.WaitTime.duration(ENDPOINT_LOOKUP_INTERVAL))
    ).next(find_endpoint)

    not_updatable = guard.fail(
        states,
        "EndpointBusy",
        error="EndpointNotUpdatable",
        cause=sfn.JsonPath.format(
            "Endpoint " + endpoint_name + " is {}, so model {} was not deployed (an "
            "update needs InService; delete a Failed endpoint first). The model and its "
            "endpoint configuration {} exist and can be deployed by running again.",
            sfn.JsonPath.string_at("$.existing.status"),
            sfn.JsonPath.string_at("$.job.name"),
            sfn.JsonPath.string_at("$.job.name"),
        ),
    )
    return _Lookup(
        lookup_failed=lookup_failed,
        endpoint_missing=endpoint_missing,
        init_lookups=init_lookups,
        count_lookups=count_lookups,
        not_updatable=not_updatable,
    )


@dataclass(frozen=True)
class _DeploymentFailures:
    """Every way the wait ends badly but for the deadline: each records its error and cause."""

    rolled_back: sfn.Chain
    failed_statuses: dict[str, sfn.Chain]
    too_slow: sfn.Pass


def _deployment_failures(
    states: Construct, guard: TaskGuard, endpoint_name: str
) -> _DeploymentFailures:
    """A rolled-back update, each failed status, and the deadline, with SageMaker's reason."""
    # Every way a deployment ends badly records its error and cause, then adds the
    # service's FailureReason when SageMaker gave one, and takes the notify-then-fail path.
    failure_reason = sfn.Pass(
        states,
        "AddFailureReason",
        parameters={
            "Error.$": f"{ERROR_PATH}.Error",
            "Cause.$": "States.Format('{} FailureReason: {}', "
            f"{ERROR_PATH}.Cause, $.endpoint.failure_reasons[0])",
        },
        result_path=ERROR_PATH,
    ).next(guard.failure_handler)
    reason_given = (
        sfn.Choice(states, "FailureReasonGiven?")
        .when(sfn.Condition.is_present("$.endpoint.failure_reasons[0]"), failure_reason)
        .otherwise(guard.failure_handler)
    )
    rolled_back = sfn.Pass(
        states,
        "EndpointRolledBack",
        parameters={
            "Error": ENDPOINT_ROLLED_BACK,
            "Cause": sfn.JsonPath.format(
                "Endpoint " + endpoint_name + " did not take endpoint configuration {}: "
                "the deployment failed and SageMaker rolled it back, so the endpoint is "
                "InService with {} (the model it served before). Model and endpoint "
                "configuration {} are kept.",
                sfn.JsonPath.string_at("$.job.name"),
                sfn.JsonPath.string_at("$.endpoint.config"),
                sfn.JsonPath.string_at("$.job.name"),
            ),
        },
        result_path=ERROR_PATH,
    ).next(reason_given)
    failed_statuses = {
        status: sfn.Pass(
            states,
            f"Endpoint{status}",
            parameters={
                "Error": meaning.error,
                "Cause": sfn.JsonPath.format(
                    "Endpoint "
                    + endpoint_name
                    + " is "
                    + status
                    + " after deploying endpoint configuration {}: "
                    + meaning.explanation,
                    sfn.JsonPath.string_at("$.job.name"),
                ),
            },
            result_path=ERROR_PATH,
        ).next(reason_given)
        for status, meaning in ENDPOINT_STATUSES.items()
        if meaning.phase is EndpointPhase.FAILED
    }
    too_slow = guard.fail(
        states,
        "EndpointTooSlow",
        error="EndpointNotInService",
        cause=sfn.JsonPath.format(
            "Endpoint "
            + endpoint_name
            + " did not become InService with {} within "
            + str(ENDPOINT_MAX_POLLS * int(ENDPOINT_POLL_INTERVAL.to_seconds()) // 60)
            + " minutes (last status {}).",
            sfn.JsonPath.string_at("$.job.name"),
            sfn.JsonPath.string_at("$.endpoint.status"),
        ),
    )
    return _DeploymentFailures(
        rolled_back=rolled_back, failed_statuses=failed_statuses, too_slow=too_slow
    )


def _wait_until_deployed(
    states: Construct,
    endpoint: _EndpointTasks,
    failures: _DeploymentFailures,
    notify: sfn.IChainable,
) -> sfn.Pass:
    """The bounded poll of DescribeEndpoint after CreateEndpoint or UpdateEndpoint."""
    describe = endpoint.describe
    rolled_back, failed_statuses = failures.rolled_back, failures.failed_statuses
    too_slow = failures.too_slow
    init_polls = sfn.Pass(
        states, "InitEndpointPolls", parameters={"count": 0}, result_path="$.polls"
    )
    wait = sfn.Wait(states, "WaitForEndpoint", time=sfn.WaitTime.duration(ENDPOINT_POLL_INTERVAL))
    count = sfn.Pass(
        states,
        "CountEndpointPolls",
        parameters={"count.$": "States.MathAdd($.polls.count, 1)"},
        result_path="$.polls",
    )
    in_service = sfn.Condition.string_equals("$.endpoint.status", ENDPOINT_IN_SERVICE)
    # Deployed: InService with the configuration just requested, and no FailureReason
    # other than the one the endpoint already had before this deployment.
    deployed = sfn.Condition.and_(
        in_service,
        sfn.Condition.string_equals_json_path("$.endpoint.config", "$.job.name"),
        sfn.Condition.or_(
            sfn.Condition.is_not_present("$.endpoint.failure_reasons[0]"),
            sfn.Condition.and_(
                sfn.Condition.is_present("$.existing.failure_reasons[0]"),
                sfn.Condition.string_equals_json_path(
                    "$.endpoint.failure_reasons[0]", "$.existing.failure_reasons[0]"
                ),
            ),
        ),
    )
    ready = (
        sfn.Choice(states, "EndpointReady?")
        .when(deployed, notify)
        # InService otherwise: SageMaker rolled a failed update back to the old configuration.
        .when(in_service, rolled_back)
    )
    for status, record in failed_statuses.items():
        ready.when(sfn.Condition.string_equals("$.endpoint.status", status), record)
    # Still working (and any status newer than this table): poll again, within the bound.
    ready.when(
        sfn.Condition.number_greater_than_equals("$.polls.count", ENDPOINT_MAX_POLLS),
        too_slow,
    ).otherwise(wait)
    init_polls.next(wait).next(describe).next(count).next(ready)
    return init_polls


def _connect(
    states: Construct,
    endpoint: _EndpointTasks,
    lookup: _Lookup,
    init_polls: sfn.Pass,
    *,
    create_model: CreateModel,
    create_config: CreateEndpointConfig,
    create_endpoint: CreateEndpoint,
    update_endpoint: UpdateEndpoint,
) -> None:
    """The deployment through the lookup: create the endpoint or update it, then wait."""
    find_endpoint = endpoint.find_endpoint
    endpoint_missing, lookup_failed = lookup.endpoint_missing, lookup.lookup_failed
    count_lookups, init_lookups = lookup.count_lookups, lookup.init_lookups
    not_updatable = lookup.not_updatable
    create_endpoint.next(init_polls)
    update_endpoint.next(init_polls)
    endpoint_missing.when(
        sfn.Condition.string_matches("$.lookup.Cause", f"*{ENDPOINT_NOT_FOUND_MESSAGE}*"),
        create_endpoint,
    ).when(
        sfn.Condition.number_greater_than_equals("$.lookups.count", ENDPOINT_LOOKUP_ATTEMPTS),
        lookup_failed,
    ).otherwise(count_lookups)
    create_model.next(create_config).next(init_lookups).next(find_endpoint).next(
        sfn.Choice(states, "EndpointUpdatable?")
        .when(
            sfn.Condition.string_equals("$.existing.status", ENDPOINT_IN_SERVICE),
            update_endpoint,
        )
        .otherwise(not_updatable)
    )


#: How long SageMaker may take over one deployment before it rolls back by itself: the deploy
#: workflow's own wait (ENDPOINT_MAX_POLLS polls), so both give up together.
DEPLOYMENT_TIMEOUT_SECONDS = ENDPOINT_MAX_POLLS * int(ENDPOINT_POLL_INTERVAL.to_seconds())


def _deployment_config(
    endpoint: SageMakerEndpointConfig, rollback_alarms: Sequence[str]
) -> dict[str, Any]:
    """UpdateEndpoint's ``DeploymentConfig`` (deployment guardrails): a blue/green update that
    shifts traffic all at once, as a canary or linearly (``endpoint.deployment``), bakes each
    step while ``rollback_alarms`` are watched, keeps the old fleet for the termination wait,
    and rolls back by itself if an alarm fires. Empty for a serverless endpoint (SageMaker
    updates it all at once; the config refuses traffic shifting there)."""
    if endpoint.serverless_mode:
        return {}
    deployment = endpoint.deployment
    routing: dict[str, Any] = {
        "Type": deployment.traffic_routing.upper(),
        "WaitIntervalInSeconds": deployment.wait_minutes * 60,
    }
    if deployment.traffic_routing == "canary":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": deployment.canary_percent}
    elif deployment.traffic_routing == "linear":
        routing["LinearStepSize"] = {
            "Type": "CAPACITY_PERCENT",
            "Value": deployment.linear_step_percent,
        }
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": deployment.termination_wait_minutes * 60,
            "MaximumExecutionTimeoutInSeconds": DEPLOYMENT_TIMEOUT_SECONDS,
        }
    }
    if rollback_alarms:
        config["AutoRollbackConfiguration"] = {
            "Alarms": [{"AlarmName": name} for name in rollback_alarms]
        }
    return {"DeploymentConfig": config}


def _serverless_variants(endpoint: SageMakerEndpointConfig, model_name: str) -> dict[str, Any]:
    """CreateEndpointConfig's ``ProductionVariants`` for a serverless endpoint (CDK's
    ProductionVariant has no ServerlessConfig); empty for a provisioned one."""
    serverless = endpoint.serverless
    if not endpoint.serverless_mode or serverless is None:
        return {}
    config: dict[str, Any] = {
        "MemorySizeInMB": serverless.memory_mb,
        "MaxConcurrency": serverless.max_concurrency,
    }
    if serverless.provisioned_concurrency:
        config["ProvisionedConcurrency"] = serverless.provisioned_concurrency
    return {
        "ProductionVariants": [
            {"VariantName": VARIANT_NAME, "ModelName.$": model_name, "ServerlessConfig": config}
        ]
    }


#: Application Auto Scaling errors worth another attempt (its throttling is unmodelled and
#: arrives as the service's catch-all).
SCALING_TRANSIENT_ERRORS: tuple[str, ...] = (
    "ApplicationAutoScaling.ConcurrentUpdateException",
    "ApplicationAutoScaling.InternalServiceException",
    "ApplicationAutoScaling.ApplicationAutoScalingException",
)


def _retained_variant_properties(endpoint: SageMakerEndpointConfig) -> dict[str, Any]:
    """With autoscaling, an update keeps the instance count the scaling reached (the new
    configuration's InitialInstanceCount would reset it), but takes its data capture."""
    if endpoint.autoscaling is None:
        return {}
    return {
        "RetainAllVariantProperties": True,
        "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DataCaptureConfig"}],
    }


def _autoscaling_steps(
    states: Construct,
    guard: TaskGuard,
    *,
    endpoint_name: str,
    endpoint: SageMakerEndpointConfig,
    scalable_target_arn: str,
    then: sfn.IChainable,
) -> sfn.IChainable:
    """``RegisterScalableTarget`` -> ``PutScalingPolicy`` -> ``then`` once the endpoint is
    InService with the new configuration; ``then`` alone without ``endpoint.autoscaling``.

    Both calls are idempotent (registering again updates the bounds, putting the policy again
    replaces it), so every deployment leaves the configured scaling in place. The endpoint is
    not a CloudFormation resource, so neither is its scaling: ``python -m ops teardown``
    removes both before deleting the endpoint.
    """
    scaling = endpoint.autoscaling
    if scaling is None:
        return then
    target = {
        "ServiceNamespace": SCALING_NAMESPACE,
        "ResourceId": scaling_resource_id(endpoint_name),
        "ScalableDimension": SCALABLE_DIMENSION,
    }
    timeout = sfn.Timeout.duration(Duration.seconds(30))
    register = tasks.CallAwsService(
        states,
        "RegisterScalableTarget",
        service="applicationautoscaling",
        action="registerScalableTarget",
        parameters={
            **target,
            "MinCapacity": scaling.min_instances,
            "MaxCapacity": scaling.max_instances,
        },
        iam_resources=[scalable_target_arn],
        iam_action="application-autoscaling:RegisterScalableTarget",
        result_path=sfn.JsonPath.DISCARD,
        task_timeout=timeout,
    )
    policy = tasks.CallAwsService(
        states,
        "PutScalingPolicy",
        service="applicationautoscaling",
        action="putScalingPolicy",
        parameters={
            **target,
            "PolicyName": scaling_policy_name(endpoint_name),
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": scaling.target_invocations_per_instance,
                "PredefinedMetricSpecification": {"PredefinedMetricType": SCALING_METRIC},
                "ScaleInCooldown": scaling.scale_in_cooldown_seconds,
                "ScaleOutCooldown": scaling.scale_out_cooldown_seconds,
            },
        },
        iam_resources=[scalable_target_arn],
        iam_action="application-autoscaling:PutScalingPolicy",
        result_selector={"policy_arn.$": "$.PolicyARN"},
        result_path="$.scaling",
        task_timeout=timeout,
    )
    for task in (register, policy):
        guard(task, transient_errors=SCALING_TRANSIENT_ERRORS)
    register.next(policy).next(then)
    return register
