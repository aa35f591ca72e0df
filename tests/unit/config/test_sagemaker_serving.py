"""The endpoint's serving settings: mode, serverless limits and refusals, guardrails, capacity.

DeploymentConfig and ServerlessConfig are checked against botocore's SageMaker model (the
request shapes, their required members, enums and numeric bounds), not against our own copy.
"""

from __future__ import annotations

import botocore.session
import pytest
from botocore.validate import ParamValidator

from stacks.config import ConfigError, load_environment
from stacks.pipelines.sagemaker_training.endpoint import (
    DEPLOYMENT_TIMEOUT_SECONDS,
    _deployment_config,
    _serverless_variants,
)

ENDPOINT = "environments.dev.sagemaker.endpoint"
SERVERLESS = {"memory_mb": 2048, "max_concurrency": 8, "provisioned_concurrency": None}


def endpoint(context, **settings):
    context["defaults"]["sagemaker"]["endpoint"].update(settings)
    return context


def serverless(context, **settings):
    """Every environment serverless (prod's own endpoint settings dropped: every environment is
    validated together)."""
    context["environments"]["prod"].pop("sagemaker", None)
    chosen = {
        "mode": "serverless",
        "data_capture_percentage": 0,
        **settings,
        "serverless": {**SERVERLESS, **settings.get("serverless", {})},
    }
    return endpoint(context, **chosen)


def refusal(context) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        load_environment(context, "dev")
    return raised.value


def request_errors(operation: str, params: dict) -> str:
    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
    return report.generate_report()


def test_the_batch_concurrency_follows_the_endpoint_capacity(cdk_context):
    dev = load_environment(cdk_context, "dev").sagemaker
    prod = load_environment(cdk_context, "prod").sagemaker
    assert dev.endpoint.capacity == 1 * 4
    assert dev.batch_max_concurrency == 1  # 4 calls in flight per batch
    # prod scales up to 4 instances: the batch may keep all of them busy.
    assert prod.endpoint.capacity == 4 * 4
    assert prod.batch_max_concurrency == 4


def test_a_serverless_endpoint_is_sized_by_its_max_concurrency(context_copy):
    config = load_environment(serverless(context_copy, serverless={"max_concurrency": 12}), "dev")
    assert config.sagemaker.endpoint.capacity == 12
    assert config.sagemaker.batch_max_concurrency == 3


@pytest.mark.parametrize(
    ("settings", "key", "reason"),
    [
        ({"data_capture_percentage": 20}, "data_capture_percentage", "do not support data capture"),
        (
            {"autoscaling": {"min_instances": 1}},
            "autoscaling",
            "a serverless endpoint has no instances to scale",
        ),
        (
            {"deployment": {"traffic_routing": "canary"}},
            "deployment.traffic_routing",
            "which a serverless endpoint does not have",
        ),
        ({"instance_type": "ml.g4dn.xlarge"}, "instance_type", "run on CPU only"),
        ({"serverless": {"memory_mb": 2500}}, "serverless.memory_mb", "1 GB steps"),
        ({"serverless": {"memory_mb": 8192}}, "serverless.memory_mb", "at most 6144"),
        ({"serverless": {"max_concurrency": 201}}, "serverless.max_concurrency", "at most 200"),
        (
            {"serverless": {"max_concurrency": 4, "provisioned_concurrency": 5}},
            "serverless.provisioned_concurrency",
            "at most max_concurrency",
        ),
    ],
)
def test_serverless_refuses_what_serverless_endpoints_do_not_support(
    context_copy, settings, key, reason
):
    deployment = settings.pop("deployment", None)
    autoscaling = settings.pop("autoscaling", None)
    context = serverless(context_copy, **settings)
    raw = context["defaults"]["sagemaker"]["endpoint"]
    if deployment:
        raw["deployment"].update(deployment)
    if autoscaling:
        raw["autoscaling"] = {
            "min_instances": 1,
            "max_instances": 2,
            "target_invocations_per_instance": 100,
            "scale_in_cooldown_seconds": 300,
            "scale_out_cooldown_seconds": 60,
        }
    error = refusal(context)
    assert str(error).startswith(f"{ENDPOINT}.{key}")
    assert reason in str(error)
    assert "\n" not in str(error)


def test_serverless_quotes_sagemakers_exclusions(context_copy):
    error = refusal(serverless(context_copy, data_capture_percentage=5))
    assert "GPUs" in str(error)
    assert "data capture" in str(error)


def test_serverless_needs_its_settings(context_copy):
    error = refusal(endpoint(context_copy, mode="serverless", data_capture_percentage=0))
    assert str(error).startswith(f"{ENDPOINT}.serverless")


@pytest.mark.parametrize("routing", ["canary", "linear"])
def test_traffic_shifting_needs_a_fleet_of_two(context_copy, routing):
    context_copy["defaults"]["sagemaker"]["endpoint"]["deployment"]["traffic_routing"] = routing
    error = refusal(context_copy)
    assert str(error).startswith(f"{ENDPOINT}.deployment.traffic_routing")
    assert "needs at least 2 instances" in str(error)


def test_a_deployment_must_fit_the_workflows_wait(context_copy):
    deployment = context_copy["defaults"]["sagemaker"]["endpoint"]["deployment"]
    deployment.update(wait_minutes=20, termination_wait_minutes=15)
    error = refusal(context_copy)
    assert "35 minutes" in str(error)
    assert "at most 30" in str(error)


def test_the_initial_count_lies_within_the_scaling_bounds(context_copy):
    context_copy["environments"]["prod"]["sagemaker"]["endpoint"]["initial_instance_count"] = 5
    with pytest.raises(ConfigError, match=r"within autoscaling min_instances\.\.max_instances"):
        load_environment(context_copy, "prod")


@pytest.mark.parametrize("routing", ["all_at_once", "canary", "linear"])
def test_deployment_config_is_a_request_sagemaker_accepts(cdk_context, routing):
    config = load_environment(cdk_context, "prod").sagemaker.endpoint
    deployment = config.deployment.__class__(
        **{**config.deployment.__dict__, "traffic_routing": routing}
    )
    config = config.__class__(**{**config.__dict__, "deployment": deployment})
    alarms = ("a-5xx", "a-latency", "a-low-confidence")
    rendered = _deployment_config(config, alarms)
    params = {"EndpointName": "e", "EndpointConfigName": "c", **rendered}
    assert request_errors("UpdateEndpoint", params) == ""
    policy = rendered["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["Type"] == routing.upper()
    assert policy["MaximumExecutionTimeoutInSeconds"] == DEPLOYMENT_TIMEOUT_SECONDS
    assert policy["TerminationWaitInSeconds"] == 300
    assert rendered["DeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": name} for name in alarms]
    }
    # botocore's bounds: 600..28800 s for the whole deployment.
    model = botocore.session.get_session().get_service_model("sagemaker")
    bounds = model.shape_for("BlueGreenUpdatePolicy").members["MaximumExecutionTimeoutInSeconds"]
    assert bounds.metadata["min"] <= DEPLOYMENT_TIMEOUT_SECONDS <= bounds.metadata["max"]


def test_a_serverless_endpoint_config_is_a_request_sagemaker_accepts(context_copy):
    config = load_environment(
        serverless(context_copy, serverless={"provisioned_concurrency": 2}), "dev"
    ).sagemaker.endpoint
    assert _deployment_config(config, ("a",)) == {}  # updated all at once
    rendered = _serverless_variants(config, "model-1")
    (variant,) = rendered["ProductionVariants"]
    variant["ModelName"] = variant.pop("ModelName.$")
    params = {"EndpointConfigName": "c", **rendered}
    assert request_errors("CreateEndpointConfig", params) == ""
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": 2048,
        "MaxConcurrency": 8,
        "ProvisionedConcurrency": 2,
    }
    assert "InstanceType" not in variant
