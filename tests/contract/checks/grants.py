"""IAM grants against what each Task and each function's code calls; every policy's form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.contract import authorization as reference
from tests.contract import code
from tests.contract import service_models as models
from tests.contract.asl import (
    Machine,
    State,
)
from tests.contract.cfn import Environment, Statement
from tests.contract.checks.findings import Finding, Tally, machines, place
from tests.contract.integrations import Integration, describe

# --- 5. IAM: tasks and function code -----------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """An IAM action a principal needs, for what, and (when known) on which resource."""

    action: str
    why: str
    target: str | None = None


def task_needs(env: Environment, machine: Machine) -> Iterator[tuple[State, Need]]:
    """The IAM actions each Task of ``machine`` needs, with the resource when the ASL names it."""
    for state in machine.tasks():
        integration = describe(state.body["Resource"])
        if integration.problem:
            continue
        parameters = state.body.get("Parameters", {})
        why = f"{integration.resource}"
        if integration.kind == "function":
            yield state, Need("lambda:InvokeFunction", why, str(state.body["Resource"]))
            continue
        for action in integration.iam_actions():
            target = _target(env, action, parameters, integration)
            yield state, Need(action, why, target)
        if "Tags" in parameters and integration.botocore_service == "sagemaker":
            yield state, Need("sagemaker:AddTags", f"{why} with Tags")
        for key, value in parameters.items():
            if key in {"RoleArn", "ExecutionRoleArn"} and isinstance(value, str):
                yield state, Need("iam:PassRole", f"{why} passes {key}", value)
    for state in machine.all_states():
        body = state.body
        if "ItemReader" in body:
            bucket = body["ItemReader"].get("Parameters", {}).get("Bucket")
            target = f"arn:aws:s3:::{bucket}" if isinstance(bucket, str) else None
            yield state, Need("s3:ListBucket", "Distributed Map ItemReader", target)
        if "ResultWriter" in body:
            params = body["ResultWriter"].get("Parameters", {})
            # Step Functions writes <Prefix>/<execution id>/manifest.json and the results files.
            prefix = str(params.get("Prefix", "")).rstrip("/")
            target = f"arn:aws:s3:::{params.get('Bucket')}/{prefix}/execution/manifest.json"
            yield state, Need("s3:PutObject", "Distributed Map ResultWriter", target)
        processor = body.get("ItemProcessor", {})
        if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            own = env.arn(machine.stack, machine.logical_id)
            yield state, Need("states:StartExecution", "Distributed Map child executions", own)


def _target(
    env: Environment, action: str, parameters: dict[str, Any], integration: Integration
) -> str | None:
    service = action.split(":")[0]
    if action.startswith("events:"):
        rule = {
            "CreateTrainingJob": "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
            "StartExecution": "StepFunctionsGetEventsForStepFunctionsExecutionRule",
        }.get(integration.operation.name)
        return f"arn:aws:events:{env.region}:{env.account}:rule/{rule}" if rule else None
    if service == "ssm" and isinstance(parameters.get("Name"), str):
        return f"arn:aws:ssm:{env.region}:{env.account}:parameter/{parameters['Name'].lstrip('/')}"
    if service == "lambda" and isinstance(parameters.get("FunctionName"), str):
        return str(parameters["FunctionName"])
    for key, value in parameters.items():
        if (
            isinstance(value, str)
            and not key.endswith(".$")
            and value.startswith(f"arn:aws:{service}:")
            and key not in {"RoleArn", "ExecutionRoleArn", "KmsKeyId"}
        ):
            return value
    return None


def code_needs(env: Environment, stack: str, logical_id: str) -> Iterator[Need]:
    """The IAM actions a function's code needs, and its asynchronous dead-letter queue."""
    properties = env.resource(stack, logical_id)["Properties"]
    handler = properties["Handler"].rsplit(".", 1)[0]
    for call in code.aws_calls(handler):
        actions = models.iam_actions_for(call.service, call.operation)
        if (
            call.service == "s3"
            and call.operation in {"GetObject", "HeadObject"}
            and ("VersionId" in call.keywords)
        ):
            actions = ("s3:GetObjectVersion",)
        for action in actions:
            yield Need(action, f"{call.service}.{call.operation} at {call.where}")
    dead_letter = properties.get("DeadLetterConfig", {}).get("TargetArn")
    if dead_letter:
        target = str(env.resolve(stack, dead_letter))
        action = "sns:Publish" if ":sns:" in target else "sqs:SendMessage"
        yield Need(action, "asynchronous invocation dead-letter queue", target)


def iam_grants(env: Environment, tally: Tally | None = None) -> list[Finding]:
    """Each Task's and each function's role allows what it does, on a matching resource type."""
    tally = tally or Tally()
    findings: list[Finding] = []
    for machine in machines(env):
        role = env.role_of(machine.stack, machine.logical_id)
        assert role is not None, machine.label
        statements = env.identity_statements(machine.stack, role)
        for state, need in task_needs(env, machine):
            tally.add("IAM grants (tasks)")
            verdict = reference.check_grant(statements, need.action, need.target)
            if verdict.problem:
                findings.append(
                    Finding(
                        "iam",
                        f"{place(machine, state)} (role {role})",
                        f"{need.why}: {verdict.problem}",
                    )
                )
    for stack, logical_id, resource in env.functions():
        role = env.role_of(stack, logical_id)
        assert role is not None, logical_id
        statements = env.identity_statements(stack, role)
        for need in code_needs(env, stack, logical_id):
            tally.add("IAM grants (function code)")
            if "at " in need.why:
                tally.add("boto3 calls")
            verdict = reference.check_grant(statements, need.action, need.target)
            if verdict.problem:
                findings.append(
                    Finding(
                        "iam",
                        f"{stack}/{logical_id} ({resource['Properties']['Handler']}, role {role})",
                        f"{need.why}: {verdict.problem}",
                    )
                )
    return findings


# --- 6. Every policy document: actions, condition keys, house rules ----------------------------


def policy_documents(env: Environment, tally: Tally | None = None) -> list[Finding]:
    tally = tally or Tally()
    findings: list[Finding] = []
    for document in env.policy_documents():
        for statement in document.statements:
            where = f"{document.stack}/{document.logical_id}" + (
                f" statement {statement.sid}" if statement.sid else ""
            )
            # Explicitly named actions must each take a condition key; a wildcard pattern must
            # match at least one action that takes it (else the condition never holds for it).
            entries = []
            wildcard_groups: list[tuple[str, list[reference.ActionEntry]]] = []
            for pattern in statement.actions:
                tally.add("policy actions")
                if pattern == "*" or pattern.startswith("sts:AssumeRole"):
                    if pattern.startswith("sts:") and reference.action(pattern) is None:
                        findings.append(Finding("policy", where, f"unknown action {pattern}"))
                    continue
                expanded = reference.expand(pattern)
                if "*" in pattern or "?" in pattern:
                    if not expanded:
                        findings.append(Finding("policy", where, f"{pattern} matches no action"))
                    wildcard_groups.append(
                        (pattern, [e for e in (reference.action(a) for a in expanded) if e])
                    )
                    continue
                entry = reference.action(pattern)
                if entry is None:
                    near = reference.spelled_like(pattern)
                    hint = f" (the reference spells it {near})" if near else ""
                    findings.append(
                        Finding(
                            "policy", where, f"{pattern} is not an action of the reference{hint}"
                        )
                    )
                    continue
                entries.append(entry)
            for block in statement.conditions.values():
                for key in block:
                    tally.add("condition keys")
                    for entry in entries:
                        if not reference.condition_key_allowed(key, entry):
                            findings.append(
                                Finding(
                                    "policy",
                                    where,
                                    f"condition key {key} is not available for {entry.name} "
                                    f"(reference: {list(entry.condition_keys) or 'no keys'})",
                                )
                            )
                    for pattern, group in wildcard_groups:
                        if group and not any(
                            reference.condition_key_allowed(key, e) for e in group
                        ):
                            findings.append(
                                Finding(
                                    "policy",
                                    where,
                                    f"condition key {key} is available for none of the actions "
                                    f"{pattern} matches ({[e.name for e in group]})",
                                )
                            )
            findings += _house_rules(statement, where)
    return findings


def _house_rules(statement: Statement, where: str) -> list[Finding]:
    findings = []
    grants_for_services = statement.conditions.get("Bool", {}).get("kms:GrantIsForAWSResource")
    if (
        statement.effect == "Allow"
        and any(reference.action_matches(p, "kms:CreateGrant") for p in statement.actions)
        and not statement.principals
        and grants_for_services != ("true",)
    ):
        findings.append(
            Finding(
                "policy",
                where,
                "kms:CreateGrant is allowed without Bool kms:GrantIsForAWSResource=true: "
                "any grant, not only the ones an AWS service creates for this principal",
            )
        )
    return findings
