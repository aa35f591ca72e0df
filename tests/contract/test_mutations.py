"""Each contract check fires on a deliberately broken copy of dev's templates.

The real templates pass every check (``test_contract.py``); these copies each carry one defect
of the kind the checks exist for, and the check must name it, with its evidence.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.contract import checks
from tests.contract.cfn import Environment
from tests.contract.test_parliament import lint

Mutation = Callable[[dict[str, dict[str, Any]], Environment], None]


def _stack(templates: dict[str, dict[str, Any]], suffix: str) -> str:
    (name,) = [name for name in templates if name.endswith(suffix)]
    return name


def _machine(
    templates: dict[str, dict[str, Any]], env: Environment, suffix: str, logical_prefix: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(resource, parsed ASL) of a state machine; write the ASL back with ``_store``."""
    stack = _stack(templates, suffix)
    ((_logical_id, resource),) = [
        (lid, res)
        for lid, res in templates[stack]["Resources"].items()
        if res["Type"] == "AWS::StepFunctions::StateMachine" and lid.startswith(logical_prefix)
    ]
    definition = env.resolve(stack, resource["Properties"]["DefinitionString"])
    return resource, json.loads(definition)


def _store(resource: dict[str, Any], asl: dict[str, Any]) -> None:
    resource["Properties"]["DefinitionString"] = json.dumps(asl)


def _state(asl: dict[str, Any], name: str) -> dict[str, Any]:
    for state_name, state in asl["States"].items():
        if state_name == name:
            return state
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                try:
                    return _state(state[key], name)
                except KeyError:
                    pass
    raise KeyError(name)


def _edit_state(
    suffix: str, machine: str, state: str, edit: Callable[[dict[str, Any]], None]
) -> Mutation:
    def mutate(templates: dict[str, dict[str, Any]], env: Environment) -> None:
        resource, asl = _machine(templates, env, suffix, machine)
        edit(_state(asl, state))
        _store(resource, asl)

    return mutate


def _statements(
    templates: dict[str, dict[str, Any]], suffix: str, policy_prefix: str
) -> list[dict[str, Any]]:
    stack = _stack(templates, suffix)
    (policy,) = [
        res
        for lid, res in templates[stack]["Resources"].items()
        if res["Type"] == "AWS::IAM::Policy" and lid.startswith(policy_prefix)
    ]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _drop_action(suffix: str, policy_prefix: str, action: str) -> Mutation:
    def mutate(templates: dict[str, dict[str, Any]], env: Environment) -> None:
        for statement in _statements(templates, suffix, policy_prefix):
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            statement["Action"] = [a for a in actions if a != action] or ["sns:GetTopicAttributes"]

    return mutate


def _regrant(
    suffix: str, policy_prefix: str, action: str, resource: Any, condition: Any = None
) -> Mutation:
    """Move ``action`` into a statement of its own on ``resource`` (and ``condition``)."""

    def mutate(templates: dict[str, dict[str, Any]], env: Environment) -> None:
        _drop_action(suffix, policy_prefix, action)(templates, env)
        statement: dict[str, Any] = {"Action": action, "Effect": "Allow", "Resource": resource}
        if condition:
            statement["Condition"] = condition
        _statements(templates, suffix, policy_prefix).append(statement)

    return mutate


TRAINING = "-rekognition-training"
TRAINING_MACHINE = "TrainingWorkflowStateMachine"
TRAINING_POLICY = "TrainingWorkflowStateMachineRoleDefaultPolicy"
SAGEMAKER = "-sagemaker"


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        state[key] = value

    return edit


def _parameters(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(state: dict[str, Any]) -> None:
        edit(state["Parameters"])

    return apply


def _rename(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def edit(mapping: dict[str, Any]) -> None:
        mapping[new] = mapping.pop(old)

    return edit


def _choice_literal(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        text = json.dumps(state["Choices"]).replace(json.dumps(old), json.dumps(new))
        state["Choices"] = json.loads(text)

    return edit


def _add_retry(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        state["Retry"][0]["ErrorEquals"].append(name)

    return edit


def _drop_key_policy_statement(sid: str) -> Mutation:
    def mutate(templates: dict[str, dict[str, Any]], env: Environment) -> None:
        stack = _stack(templates, "-storage")
        for resource in templates[stack]["Resources"].values():
            if resource["Type"] == "AWS::KMS::Key":
                policy = resource["Properties"]["KeyPolicy"]
                policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]

    return mutate


def _evaluate_policy_prefix() -> str:
    return "TrainingEvaluateRoleDefaultPolicy"


def _monitoring_resources(templates: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [
        resource
        for resource in templates[_stack(templates, "-monitoring")]["Resources"].values()
        if resource["Type"] == kind
    ]


def _unnamed_alarm() -> Mutation:
    def mutate(templates: dict[str, dict[str, Any]], env: Environment) -> None:
        alarm = _monitoring_resources(templates, "AWS::CloudWatch::Alarm")[0]
        del alarm["Properties"]["AlarmName"]

    return mutate


def _composite_of_a_missing_alarm() -> Mutation:
    def mutate(templates: dict[str, dict[str, Any]], env: Environment) -> None:
        composite = _monitoring_resources(templates, "AWS::CloudWatch::CompositeAlarm")[0]
        composite["Properties"]["AlarmRule"] += ' OR ALARM("imgclf-dev-renamed-alarm")'

    return mutate


def _alarm_rule(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (rule,) = [
        rule
        for rule in _monitoring_resources(templates, "AWS::Events::Rule")
        if rule["Properties"].get("EventPattern", {}).get("source") == ["aws.cloudwatch"]
    ]
    pattern: dict[str, Any] = rule["Properties"]["EventPattern"]
    return pattern


def _alarm_rule_without_exclusions() -> Mutation:
    def mutate(templates: dict[str, dict[str, Any]], env: Environment) -> None:
        del _alarm_rule(templates)["detail"]["alarmName"]

    return mutate


def _alarm_rule_for_alarms_only() -> Mutation:
    def mutate(templates: dict[str, dict[str, Any]], env: Environment) -> None:
        _alarm_rule(templates)["detail"]["state"]["value"] = ["ALARM"]

    return mutate


#: (id, check, mutation, text the finding must contain)
CASES: list[tuple[str, str, Mutation, str]] = [
    (
        "unknown-operation",
        "task",
        _edit_state(
            TRAINING,
            TRAINING_MACHINE,
            "FindProject",
            lambda s: s.update(
                Resource=s["Resource"].replace("describeProjects", "describeProject")
            ),
        ),
        "rekognition has no operation 'describeProject'",
    ),
    (
        "unknown-parameter",
        "task",
        _edit_state(
            TRAINING,
            TRAINING_MACHINE,
            "FindProject",
            _parameters(_rename("ProjectNames.$", "ProjectName.$")),
        ),
        "Parameters.ProjectName is not a member of DescribeProjectsRequest",
    ),
    (
        "missing-required-member",
        "task",
        _edit_state(
            TRAINING,
            TRAINING_MACHINE,
            "CreateVersion",
            _parameters(lambda p: p.pop("ProjectArn.$")),
        ),
        "required member ProjectArn of CreateProjectVersionRequest is missing",
    ),
    (
        "wrong-enum",
        "task",
        _edit_state(
            TRAINING,
            TRAINING_MACHINE,
            "CreateTrainDataset",
            _parameters(lambda p: p.update(DatasetType="TRAINING")),
        ),
        "'TRAINING' is not one of DatasetType's values",
    ),
    (
        "wrong-type",
        "task",
        _edit_state(
            TRAINING,
            TRAINING_MACHINE,
            "StartModel",
            _parameters(lambda p: p.update(MinInferenceUnits="1")),
        ),
        "Parameters.MinInferenceUnits: InferenceUnits is integer, got '1'",
    ),
    (
        "literal-out-of-range",
        "task",
        _edit_state(
            TRAINING,
            TRAINING_MACHINE,
            "StartModel",
            _parameters(lambda p: p.update(MinInferenceUnits=0)),
        ),
        "outside InferenceUnits's range",
    ),
    (
        "unknown-output-member",
        "output",
        _edit_state(
            TRAINING,
            TRAINING_MACHINE,
            "CreateVersion",
            _set("ResultSelector", {"arn.$": "$.ProjectVersionArns"}),
        ),
        "CreateProjectVersionResponse has no member 'ProjectVersionArns'",
    ),
    (
        "later-read-of-a-missing-member",
        "output",
        _edit_state(
            TRAINING,
            TRAINING_MACHINE,
            "TrainingDone?",
            lambda s: s.update(
                Choices=json.loads(json.dumps(s["Choices"]).replace(".Status", ".State"))
            ),
        ),
        "ProjectVersionDescription has no member 'State'",
    ),
    (
        "choice-against-an-unknown-enum-value",
        "enum",
        _edit_state(
            TRAINING,
            TRAINING_MACHINE,
            "TrainingDone?",
            _choice_literal("TRAINING_COMPLETED", "TRAINING_COMPLETE"),
        ),
        "'TRAINING_COMPLETE', not a value of ProjectVersionStatus",
    ),
    (
        "impossible-retry-name",
        "errors",
        _edit_state(
            SAGEMAKER, TRAINING_MACHINE, "CreateModel", _add_retry("SageMaker.ThrottlingException")
        ),
        "Retry on 'SageMaker.ThrottlingException', which "
        "arn:aws:states:::sagemaker:createModel never raises",
    ),
    (
        "error-no-function-raises",
        "errors",
        _edit_state(TRAINING, TRAINING_MACHINE, "Evaluate", _add_retry("EvaluationTimeoutError")),
        "Retry on 'EvaluationTimeoutError'",
    ),
    (
        "missing-action",
        "iam",
        _drop_action(TRAINING, TRAINING_POLICY, "rekognition:DescribeDataset"),
        "no statement allows rekognition:DescribeDataset",
    ),
    (
        "wrong-resource-type",
        "iam",
        _regrant(
            TRAINING,
            TRAINING_POLICY,
            "rekognition:StartProjectVersion",
            "arn:aws:s3:::somebucket/*",
        ),
        "matches none of rekognition:StartProjectVersion's resource types",
    ),
    (
        "action-without-resource-type-granted-on-an-arn",
        "iam",
        _regrant(
            TRAINING,
            TRAINING_POLICY,
            "rekognition:DescribeProjects",
            "arn:aws:rekognition:eu-west-1:123456789012:project/x/*",
        ),
        "rekognition:DescribeProjects has no resource type in the reference",
    ),
    (
        "function-code-call-not-granted",
        "iam",
        _drop_action(TRAINING, "TrainingEvaluateRoleDefaultPolicy", "s3:PutObject"),
        "s3.PutObject at rekognition_training/evaluate.py",
    ),
    (
        "grant-under-a-condition-the-request-never-carries",
        "iam",
        _regrant(
            TRAINING,
            TRAINING_POLICY,
            "rekognition:DescribeDataset",
            "*",
            {"StringLike": {"s3:prefix": ["models/*"]}},
        ),
        "condition key(s) ['s3:prefix'] are not available for rekognition:DescribeDataset",
    ),
    (
        "invalid-condition-key",
        "policy",
        _regrant(
            TRAINING,
            TRAINING_POLICY,
            "s3:GetBucketLocation",
            "arn:aws:s3:::somebucket",
            {"StringLike": {"s3:prefix": ["models/*"]}},
        ),
        "condition key s3:prefix is not available for s3:GetBucketLocation",
    ),
    (
        "misspelt-action",
        "policy",
        _regrant(TRAINING, TRAINING_POLICY, "rekognition:describeProjects", "*"),
        "rekognition:describeProjects is not an action of the reference "
        "(the reference spells it rekognition:DescribeProjects)",
    ),
    (
        "create-grant-for-anyone",
        "policy",
        _regrant(TRAINING, TRAINING_POLICY, "kms:CreateGrant", "*"),
        "kms:CreateGrant is allowed without Bool kms:GrantIsForAWSResource=true",
    ),
    (
        "writer-without-the-queue-key",
        "kms",
        _drop_action(
            "-rekognition-inference", "InferenceControllerRoleDefaultPolicy", "kms:GenerateDataKey"
        ),
        "Lambda writes failed asynchronous events with the function's role, "
        "but no statement allows kms:GenerateDataKey",
    ),
    (
        "topic-publisher-without-the-topic-key",
        "kms",
        _drop_action(TRAINING, TRAINING_POLICY, "kms:Decrypt"),
        "may send to AlertsTopic",
    ),
    (
        "bucket-reader-without-the-bucket-key",
        "kms",
        _drop_action(TRAINING, "TrainingEvaluateRoleDefaultPolicy", "kms:Decrypt"),
        "may s3:GetObject in ArtifactsBucket",
    ),
    (
        "service-without-the-key",
        "kms",
        _drop_key_policy_statement("AllowCloudWatchAlarms"),
        "cloudwatch.amazonaws.com sends to AlertsTopic",
    ),
    ("alarm-without-a-name", "alarms", _unnamed_alarm(), "no AlarmName"),
    (
        "composite-of-a-missing-alarm",
        "alarms",
        _composite_of_a_missing_alarm(),
        "AlarmRule names 'imgclf-dev-renamed-alarm'",
    ),
    (
        "alarm-rule-that-duplicates",
        "alarms",
        _alarm_rule_without_exclusions(),
        "(notified otherwise: no duplicates)",
    ),
    ("alarm-rule-without-ok", "alarms", _alarm_rule_for_alarms_only(), "misses the documented OK"),
]


@pytest.mark.parametrize(
    ("check", "mutation", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_check_reports_the_defect(
    contract_environments: dict[str, Environment], check: str, mutation: Mutation, expected: str
) -> None:
    env = contract_environments["dev"]
    templates = copy.deepcopy(env.templates)
    mutation(templates, env)
    broken = Environment(env.name, templates, env.account, env.region)
    findings = checks.ALL_CHECKS[check](broken)
    assert any(expected in str(f) for f in findings), (
        f"expected a finding containing {expected!r}, got:\n{checks.render(findings) or 'none'}"
    )
    # It names where: the stack and the logical ID.
    assert all("imgclf-dev-" in f.where for f in findings)


def test_parliament_reports_an_unexplained_finding(
    contract_environments: dict[str, Environment],
) -> None:
    env = contract_environments["dev"]
    templates = copy.deepcopy(env.templates)
    _regrant(
        TRAINING,
        TRAINING_POLICY,
        "s3:GetBucketLocation",
        "arn:aws:s3:::somebucket",
        {"StringLike": {"s3:prefix": ["models/*"]}},
    )(templates, env)
    standing, _ = lint(Environment(env.name, templates, env.account, env.region))
    assert any(
        "UNKNOWN_CONDITION_FOR_ACTION" in line and "GetBucketLocation" in line for line in standing
    )
