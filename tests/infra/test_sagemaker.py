"""Intent of the SageMaker stack: exact IAM, encryption everywhere, guarded tasks, the gates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

from stacks.config import load_environment
from stacks.environment import build_environment
from stacks.pipelines.sagemaker_training.endpoint import ENDPOINT_STATUSES, EndpointPhase
from tests.conftest import ENVIRONMENTS, load_cdk_json
from tests.infra.conftest import make_app, template_of

MACHINES = ("ClassifyImage", "ClassifyImageSync", "ClassifyBatch", "TrainingWorkflow")
#: Actions that may name '*' (no resource-level permissions), and why they are here.
STAR_ACTIONS = {
    "ec2:DescribeNetworkInterfaces",  # isolated: Lambda and SageMaker attaching to the VPC
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSecurityGroups",
    "xray:PutTraceSegments",  # Lambda and Step Functions tracing
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",  # Step Functions vended log delivery
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "cloudwatch:PutMetricData",  # SageMaker jobs/endpoints, with a namespace condition
}


def sagemaker(templates: dict[tuple[str, str], Template], env: str) -> Template:
    return template_of(templates, env, "SageMaker")


def render(value: Any) -> str:
    """A CloudFormation value as readable text: tokens as <Ref>/<Logical.Attr>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            return argument[0].join(render(part) for part in argument[1])
    return json.dumps(value, sort_keys=True)


#: Workflow construct -> how its state machine's logical id starts.
MACHINE_IDS = {
    "ClassifyImage": "InferenceClassifyImageStateMachine",
    "ClassifyImageSync": "InferenceClassifyImageSyncStateMachine",
    "ClassifyBatch": "InferenceClassifyBatchStateMachine",
    "TrainingWorkflow": "TrainingWorkflowStateMachine",
    "TrainingDeployWorkflow": "TrainingDeployWorkflowStateMachine",
}


def machine(template: Template, construct: str) -> dict[str, Any]:
    (resource,) = [
        value
        for key, value in template.find_resources("AWS::StepFunctions::StateMachine").items()
        if key.startswith(MACHINE_IDS[construct])
    ]
    return resource


def definition(template: Template, construct: str) -> dict[str, Any]:
    """The state machine's definition; tokens inside it read <Ref>, <Logical.Attr>, <Fn::...>."""
    parts = machine(template, construct)["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads(
        "".join(
            part
            if isinstance(part, str)
            else render(part)
            if set(part) <= {"Ref", "Fn::GetAtt"}
            else f"<{next(iter(part))}>"
            for part in parts
        )
    )


_CONTEXT = load_cdk_json()["context"]
#: What cdk.json pins per environment: (resource name prefix, account, region), None unpinned.
_PINNED = {
    name: (
        f"{settings.get('resource_prefix', _CONTEXT['defaults']['resource_prefix'])}-{name}",
        settings.get("account"),
        settings.get("region"),
    )
    for name, settings in _CONTEXT["environments"].items()
}


def arn(env: str, service: str) -> str:
    """How an ARN of this account and region starts in env's template."""
    _, account, region = _PINNED[env]
    if account is not None:  # a pinned environment (prod) names its account and region
        return f"arn:aws:{service}:{region}:{account}:"
    return f"arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:"


def bucket_arn(env: str, purpose: str) -> str:
    prefix, account, region = _PINNED[env]
    if account is not None:
        return f"arn:aws:s3:::{prefix}-{purpose}-{account}-{region}"
    return f"arn:<AWS::Partition>:s3:::{prefix}-{purpose}-<AWS::AccountId>-<AWS::Region>"


def all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, including those of Map item processors."""
    for name, state in states.items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from all_states(processor["States"])


def statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ] + [
        statement
        for role in template.find_resources("AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(template: Template, action: str) -> list[dict[str, Any]]:
    return [s for s in statements(template) if action in listify(s["Action"])]


def resources_of(statement: dict[str, Any]) -> list[str]:
    return [render(resource) for resource in listify(statement["Resource"])]


# --- IAM ------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_wildcard_actions_and_star_only_where_aws_allows_nothing_else(templates, env):
    for statement in statements(sagemaker(templates, env)):
        actions = listify(statement["Action"])
        assert not any(a.endswith("*") for a in actions), statement
        if "*" in listify(statement["Resource"]):
            assert set(actions) <= STAR_ACTIONS, statement


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_endpoint_invocation_is_scoped_to_the_configured_endpoint(templates, env):
    statements = grants(sagemaker(templates, env), "sagemaker:InvokeEndpoint")
    assert len(statements) == 2  # the single-image and the batch classify functions
    for statement in statements:
        assert resources_of(statement) == [
            f"{arn(env, 'sagemaker')}endpoint/imgclf-{env}-classifier"
        ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_s3_access_is_limited_to_the_prefixes_used(templates, env):
    data, artifacts = bucket_arn(env, "data"), bucket_arn(env, "artifacts")
    expected = {
        "s3:GetObject": {
            f"{data}/sagemaker/inference/*",
            f"{data}/sagemaker/training/*",
            f"{artifacts}/results/sagemaker/batch/*",
            f"{artifacts}/sagemaker/models/*",
        },
        "s3:PutObject": {
            f"{artifacts}/sagemaker/review/*",
            f"{artifacts}/results/sagemaker/batch/*",
            f"{artifacts}/sagemaker/models/*",
            f"{artifacts}/sagemaker/data-capture/*",
            f"{artifacts}/sagemaker/reports/*",
        },
        "s3:ListBucket": {data},
    }
    template = sagemaker(templates, env)
    for action, allowed in expected.items():
        granted = {r for s in grants(template, action) for r in resources_of(s)}
        assert granted == allowed, action
    for statement in grants(template, "s3:ListBucket"):
        prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
        assert prefixes in (["sagemaker/inference/*"], ["sagemaker/training/*"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_image_readers_may_list_the_input_prefix_so_a_missing_key_is_a_404(templates, env):
    """Without s3:ListBucket S3 answers 403 for a missing key, and a 403 could not be told from
    a refusal (a KMS key the function may not use): ImageAccessDeniedError relies on this."""
    template = sagemaker(templates, env)
    for function in ("InferenceValidateFunction", "InferenceClassifyFunction"):
        (policy,) = [
            value
            for key, value in template.find_resources("AWS::IAM::Policy").items()
            if key.startswith(f"{function}RoleDefaultPolicy")
        ]
        listing = [
            statement
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if "s3:ListBucket" in listify(statement["Action"])
        ]
        (statement,) = listing
        assert listify(statement["Action"]) == ["s3:ListBucket"], function
        assert resources_of(statement) == [bucket_arn(env, "data")], function
        prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
        assert prefixes == ["sagemaker/inference/*"], function


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_sagemaker_control_plane_is_scoped_to_the_job_name_prefix(templates, env):
    template = sagemaker(templates, env)
    prefix = arn(env, "sagemaker")
    expected = {
        "sagemaker:CreateTrainingJob": [f"{prefix}training-job/imgclf-{env}-ic-*"],
        "sagemaker:DescribeTrainingJob": [f"{prefix}training-job/imgclf-{env}-ic-*"],
        "sagemaker:StopTrainingJob": [f"{prefix}training-job/imgclf-{env}-ic-*"],
        "sagemaker:CreateModel": [f"{prefix}model/imgclf-{env}-ic-*"],
        "sagemaker:CreateEndpointConfig": [f"{prefix}endpoint-config/imgclf-{env}-ic-*"],
        "sagemaker:CreateEndpoint": [
            f"{prefix}endpoint/imgclf-{env}-classifier",
            f"{prefix}endpoint-config/imgclf-{env}-ic-*",
        ],
        "sagemaker:UpdateEndpoint": [
            f"{prefix}endpoint/imgclf-{env}-classifier",
            f"{prefix}endpoint-config/imgclf-{env}-ic-*",
        ],
        "sagemaker:DescribeEndpoint": [f"{prefix}endpoint/imgclf-{env}-classifier"],
        "sagemaker:AddTags": [f"{prefix}training-job/imgclf-{env}-ic-*"],
        "sagemaker:CreateModelPackage": [
            f"{prefix}model-package-group/imgclf-{env}-image-classifier",
            f"{prefix}model-package/imgclf-{env}-image-classifier/*",
        ],
    }
    if env == "prod":  # on_approval: the deploy workflow reads the approved package
        expected["sagemaker:DescribeModelPackage"] = [
            f"{prefix}model-package/imgclf-{env}-image-classifier/*"
        ]
    for action, allowed in expected.items():
        # The training workflow's, and (on_approval) the deploy workflow's, alike.
        statements = grants(template, action)
        assert statements, action
        for statement in statements:
            assert sorted(resources_of(statement)) == sorted(allowed), action
    # The endpoint is looked up by its exact name, not by listing every endpoint.
    assert not grants(template, "sagemaker:ListEndpoints")
    for statement in grants(template, "iam:PassRole"):
        assert statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }
    (events,) = grants(template, "events:PutRule")
    assert resources_of(events) == [
        f"{arn(env, 'events')}rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    ]
    for statement in grants(template, "cloudwatch:PutMetricData"):
        assert "cloudwatch:namespace" in statement["Condition"]["StringEquals"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_roles_have_no_managed_policies(templates, env):
    for role in sagemaker(templates, env).find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


# --- encryption -----------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_training_output_volume_and_endpoint_are_encrypted_with_the_environment_key(templates, env):
    states = definition(sagemaker(templates, env), "TrainingWorkflow")["States"]
    train = states["Train"]["Parameters"]
    key = train["OutputDataConfig"]["KmsKeyId"]
    assert "EncryptionKey" in key or "<" in key
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == key
    config = states["CreateEndpointConfig"]["Parameters"]
    assert config["KmsKeyId"] == key
    capture = config["DataCaptureConfig"]
    assert capture["KmsKeyId"] == key
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 20
    assert capture["DestinationS3Uri"].endswith("/sagemaker/data-capture")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_logs_and_function_environments_are_encrypted(templates, env):
    template = sagemaker(templates, env)
    groups = template.find_resources("AWS::Logs::LogGroup")
    # Six functions (main's five and RecordLineage), four state machines, the endpoint, and
    # the deploy workflow where it is configured.
    assert len(groups) == 6 + 4 + 1 + (env == "prod")
    for group in groups.values():
        assert "KmsKeyId" in group["Properties"]
    for function in template.find_resources("AWS::Lambda::Function").values():
        assert "KmsKeyArn" in function["Properties"]


# --- tasks, choices, map ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "construct"),
    # prod's deploy workflow too (sagemaker.training.deploy = on_approval).
    [*(("dev", machine) for machine in MACHINES), ("prod", "TrainingDeployWorkflow")],
)
def test_every_task_has_a_timeout_retries_and_a_catch(templates, env, construct):
    states = definition(sagemaker(templates, env), construct)["States"]
    tasks = [(name, state) for name, state in all_states(states) if state["Type"] == "Task"]
    assert tasks
    for name, state in tasks:
        assert "TimeoutSeconds" in state, name
        assert state.get("Retry"), name
        for retrier in state["Retry"]:
            assert "States.ALL" not in retrier["ErrorEquals"], name
            assert retrier["JitterStrategy"] == "FULL", name
    # Outside a Map's children, every task reports its failure: the last catcher takes every
    # error to the failure path (directly, or through a Pass that records an earlier error it
    # must not hide); any before it names the errors it expects (a "not found").
    for name, state in states.items():
        if state["Type"] in ("Task", "Map") and name != "NotifyFailure":
            *expected, last = state["Catch"]
            assert last["ErrorEquals"] == ["States.ALL"], name
            reporter = states[last["Next"]]
            if last["Next"] != "NotifyFailure":
                assert reporter["Type"] == "Pass", name
                assert reporter["ResultPath"] == "$.error", name
                assert reporter["Next"] == "NotifyFailure", name
            for catcher in expected:
                assert "States.ALL" not in catcher["ErrorEquals"], name


def test_endpoint_errors_are_retried_but_bad_answers_are_not(templates):
    states = dict(all_states(definition(sagemaker(templates, "dev"), "ClassifyImage")["States"]))
    (retrier,) = states["Classify"]["Retry"]
    assert {
        "EndpointThrottledError",
        "EndpointModelError",
        "EndpointUnavailableError",
        "Lambda.TooManyRequestsException",
    } <= set(retrier["ErrorEquals"])
    assert "MalformedEndpointResponseError" not in retrier["ErrorEquals"]
    for permanent in ("NotAnImageError", "ImageNotFoundError", "ImageAccessDeniedError"):
        assert permanent not in states["Validate"]["Retry"][0]["ErrorEquals"]
        assert permanent not in retrier["ErrorEquals"]
    # A batch child's images end as results (the function retries transient errors itself);
    # what fails the child is the function, retried for Lambda's own transient errors and
    # counted against the tolerance (no Catch inside the Map's children).
    batch = dict(all_states(definition(sagemaker(templates, "dev"), "ClassifyBatch")["States"]))
    assert "Classify" not in batch
    assert "Validate" not in batch
    (child_retrier,) = batch["ClassifyBatchItems"]["Retry"]
    assert "Lambda.TooManyRequestsException" in child_retrier["ErrorEquals"]
    assert "NotAnImageError" not in child_retrier["ErrorEquals"]
    assert "Catch" not in batch["ClassifyBatchItems"]


def test_a_batch_beyond_its_tolerance_is_summarized_then_fails_with_the_maps_error(templates):
    states = definition(sagemaker(templates, "dev"), "ClassifyBatch")["States"]
    tolerance, everything = states["ClassifyImages"]["Catch"]
    assert tolerance == {
        "ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
        "ResultPath": "$.map_error",
        "Next": "SummarizeFailedBatch",
    }
    assert everything["Next"] == "NotifyFailure"
    summarize = states["SummarizeFailedBatch"]
    assert summarize["Parameters"]["execution_arn.$"] == "$$.Execution.Id"
    assert summarize["Parameters"]["results"]["prefix"] == "results/sagemaker/batch/"
    assert summarize["Next"] == "TooManyFailures"
    for reporter in ("TooManyFailures", "SummaryUnavailable"):
        assert states[reporter]["Parameters"]["Error.$"] == "$.map_error.Error"
        assert states[reporter]["Next"] == "NotifyFailure"
    assert "$.batch.failures_text" in states["TooManyFailures"]["Parameters"]["Cause.$"]
    # Failed images inside successful children: the summary's verdict, the same ending.
    assert states["Summarize"]["Parameters"]["tolerated_failure_percentage"] == 10
    assert states["Summarize"]["Next"] == "WithinTolerance?"
    (rule,) = states["WithinTolerance?"]["Choices"]
    assert rule == {
        "Variable": "$.batch.summary.tolerance_exceeded",
        "BooleanEquals": True,
        "Next": "ImageFailuresNotTolerated",
    }
    assert states["WithinTolerance?"]["Default"] == "NotifyBatchDone"
    not_tolerated = states["ImageFailuresNotTolerated"]
    assert not_tolerated["Parameters"]["Error"] == "States.ExceedToleratedFailureThreshold"
    assert not_tolerated["ResultPath"] == "$.map_error"
    assert not_tolerated["Next"] == "TooManyFailures"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_summarize_may_list_the_map_runs_of_batch_executions_only(templates, env):
    (statement,) = grants(sagemaker(templates, env), "states:ListMapRuns")
    assert listify(statement["Action"]) == ["states:ListMapRuns"]
    (resource,) = resources_of(statement)
    assert resource.startswith(f"{arn(env, 'states')}execution:")
    assert "InferenceClassifyBatchStateMachine" in resource
    assert resource.endswith(":*")


@pytest.mark.parametrize("construct", ["ClassifyImage", "ClassifyImageSync"])
def test_confidence_choice_compares_with_the_execution_threshold(templates, construct):
    states = definition(sagemaker(templates, "dev"), construct)["States"]
    (rule,) = states["Confident?"]["Choices"]
    assert rule == {
        "Variable": "$.inference.confidence",
        "NumericGreaterThanEqualsPath": "$.threshold",
        "Next": "Result",
    }
    assert states["Confident?"]["Default"] == "RecordForReview"
    assert states["LowConfidence"]["Parameters"]["Error"] == "LowConfidence"
    # Not notified by default (#15, no floods): the run fails with the same error and cause.
    assert states["LowConfidence"]["Next"] == "NeedsReview"
    assert states["NeedsReview"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_low_confidence_runs_are_notified_when_configured(context_copy):
    context_copy["defaults"]["sagemaker"]["notify_low_confidence"] = True
    stacks = build_environment(make_app(context_copy), load_environment(context_copy, "dev"))
    template = Template.from_stack(stacks.sagemaker)
    for construct in ("ClassifyImage", "ClassifyImageSync"):
        states = definition(template, construct)["States"]
        assert states["LowConfidence"]["Next"] == "NotifyFailure"
        assert "NeedsReview" not in states


def test_default_threshold_and_classes_come_from_the_configuration(templates, cdk_context):
    defaults = cdk_context["defaults"]["sagemaker"]
    functions = sagemaker(templates, "dev").find_resources("AWS::Lambda::Function")
    variables = [f["Properties"]["Environment"]["Variables"] for f in functions.values()]
    validators = [v for v in variables if "DEFAULT_THRESHOLD" in v]
    assert len(validators) == 2  # one image, one batch request
    for validate in validators:
        assert float(validate["DEFAULT_THRESHOLD"]) == defaults["confidence_threshold"]
        assert validate["INPUT_PREFIX"] == defaults["input_prefix"]
    classifiers = [v for v in variables if "CLASS_NAMES" in v]
    assert len(classifiers) == 2  # one image, a batch of images
    for classify in classifiers:
        assert json.loads(classify["CLASS_NAMES"]) == defaults["class_names"]
        assert classify["ENDPOINT_NAME"] == f"imgclf-dev-{defaults['endpoint_name']}"
    (batch,) = [v for v in classifiers if "INVOKE_CONCURRENCY" in v]
    assert int(batch["INVOKE_CONCURRENCY"]) == defaults["batch"]["invocations_per_batch"]
    assert batch["REVIEW_PREFIX"] == defaults["review_prefix"]


def test_batch_map_concurrency_tolerance_reader_and_writer(templates, cdk_context):
    batch = cdk_context["defaults"]["sagemaker"]["batch"]
    states = definition(sagemaker(templates, "dev"), "ClassifyBatch")["States"]
    images = states["ClassifyImages"]
    endpoint = cdk_context["defaults"]["sagemaker"]["endpoint"]
    # dev: 1 instance x 4 concurrent requests, 4 calls in flight per batch -> 1 batch at once.
    capacity = endpoint["initial_instance_count"] * endpoint["concurrency_per_instance"]
    assert images["MaxConcurrency"] == capacity // batch["invocations_per_batch"] == 1
    assert images["ItemBatcher"] == {
        "MaxItemsPerBatch": batch["max_items_per_batch"],
        "BatchInput": {
            "threshold.$": "$.request.threshold",
            "workflow": "SageMaker classify batch",
            "execution.$": "$$.Execution.Id",
        },
    }
    assert images["ItemSelector"] == {
        "s3_uri.$": "States.Format('s3://{}/{}', $.request.bucket, $$.Map.Item.Value.Key)"
    }
    assert images["ToleratedFailurePercentage"] == batch["tolerated_failure_percentage"]
    assert images["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "EXPRESS",
    }
    assert images["ItemReader"]["Resource"].endswith(":states:::s3:listObjectsV2")
    assert images["ItemReader"]["Parameters"]["Prefix.$"] == "$.request.prefix"
    assert "imgclf-dev-data-" in images["ItemReader"]["Parameters"]["Bucket"]
    assert images["ResultWriter"]["Resource"].endswith(":states:::s3:putObject")
    assert images["ResultWriter"]["Parameters"]["Prefix"] == "results/sagemaker/batch"
    assert "imgclf-dev-artifacts-" in images["ResultWriter"]["Parameters"]["Bucket"]
    assert images["ResultPath"] == "$.map"
    # The request is checked (prefix, threshold, unknown fields) before anything is listed.
    assert states["ReadInput"]["Next"] == "ValidateRequest"
    assert states["ValidateRequest"]["Parameters"] == {"request.$": "$.input"}
    assert states["ValidateRequest"]["ResultPath"] == "$.request"
    assert states["ValidateRequest"]["Next"] == "ClassifyImages"


def test_training_gate_uses_the_configured_accuracy(templates, cdk_context):
    minimum = cdk_context["defaults"]["sagemaker"]["training"]["min_validation_accuracy"]
    states = definition(sagemaker(templates, "dev"), "TrainingWorkflow")["States"]
    (rule,) = states["GatePassed?"]["Choices"]
    assert rule == {
        "Variable": "$.evaluation.accuracy",
        "NumericGreaterThanEquals": minimum,
        "Next": "RegisterModel",
    }
    # Lineage is recorded before the gate decides, whatever it decides.
    assert states["Evaluation"]["Next"] == "RecordLineage"
    assert states["TagTrainingJob"]["Next"] == "GatePassed?"
    assert states["GatePassed?"]["Default"] == "NotifyRejected"
    assert states["Train"]["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    assert states["Train"]["Parameters"]["HyperParameters"]["num_classes"] == "2"


def test_a_changed_gate_and_batch_settings_reach_the_definitions(context_copy):
    sagemaker_config = context_copy["defaults"]["sagemaker"]
    sagemaker_config["training"]["min_validation_accuracy"] = 0.95
    sagemaker_config["batch"] = {
        "max_items_per_batch": 7,
        "invocations_per_batch": 2,
        "tolerated_failure_percentage": 0,
    }
    sagemaker_config["endpoint"]["initial_instance_count"] = 3
    sagemaker_config["endpoint"]["data_capture_percentage"] = 0
    stacks = build_environment(make_app(context_copy), load_environment(context_copy, "dev"))
    template = Template.from_stack(stacks.sagemaker)
    training = definition(template, "TrainingWorkflow")["States"]
    assert training["GatePassed?"]["Choices"][0]["NumericGreaterThanEquals"] == 0.95
    assert "DataCaptureConfig" not in training["CreateEndpointConfig"]["Parameters"]
    images = definition(template, "ClassifyBatch")["States"]["ClassifyImages"]
    assert images["MaxConcurrency"] == 3 * 4 // 2  # instances x concurrency / calls per batch
    assert images["ItemBatcher"]["MaxItemsPerBatch"] == 7
    assert images.get("ToleratedFailurePercentage", 0) == 0  # 0 is the default: omitted


def test_endpoint_wait_ends_at_once_on_every_failed_status_and_on_a_rollback(templates):
    states = definition(sagemaker(templates, "dev"), "TrainingWorkflow")["States"]
    choices = states["EndpointReady?"]["Choices"]
    by_status = {
        rule["StringEquals"]: rule["Next"]
        for rule in choices
        if rule.get("Variable") == "$.endpoint.status"
    }
    for status, meaning in ENDPOINT_STATUSES.items():
        if meaning.phase is EndpointPhase.FAILED:
            record = states[by_status[status]]
            assert record["Parameters"]["Error"] == meaning.error, status
            assert record["Next"] == "FailureReasonGiven?", status
    # InService that is not the deployment asked for is a rollback, checked before the deadline.
    assert states[by_status["InService"]]["Parameters"]["Error"] == "EndpointUpdateRolledBack"
    assert choices[0]["Next"] == "NotifyDeployed"
    assert choices[-1]["Next"] == "EndpointTooSlow"
    assert states["DescribeEndpoint"]["ResultSelector"]["failure_reasons.$"] == "$..FailureReason"


def test_training_image_is_the_regional_algorithm(templates):
    prod = sagemaker(templates, "prod").to_json()
    (registry,) = [m for m in prod["Mappings"].values() if "eu-west-1" in m]
    assert registry["eu-west-1"] == {"account": "685385470294"}
    assert registry["us-east-1"] == {"account": "811284229777"}
    assert len(registry) == 12
    image = definition(sagemaker(templates, "prod"), "TrainingWorkflow")["States"]["Train"][
        "Parameters"
    ]["AlgorithmSpecification"]["TrainingImage"]
    assert image.endswith("/image-classification:1")
    assert ".dkr.ecr.<AWS::Region>." in image


def test_stack_outputs_name_the_workflows(templates):
    outputs = sagemaker(templates, "dev").to_json()["Outputs"]
    assert {
        "ClassifyImageStateMachineArn",
        "ClassifyImageSyncStateMachineArn",
        "ClassifyBatchStateMachineArn",
        "TrainingStateMachineArn",
        "EndpointName",
    } <= set(outputs)
    assert outputs["EndpointName"]["Value"] == "imgclf-dev-classifier"


def test_stack_is_named_as_ops_expects(environments):
    stack: Stack = environments["dev"].sagemaker
    assert stack.stack_name == "imgclf-dev-sagemaker"


def test_a_serverless_endpoint_config_has_no_instances_and_no_guardrails(context_copy):
    context_copy["environments"]["prod"].pop("sagemaker", None)
    endpoint = context_copy["defaults"]["sagemaker"]["endpoint"]
    endpoint.update(
        mode="serverless",
        data_capture_percentage=0,
        serverless={"memory_mb": 3072, "max_concurrency": 10, "provisioned_concurrency": None},
    )
    stacks = build_environment(make_app(context_copy), load_environment(context_copy, "dev"))
    states = definition(Template.from_stack(stacks.sagemaker), "TrainingWorkflow")["States"]
    parameters = states["CreateEndpointConfig"]["Parameters"]
    assert parameters["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName.$": "$.job.name",
            "ServerlessConfig": {"MemorySizeInMB": 3072, "MaxConcurrency": 10},
        }
    ]
    assert "KmsKeyId" not in parameters  # no instance volume to encrypt
    assert "DataCaptureConfig" not in parameters
    assert "DeploymentConfig" not in states["UpdateEndpoint"]["Parameters"]
    assert "RegisterScalableTarget" not in states


def test_prod_updates_with_a_canary_and_registers_its_scaling(templates):
    states = definition(sagemaker(templates, "prod"), "TrainingWorkflow")["States"]
    update = states["UpdateEndpoint"]["Parameters"]
    routing = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 300,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
    }
    alarms = update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert [a["AlarmName"] for a in alarms] == [
        "imgclf-prod-sagemaker-training-rollback-5xx",
        "imgclf-prod-sagemaker-training-rollback-model-latency",
        "imgclf-prod-sagemaker-training-rollback-low-confidence",
    ]
    register = states["RegisterScalableTarget"]
    assert register["Resource"].endswith(
        ":states:::aws-sdk:applicationautoscaling:registerScalableTarget"
    )
    assert register["Parameters"] == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/imgclf-prod-classifier/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 2,
        "MaxCapacity": 4,
    }
    assert register["Next"] == "PutScalingPolicy"
    policy = states["PutScalingPolicy"]["Parameters"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert states["PutScalingPolicy"]["Next"] == "NotifyDeployed"
    # The rollback alarms exist with those names in the same stack.
    names = {
        a["Properties"].get("AlarmName")
        for a in sagemaker(templates, "prod").find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert {a["AlarmName"] for a in alarms} <= names
