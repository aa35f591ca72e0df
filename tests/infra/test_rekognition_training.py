"""Intent of the Rekognition training stack: guarded states, bounded polls, exact permissions."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.config import (
    EVENTS_PER_POLL,
    EXECUTION_TIMEOUT_SLACK_MINUTES,
    MAX_PROJECT_DATASETS,
    load_environment,
)
from stacks.environment import build_environment
from stacks.pipelines.rekognition_training.statuses import (
    DATASET_CREATE,
    DATASET_SPLIT,
    START,
    TRAINING,
    Progress,
    StatusPoll,
)
from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import make_app, template_of
from tests.workflows.asl_loops import loops


def training(templates, env: str) -> Template:
    return template_of(templates, env, "RekognitionTraining")


def definition(template: Template) -> dict[str, Any]:
    """The training workflow's (the stack also holds the promotion workflow where configured)."""
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    (machine,) = [m for key, m in machines.items() if key.startswith("TrainingWorkflow")]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "<ref>" for p in parts))


def all_states(states: dict[str, Any]) -> dict[str, Any]:
    """Every state, including those inside Map item processors."""
    found = dict(states)
    for state in states.values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found.update(all_states(processor["States"]))
    return found


def inner_state_names(states: dict[str, Any]) -> set[str]:
    inner: set[str] = set()
    for state in states.values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            inner |= set(all_states(processor["States"]))
    return inner


def role_statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in template.find_resources("AWS::IAM::Policy").items()
        if role_fragment in logical_id
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_task_has_timeout_retry_with_jitter_and_a_catch(templates, env):
    states = definition(training(templates, env))["States"]
    inner = inner_state_names(states)
    tasks = {name: s for name, s in all_states(states).items() if s["Type"] == "Task"}
    assert len(tasks) > 20
    for name, task in tasks.items():
        assert "TimeoutSeconds" in task, name
        assert task["Retry"], name
        assert all(r.get("JitterStrategy") == "FULL" for r in task["Retry"]), name
        if name in inner:
            continue  # a failure inside the Map fails the Map, which is caught
        assert task["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
    assert states["DeleteOldDatasets"]["Catch"][0]["ErrorEquals"] == ["States.ALL"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_version_is_always_described_by_version_name(templates, env):
    states = definition(training(templates, env))["States"]
    describes = [
        s for s in states.values() if s.get("Resource", "").endswith("describeProjectVersions")
    ]
    assert len(describes) == 2  # training and start
    for state in describes:
        assert state["Parameters"]["VersionNames.$"] == "States.Array($.job.version_name)"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_polls_are_spaced_and_bounded_as_configured(templates, env, cdk_context):
    settings = load_environment(cdk_context, env).rekognition_training
    states = definition(training(templates, env))["States"]
    assert states["WaitTraining"]["Seconds"] == settings.training_poll_minutes * 60
    assert states["WaitStart"]["Seconds"] == settings.start_poll_seconds
    for name in ("Train", "Test", "SplitTrain", "SplitTest"):
        assert states[f"Wait{name}Dataset"]["Seconds"] == settings.dataset_poll_seconds
        (deadline,) = states[f"{name}DatasetDeadline?"]["Choices"]
        assert deadline["NumericGreaterThanEquals"] == settings.dataset_max_polls
    (training_deadline,) = states["TrainingDeadline?"]["Choices"]
    assert training_deadline["NumericGreaterThanEquals"] == settings.training_max_polls


def string_equals(condition: dict[str, Any]) -> set[str]:
    """The statuses a Choice rule matches (one StringEquals, or an Or of them)."""
    rules = condition.get("Or", [condition])
    return {rule["StringEquals"] for rule in rules}


STATUS_CHOICES = [
    ("TrainingDone?", TRAINING, "TrainingFailed"),
    ("StartDone?", START, "StartFailed"),
    ("TrainDatasetReady?", DATASET_CREATE, "TrainDatasetFailed"),
    ("TestDatasetReady?", DATASET_CREATE, "TestDatasetFailed"),
    ("SplitTrainDatasetReady?", DATASET_SPLIT, "SplitTrainDatasetFailed"),
    ("SplitTestDatasetReady?", DATASET_SPLIT, "SplitTestDatasetFailed"),
]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_choice_on_a_service_status_is_built_from_the_table(templates, env):
    states = all_states(definition(training(templates, env))["States"])
    on_status = {
        name
        for name, state in states.items()
        if state["Type"] == "Choice"
        and any(
            rule.get("Variable", "").endswith(".Status")
            for choice in state["Choices"]
            for rule in choice.get("Or", [choice])
        )
    }
    assert on_status == {choice for choice, _, _ in STATUS_CHOICES}


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize(("choice", "poll", "failed_state"), STATUS_CHOICES)
def test_status_choices_are_the_classification_table(
    templates, env, choice: str, poll: StatusPoll, failed_state: str
):
    """DONE statuses go on, FAILED ones fail at once, WORKING ones (the default) poll again."""
    states = definition(training(templates, env))["States"]
    rules = [rule for rule in states[choice]["Choices"] if "IsPresent" not in rule]
    done, failed = rules
    assert string_equals(done) == set(poll.having(Progress.DONE))
    assert string_equals(failed) == set(poll.having(Progress.FAILED))
    assert failed["Next"] == failed_state
    assert states[failed_state]["Next"] == "NotifyFailure"
    default = states[states[choice]["Default"]]
    # WORKING statuses poll again, through the bounded counter.
    assert default["Type"] == "Pass"
    assert default["Parameters"]["count.$"].startswith("States.MathAdd")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_budgets_count_every_loop_of_the_synthesized_definition(templates, env, cdk_context):
    """The config's worst path is the definition's: same loops, intervals and bounds; a loop
    added to the workflow and not to the budget fails here."""
    settings = load_environment(cdk_context, env).rekognition_training
    found = {loop.label: loop for loop in loops(definition(training(templates, env)))}
    budgeted = {loop.name: loop for loop in settings.worst_path_loops}

    assert set(found) == set(budgeted)
    for label, loop in found.items():
        expected = budgeted[label]
        assert (loop.wait_seconds, loop.max_polls) == (
            expected.interval_seconds,
            expected.max_polls,
        ), label
        assert loop.events_per_iteration <= EVENTS_PER_POLL, label
        if loop.map_concurrency is not None:  # the deletion: every old dataset at once
            assert (
                expected.runs == MAX_PROJECT_DATASETS == loop.map_concurrency == expected.concurrent
            )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_execution_timeout_exceeds_the_worst_paths_deadlines(templates, env, cdk_context):
    """Every loop of the definition waiting to its bound (a Map's items side by side), plus
    the slack for Lambdas and retries: a run that meets every deadline never times out."""
    settings = load_environment(cdk_context, env).rekognition_training
    asl = definition(training(templates, env))
    waits = sum(
        loop.wait_seconds
        * loop.max_polls
        * (math.ceil(MAX_PROJECT_DATASETS / loop.map_concurrency) if loop.map_concurrency else 1)
        for loop in loops(asl)
    )

    assert asl["TimeoutSeconds"] == settings.execution_timeout_minutes * 60
    assert asl["TimeoutSeconds"] >= waits + EXECUTION_TIMEOUT_SLACK_MINUTES * 60


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_model_is_started_with_the_configured_inference_units(templates, env, cdk_context):
    rekognition = load_environment(cdk_context, env).rekognition
    parameters = definition(training(templates, env))["States"]["StartModel"]["Parameters"]
    assert parameters["MinInferenceUnits"] == rekognition.min_inference_units
    assert parameters["MaxInferenceUnits"] == rekognition.max_inference_units


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_state_machine_may_touch_only_its_project(templates, env, cdk_context):
    project = load_environment(cdk_context, env).rekognition.project_name
    statements = role_statements(training(templates, env), "TrainingWorkflowStateMachineRole")
    rekognition = [
        s for s in statements if any(a.startswith("rekognition:") for a in actions_of(s))
    ]
    granted = {a for s in rekognition for a in actions_of(s) if a.startswith("rekognition:")}
    assert granted == {
        "rekognition:DescribeProjects",
        "rekognition:CreateProject",
        "rekognition:CreateDataset",
        "rekognition:DescribeDataset",
        "rekognition:DeleteDataset",
        "rekognition:DistributeDatasetEntries",
        "rekognition:ListDatasetEntries",
        "rekognition:CreateProjectVersion",
        "rekognition:DescribeProjectVersions",
        "rekognition:StartProjectVersion",
        "rekognition:StopProjectVersion",
        "rekognition:TagResource",
    }
    for statement in rekognition:
        resource = json.dumps(statement["Resource"])
        own = [a for a in actions_of(statement) if a.startswith("rekognition:")]
        if statement["Resource"] == "*" and "Condition" in statement:
            # CreateProject has no resource type: "*", only for projects tagged as ours.
            assert own == ["rekognition:CreateProject"]
            assert statement["Condition"] == {
                "StringEquals": {"aws:RequestTag/ManagedBy": "rekognition-training-workflow"}
            }
        elif statement["Resource"] == "*":
            # CDK merges same-resource statements (X-Ray, log delivery): only this one is ours.
            assert own == ["rekognition:DescribeProjects"]
        elif own == ["rekognition:ListDatasetEntries"]:
            assert ":project/*/dataset/*" in resource
        else:
            assert f":project/{project}/*" in resource, statement


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_s3_access_is_exact_actions_on_named_prefixes(templates, env):
    statements = role_statements(training(templates, env), "TrainingWorkflowStateMachineRole")
    s3 = [s for s in statements if any(a.startswith("s3:") for a in actions_of(s))]
    for statement in s3:
        assert not any("*" in action for action in actions_of(statement)), statement
    resources = json.dumps([s["Resource"] for s in s3])
    assert f"imgclf-{env}-artifacts-" in resources
    assert "/models/*" in resources
    evaluate = role_statements(training(templates, env), "EvaluateRole")
    writes = [s for s in evaluate if "s3:PutObject" in actions_of(s)]
    assert len(writes) == 1
    assert "/reports/*" in json.dumps(writes[0]["Resource"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_model_parameter_is_written_only_by_the_workflow(templates, env):
    statements = role_statements(training(templates, env), "TrainingWorkflowStateMachineRole")
    (put,) = [s for s in statements if "ssm:PutParameter" in actions_of(s)]
    assert f"parameter/imgclf-{env}/rekognition/model-version-arn" in json.dumps(put["Resource"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_validate_function_knows_the_project_bucket_and_gate(templates, env, cdk_context):
    config = load_environment(cdk_context, env)
    functions = training(templates, env).find_resources("AWS::Lambda::Function")
    (validate,) = [f for key, f in functions.items() if "ValidateInput" in key]
    variables = validate["Properties"]["Environment"]["Variables"]
    assert variables["PROJECT_NAME"] == config.rekognition.project_name
    assert json.loads(variables["DEFAULT_GATE"]) == {
        "metric": config.quality_gate.metric,
        "threshold": config.quality_gate.threshold,
        "min_label_recall": config.quality_gate.min_label_recall,
    }


def test_no_trigger_unless_configured(templates):
    for env in ENVIRONMENTS:
        template = training(templates, env)
        assert not template.find_resources("AWS::Events::Rule")
        functions = template.find_resources("AWS::Lambda::Function")
        # ValidateInput, Evaluate, RecordLineage.
        assert len([key for key in functions if key.startswith("Training")]) == 3


@pytest.fixture(scope="module")
def triggered(cdk_context) -> Template:
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"]["rekognition_training"] = {
        "triggers": {
            "manifest_prefix": "training/manifests/",
            "schedule": "cron(0 3 ? * MON *)",
            "scheduled_manifest_key": "training/manifests/latest.manifest",
        }
    }
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    return Template.from_stack(stacks.rekognition_training)


def test_manifest_trigger_matches_only_the_prefix_of_the_data_bucket(triggered):
    rules = triggered.find_resources("AWS::Events::Rule")
    (manifest,) = [r for r in rules.values() if "EventPattern" in r["Properties"]]
    pattern = manifest["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "training/manifests/"}]
    assert "imgclf-dev-data-" in json.dumps(pattern["detail"]["bucket"]["name"])
    (target,) = manifest["Properties"]["Targets"]
    assert "DeadLetterConfig" in target
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3


def test_schedule_trigger_uses_the_configured_expression(triggered):
    rules = triggered.find_resources("AWS::Events::Rule")
    (scheduled,) = [r for r in rules.values() if "ScheduleExpression" in r["Properties"]]
    assert scheduled["Properties"]["ScheduleExpression"] == "cron(0 3 ? * MON *)"


def test_triggers_are_handled_one_at_a_time(triggered):
    functions = triggered.find_resources("AWS::Lambda::Function")
    (trigger,) = [f for key, f in functions.items() if "Trigger" in key]
    assert trigger["Properties"]["ReservedConcurrentExecutions"] == 1


def test_trigger_may_only_list_and_start_this_workflow(triggered):
    statements = role_statements(triggered, "TriggerRole")
    states = [s for s in statements if any(a.startswith("states:") for a in actions_of(s))]
    assert {a for s in states for a in actions_of(s)} == {
        "states:StartExecution",
        "states:ListExecutions",
    }
    for statement in states:
        assert "TrainingWorkflowStateMachine" in json.dumps(statement["Resource"])
