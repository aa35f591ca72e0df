"""Intent of the relabel stack: the Ground Truth role's trust and grants, PassRole scoped to it,
the output key, who starts training, the triggers, and the ARN other stacks can start."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from stacks.config import load_environment
from stacks.environment import build_environment
from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import make_app, template_of

WORKTEAM = "arn:aws:sagemaker:eu-west-1:111111111111:workteam/private-crowd/review"


def statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def definition(template: Template) -> dict[str, Any]:
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "<ref>" for p in parts))


@pytest.fixture(scope="module")
def triggered(cdk_context: dict[str, Any]) -> Template:
    """dev with both schedules and the training trigger watching the relabel manifests."""
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"]["rekognition_training"] = {
        "triggers": {"manifest_prefix": "training/manifests/"}
    }
    context["environments"]["dev"]["relabel"] = {
        "workteam_arn": WORKTEAM,
        "schedule": "cron(0 6 ? * MON *)",
        "pending_threshold": 50,
        "threshold_check_schedule": "rate(1 hour)",
    }
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    return Template.from_stack(stacks.relabel)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ground_truth_role_is_trusted_by_sagemaker_for_this_environments_jobs_only(
    templates, cdk_context, env
):
    account = load_environment(cdk_context, env).account
    template = template_of(templates, env, "Relabel")
    roles = template.find_resources("AWS::IAM::Role")
    (role,) = [role for key, role in roles.items() if key.startswith("RelabelGroundTruthRole")]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    expected = account if account is not None else {"Ref": "AWS::AccountId"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": expected}
    source = json.dumps(trust["Condition"]["ArnLike"]["aws:SourceArn"])
    assert f":labeling-job/imgclf-{env}-relabel-*" in source


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_workflow_passes_only_the_ground_truth_role_to_sagemaker(templates, env):
    template = template_of(templates, env, "Relabel")
    passes = [s for s in statements(template) if "iam:PassRole" in actions_of(s)]
    (pass_role,) = passes
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert "GroundTruthRole" in json.dumps(pass_role["Resource"])
    jobs = [s for s in statements(template) if "sagemaker:CreateLabelingJob" in actions_of(s)]
    (create,) = jobs
    assert f":labeling-job/imgclf-{env}-relabel-*" in json.dumps(create["Resource"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_job_output_is_encrypted_with_the_environments_key(templates, env):
    states = definition(template_of(templates, env, "Relabel"))["States"]
    output = states["CreateLabelingJob"]["Parameters"]["OutputConfig"]
    assert output["KmsKeyId"] == "<ref>"  # the storage stack's key ARN
    assert output["S3OutputPath"].endswith("/relabel/output/")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_without_a_trigger_on_its_manifests_the_workflow_starts_training(templates, env):
    template = template_of(templates, env, "Relabel")
    states = definition(template)["States"]
    assert states["Merge"]["Next"] == "StartTraining"
    assert states["StartTraining"]["Resource"].endswith(":states:::states:startExecution")
    assert template.find_resources("AWS::Events::Rule") == {}
    template.has_output("RelabelStateMachineArn", {"Value": Match.any_value()})


def test_with_the_trigger_watching_its_manifests_the_trigger_starts_training(triggered):
    states = definition(triggered)["States"]
    assert "StartTraining" not in states
    assert states["Merge"]["Next"] == "NotifyMerged"


def test_the_schedules_start_the_workflow_saying_which_trigger(triggered):
    rules = triggered.find_resources("AWS::Events::Rule")
    inputs = {
        rule["Properties"]["ScheduleExpression"]: json.loads(
            rule["Properties"]["Targets"][0]["Input"]
        )
        for rule in rules.values()
    }
    assert inputs == {
        "cron(0 6 ? * MON *)": {"trigger": "schedule"},
        "rate(1 hour)": {"trigger": "threshold"},
    }
    (function,) = [
        f
        for f in triggered.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "relabel.collect.lambda_handler"
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["WORKTEAM_ARN"] == WORKTEAM
    assert variables["PENDING_THRESHOLD"] == "50"


def test_every_labeling_job_status_of_the_api_has_its_branch(templates):
    """botocore's LabelingJobStatus enum is the oracle: each value is compared by the Choice."""
    import botocore.session

    enum = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .shape_for("LabelingJobStatus")
        .enum
    )
    choice = definition(template_of(templates, "dev", "Relabel"))["States"]["LabelingStatus?"]

    def compared(rule: dict[str, Any]) -> set[str]:
        if "StringEquals" in rule:
            return {rule["StringEquals"]}
        return {value for inner in rule.get("Or", []) for value in compared(inner)}

    branches = {value: rule["Next"] for rule in choice["Choices"] for value in compared(rule)}
    assert set(branches) == set(enum)
    assert branches["Completed"] == "Merge"
    assert (branches["Failed"], branches["Stopped"]) == ("LabelingFailed", "LabelingStopped")
    assert {branches[s] for s in ("Initializing", "InProgress", "Stopping")} == {
        "CountLabelingPolls"
    }
    assert choice["Default"] == "LabelingUnexpected"
