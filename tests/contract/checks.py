"""The contract checks: each takes an environment's templates and returns what AWS would refuse.

A finding names the template (stack), the logical ID, the state or function, and the evidence
from the oracle (the service model's members, the authorization reference's entry). Every
check is proven to fire by ``test_mutations.py`` on deliberately broken copies of the templates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape

from tests.contract import authorization as reference
from tests.contract import code
from tests.contract import service_models as models
from tests.contract.alarms import alarm_contracts
from tests.contract.asl import (
    Machine,
    State,
    asserted_present,
    paths_in,
    segments,
    string_comparisons,
)
from tests.contract.cfn import Environment, Statement
from tests.contract.integrations import JSON_MEMBERS, STATES_ERRORS, Integration, describe

_FUNCTION_ARN = re.compile(r"^arn:aws:lambda:[^:]+:[^:]+:function:(?P<name>[^:]+)")


@dataclass(frozen=True)
class Finding:
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


@dataclass
class Tally:
    """What the checks looked at (for the report and to prove they looked at something)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def machines(env: Environment) -> list[Machine]:
    return [Machine.build(stack, lid, asl) for stack, lid, asl in env.state_machines()]


def _where(machine: Machine, state: State) -> str:
    scope = f"{state.scope}/" if state.scope else ""
    return f"{machine.label} state {scope}{state.name}"


# --- 1. Task parameters ------------------------------------------------------------------------


def task_parameters(env: Environment, tally: Tally | None = None) -> list[Finding]:
    """Operation exists; every parameter is a member; required ones present; literals typed."""
    tally = tally or Tally()
    findings: list[Finding] = []
    for machine in machines(env):
        for state in machine.tasks():
            tally.add("tasks")
            integration = describe(state.body["Resource"])
            where = _where(machine, state)
            if integration.problem:
                findings.append(Finding("task", where, integration.problem))
                continue
            if integration.kind == "function":
                continue  # the payload is the function's own contract
            shape = integration.operation.input_shape
            parameters = state.body.get("Parameters", {})
            findings += [
                Finding("task", where, f"{integration.api_name}: {problem}")
                for problem in _structure_problems(
                    parameters, shape, "Parameters", integration, tally
                )
            ]
        for state in machine.all_states():
            if "ItemReader" in state.body:
                tally.add("tasks")
                reader = state.body["ItemReader"]
                integration = describe(reader["Resource"])
                findings += [
                    Finding("task", _where(machine, state), f"ItemReader {problem}")
                    for problem in _structure_problems(
                        reader.get("Parameters", {}),
                        integration.operation.input_shape,
                        "Parameters",
                        integration,
                        tally,
                    )
                ]
            if "ResultWriter" in state.body:
                tally.add("tasks")
                writer = state.body["ResultWriter"]
                # ASL: a ResultWriter takes Bucket and Prefix; Step Functions names the files.
                unknown = set(writer.get("Parameters", {})) - {
                    "Bucket",
                    "Prefix",
                    "Bucket.$",
                    "Prefix.$",
                }
                if writer.get("Resource", "").rsplit(":", 1)[-1] != "putObject" or unknown:
                    findings.append(
                        Finding(
                            "task",
                            _where(machine, state),
                            f"ResultWriter must be s3:putObject with Bucket and Prefix: {writer}",
                        )
                    )
    return findings


def _structure_problems(
    parameters: Any,
    shape: Shape | None,
    where: str,
    integration: Integration,
    tally: Tally,
    exempt_required: set[str] | None = None,
) -> Iterator[str]:
    if shape is None:
        if parameters:
            yield f"{where}: the operation takes no input, got {sorted(parameters)}"
        return
    if not isinstance(parameters, dict):
        yield f"{where}: expected an object for {shape.name}, got {parameters!r}"
        return
    members = {_pascal(name): name for name in models.member_names(shape)}
    given = {key[:-2] if key.endswith(".$") else key for key in parameters}
    for key, value in parameters.items():
        tally.add("parameters")
        name = key[:-2] if key.endswith(".$") else key
        if name not in members:
            yield (
                f"{where}.{name} is not a member of {shape.name} "
                f"(members: {', '.join(sorted(members))})"
            )
            continue
        if key.endswith(".$"):
            continue  # read from the state data: checked by result_reads
        member = shape.members[members[name]]  # type: ignore[attr-defined]
        if (integration.sfn_service, name) in JSON_MEMBERS:
            continue
        yield from _literal_problems(value, member, f"{where}.{name}", integration, tally)
    required = getattr(shape, "required_members", [])
    for name in required:
        if _pascal(name) not in given and _pascal(name) not in (exempt_required or set()):
            yield f"{where}: required member {_pascal(name)} of {shape.name} is missing"


def _literal_problems(
    value: Any, shape: Shape, where: str, integration: Integration, tally: Tally
) -> Iterator[str]:
    kind = shape.type_name
    if kind == "structure":
        yield from _structure_problems(value, shape, where, integration, tally)
        return
    if kind == "list":
        if not isinstance(value, list):
            yield f"{where}: {shape.name} is a list, got {value!r}"
            return
        for index, item in enumerate(value):
            yield from _literal_problems(
                item,
                shape.member,
                f"{where}[{index}]",
                integration,
                tally,  # type: ignore[attr-defined]
            )
        return
    if kind == "map":
        if not isinstance(value, dict):
            yield f"{where}: {shape.name} is a map, got {value!r}"
            return
        for key, item in value.items():
            target = key[:-2] if key.endswith(".$") else key
            if key.endswith(".$"):
                continue
            yield from _literal_problems(
                item,
                shape.value,
                f"{where}.{target}",
                integration,
                tally,  # type: ignore[attr-defined]
            )
        return
    expected: tuple[type, ...] = {
        "string": (str,),
        "integer": (int,),
        "long": (int,),
        "float": (int, float),
        "double": (int, float),
        "boolean": (bool,),
        "timestamp": (str, int, float),
        "blob": (str,),
    }.get(kind, (object,))
    if isinstance(value, bool) and kind != "boolean":
        yield f"{where}: {shape.name} is {kind}, got {value!r}"
        return
    if not isinstance(value, expected):
        yield f"{where}: {shape.name} is {kind}, got {value!r}"
        return
    if kind == "string" and shape.enum and value not in shape.enum:
        yield f"{where}: {value!r} is not one of {shape.name}'s values {list(shape.enum)}"
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    measure = len(value) if kind == "string" else value if kind in {"integer", "long"} else None
    if measure is not None and (
        (low is not None and measure < low) or (high is not None and measure > high)
    ):
        yield f"{where}: {value!r} is outside {shape.name}'s range [{low}, {high}]"


def _pascal(name: str) -> str:
    return name[0].upper() + name[1:]


# --- 2. Result selectors and the reads of task results -----------------------------------------


def result_paths(env: Environment, tally: Tally | None = None) -> list[Finding]:
    """Every ResultSelector path, and every later read of a Task's ResultPath, exists."""
    tally = tally or Tally()
    findings: list[Finding] = []
    for machine in machines(env):
        results = _result_function(machine)
        for state in machine.tasks():
            selector = state.body.get("ResultSelector")
            if not selector:
                continue
            output = results(state)
            for key, expression in _selector_paths(selector):
                tally.add("output paths")
                _, problem = models.resolve_segments(output, segments(expression))
                if problem:
                    findings.append(
                        Finding(
                            "output",
                            _where(machine, state),
                            f"ResultSelector.{key} reads {expression}: {problem} "
                            f"(output of {describe(state.body['Resource']).api_name})",
                        )
                    )
        for state in machine.all_states():
            for read in machine.reads(state):
                tally.add("state reads")
                for value, writer, rest in values_at(machine, state, read.path, results):
                    if isinstance(value, models.Opaque):
                        continue
                    tally.add("typed reads")
                    _, problem = models.resolve_segments(value, rest)
                    if problem:
                        findings.append(
                            Finding(
                                "output",
                                _where(machine, state),
                                f"{read.where} reads {read.path}, but {writer} writes "
                                f"there a value where {problem}",
                            )
                        )
    return findings


def _selector_paths(selector: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in selector.items():
        if key.endswith(".$") and isinstance(value, str):
            for path in paths_in(value):
                if path.startswith("$") and not path.startswith("$$"):
                    yield f"{prefix}{key}", path
        elif isinstance(value, dict):
            yield from _selector_paths(value, f"{prefix}{key}.")


def _result_function(machine: Machine) -> Any:
    def result_of(state: State) -> object:
        integration = describe(state.body["Resource"])
        if integration.problem:
            return models.Opaque("unknown operation")
        return integration.output()

    return result_of


def values_at(
    machine: Machine, state: State, path: str, result_of: Any
) -> list[tuple[object, str, list[str]]]:
    """(value, writer, remaining segments) for each nearest writer of ``path`` before ``state``."""
    wanted = segments(path)
    found: list[tuple[object, str, list[str]]] = []
    seen: set[tuple[str, str]] = set()

    def visit(current: State) -> None:
        key = (current.scope, current.name)
        if key in seen:
            return
        seen.add(key)
        if machine.starts[current.scope] == current.name:
            found.append(
                (
                    machine.scope_inputs[current.scope],
                    f"the input of scope {current.scope or '$'}",
                    wanted,
                )
            )
        for previous, kind in machine.predecessors(current):
            if kind.startswith("choice") and kind != "choice-default":
                rule = previous.body["Choices"][int(kind[6:])]
                if any(segments(p)[: len(wanted)] == wanted for p in asserted_present(rule)):
                    found.append((models.Opaque("proven present"), previous.name, []))
                    continue
            written = machine.written(previous, kind, result_of)
            if written is None:
                visit(previous)
                continue
            result_path, value = written
            target = segments(result_path)
            if wanted[: len(target)] == target:
                found.append((value, f"state {previous.name} ({kind})", wanted[len(target) :]))
            elif target[: len(wanted)] == wanted:
                found.append((models.Opaque("partly written"), previous.name, []))
            else:
                visit(previous)

    visit(state)
    return found


# --- 3. Choice comparisons against API enums ---------------------------------------------------


def choice_enums(env: Environment, tally: Tally | None = None) -> list[Finding]:
    tally = tally or Tally()
    findings: list[Finding] = []
    for machine in machines(env):
        results = _result_function(machine)
        for state in machine.all_states():
            if state.type != "Choice":
                continue
            for rule in state.body.get("Choices", []):
                for variable, literal in string_comparisons(rule):
                    for value, writer, rest in values_at(machine, state, variable, results):
                        resolved, _ = models.resolve_segments(value, rest)
                        enum = models.enum_of(resolved) if resolved is not None else None
                        if enum is None:
                            continue
                        tally.add("enum comparisons")
                        if literal not in enum:
                            findings.append(
                                Finding(
                                    "enum",
                                    _where(machine, state),
                                    f"compares {variable} (written by {writer}) with {literal!r}, "
                                    f"not a value of {resolved.name}: {enum}",  # type: ignore[union-attr]
                                )
                            )
    return findings


# --- 4. Error names ----------------------------------------------------------------------------


def error_names(env: Environment, tally: Tally | None = None) -> list[Finding]:
    """Every ErrorEquals names an error the integration (or the function's code) can raise."""
    tally = tally or Tally()
    findings: list[Finding] = []
    functions = _functions_by_arn(env)
    for machine in machines(env):
        raised_in_scope: dict[str, set[str]] = {}
        for state in machine.all_states():
            allowed = _allowed_errors(env, state, functions)
            raised_in_scope.setdefault(state.scope, set()).update(allowed)
            if state.type == "Fail" and "Error" in state.body:
                raised_in_scope[state.scope].add(state.body["Error"])
        for state in machine.all_states():
            if state.type in {"Map", "Parallel"}:
                prefix = f"{state.scope}/{state.name}".lstrip("/")
                allowed = set().union(
                    *(names for scope, names in raised_in_scope.items() if scope.startswith(prefix))
                )
                allowed |= STATES_ERRORS
            elif state.type == "Task":
                allowed = _allowed_errors(env, state, functions)
            else:
                continue
            for kind in ("Retry", "Catch"):
                for rule in state.body.get(kind, []):
                    for name in rule["ErrorEquals"]:
                        tally.add("error names")
                        if name not in allowed:
                            findings.append(
                                Finding(
                                    "errors",
                                    _where(machine, state),
                                    f"{kind} on {name!r}, which {_raiser(state)} never raises "
                                    f"(it can raise: {_summary(allowed)})",
                                )
                            )
    return findings


def _raiser(state: State) -> str:
    resource = state.body.get("Resource")
    return f"{resource}" if resource else f"the {state.type}'s states"


def _summary(names: set[str] | frozenset[str]) -> str:
    shown = sorted(n for n in names if not n.startswith("States."))
    return ", ".join(shown[:40]) + (" ..." if len(shown) > 40 else "") + " and States.*"


def _allowed_errors(
    env: Environment, state: State, functions: dict[str, tuple[str, str, dict[str, Any]]]
) -> set[str]:
    if state.type != "Task":
        return set()
    integration = describe(state.body["Resource"])
    allowed = set(integration.error_names())
    target = _invoked_function(state, integration)
    if target is not None and target in functions:
        handler = functions[target][2]["Properties"]["Handler"].rsplit(".", 1)[0]
        allowed |= code.exception_names(handler)
    return allowed


def _invoked_function(state: State, integration: Integration) -> str | None:
    if integration.kind == "function":
        return str(state.body["Resource"])
    if integration.sfn_service == "lambda":
        name = state.body.get("Parameters", {}).get("FunctionName")
        return str(name) if name else None
    return None


def _functions_by_arn(env: Environment) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {env.arn(stack, lid): (stack, lid, res) for stack, lid, res in env.functions()}


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
                        f"{_where(machine, state)} (role {role})",
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


# --- 7. KMS for encrypted queues and topics -----------------------------------------------------


def kms_writers(env: Environment, tally: Tally | None = None) -> list[Finding]:
    """Whoever sends to a KMS-encrypted queue or topic can use its key."""
    tally = tally or Tally()
    findings: list[Finding] = []
    encrypted: dict[str, tuple[str, str, str]] = {}  # ARN -> (stack, logical id, key ARN)
    for kind in ("AWS::SQS::Queue", "AWS::SNS::Topic"):
        for stack, logical_id, resource in env.resources(kind):
            key = resource.get("Properties", {}).get("KmsMasterKeyId")
            if key is not None:
                encrypted[env.arn(stack, logical_id)] = (
                    stack,
                    logical_id,
                    str(env.resolve(stack, key)),
                )
    roles = [(stack, logical_id) for stack, logical_id, _ in env.resources("AWS::IAM::Role")]
    for stack, role in roles:
        statements = env.identity_statements(stack, role)
        for target, (_, target_id, key_arn) in encrypted.items():
            action = "sns:Publish" if ":sns:" in target else "sqs:SendMessage"
            if not any(
                reference.resource_matches(resource, target)
                for s in reference.statements_allowing(statements, action)
                for resource in s.resources
            ):
                continue
            tally.add("KMS writers")
            for needed in ("kms:GenerateDataKey", "kms:Decrypt"):
                verdict = reference.check_grant(statements, needed, key_arn)
                if verdict.problem:
                    findings.append(
                        Finding(
                            "kms",
                            f"{stack}/{role}",
                            f"may send to {target_id} (encrypted with {key_arn}) "
                            f"but {verdict.problem}",
                        )
                    )
    for stack, logical_id, resource in env.functions():
        dead_letter = resource["Properties"].get("DeadLetterConfig", {}).get("TargetArn")
        if dead_letter and str(env.resolve(stack, dead_letter)) in encrypted:
            target = str(env.resolve(stack, dead_letter))
            role = env.role_of(stack, logical_id)
            statements = env.identity_statements(stack, role or "")
            tally.add("KMS writers")
            for needed in ("sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"):
                verdict = reference.check_grant(
                    statements, needed, target if needed.startswith("sqs") else encrypted[target][2]
                )
                if verdict.problem:
                    findings.append(
                        Finding(
                            "kms",
                            f"{stack}/{logical_id} (dead-letter queue {encrypted[target][1]})",
                            f"Lambda writes failed asynchronous events with the function's role, "
                            f"but {verdict.problem}",
                        )
                    )
    findings += _service_writers(env, encrypted, tally)
    findings += _bucket_users(env, tally)
    return findings


#: What an S3 request under SSE-KMS needs of the key (S3 User Guide, "Using SSE-KMS": reads
#: decrypt the data key, writes generate one).
_S3_KMS_NEEDS = {
    "s3:GetObject": "kms:Decrypt",
    "s3:GetObjectVersion": "kms:Decrypt",
    "s3:PutObject": "kms:GenerateDataKey",
}


def _bucket_users(env: Environment, tally: Tally) -> list[Finding]:
    """Whoever reads or writes objects of a bucket encrypted with a KMS key can use that key."""
    buckets: dict[str, tuple[str, str]] = {}  # bucket ARN -> (logical id, key ARN)
    for stack, logical_id, resource in env.resources("AWS::S3::Bucket"):
        rules = (
            resource.get("Properties", {})
            .get("BucketEncryption", {})
            .get("ServerSideEncryptionConfiguration", [])
        )
        for rule in rules:
            default = rule.get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") == "aws:kms" and "KMSMasterKeyID" in default:
                key = str(env.resolve(stack, default["KMSMasterKeyID"]))
                buckets[env.arn(stack, logical_id)] = (logical_id, key)
    findings = []
    for stack, role, _ in env.resources("AWS::IAM::Role"):
        statements = env.identity_statements(stack, role)
        for bucket_arn, (bucket_id, key_arn) in buckets.items():
            for s3_action, kms_action in _S3_KMS_NEEDS.items():
                uses = any(
                    reference.patterns_intersect(resource, f"{bucket_arn}/${{ObjectName}}")
                    for statement in reference.statements_allowing(statements, s3_action)
                    for resource in statement.resources
                )
                if not uses:
                    continue
                tally.add("KMS bucket users")
                verdict = reference.check_grant(statements, kms_action, key_arn)
                if verdict.problem:
                    findings.append(
                        Finding(
                            "kms",
                            f"{stack}/{role}",
                            f"may {s3_action} in {bucket_id} (SSE-KMS with {key_arn}) "
                            f"but {verdict.problem}",
                        )
                    )
    return findings


def _service_writers(
    env: Environment, encrypted: dict[str, tuple[str, str, str]], tally: Tally
) -> list[Finding]:
    """Services that send on our behalf need the key policy to let them use the key."""
    writers: list[tuple[str, str, str]] = []  # (service principal, target ARN, via)
    for stack, logical_id, resource in env.resources("AWS::SNS::Subscription"):
        properties = resource["Properties"]
        if properties.get("Protocol") == "sqs":
            writers.append(
                (
                    "sns.amazonaws.com",
                    str(env.resolve(stack, properties["Endpoint"])),
                    f"{stack}/{logical_id}",
                )
            )
        if "RedrivePolicy" in properties:
            dlq = env.resolve(stack, properties["RedrivePolicy"]).get("deadLetterTargetArn")
            writers.append(("sns.amazonaws.com", str(dlq), f"{stack}/{logical_id} redrive"))
    for stack, logical_id, resource in env.resources("AWS::Events::Rule"):
        for target in resource["Properties"].get("Targets", []):
            arn = str(env.resolve(stack, target["Arn"]))
            if ":sqs:" in arn or ":sns:" in arn:
                writers.append(("events.amazonaws.com", arn, f"{stack}/{logical_id}"))
            dead = target.get("DeadLetterConfig", {}).get("Arn")
            if dead:
                writers.append(
                    (
                        "events.amazonaws.com",
                        str(env.resolve(stack, dead)),
                        f"{stack}/{logical_id} DLQ",
                    )
                )
    for stack, logical_id, resource in env.resources("AWS::CloudWatch::Alarm"):
        properties = resource["Properties"]
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in properties.get(key, []):
                writers.append(
                    (
                        "cloudwatch.amazonaws.com",
                        str(env.resolve(stack, action)),
                        f"{stack}/{logical_id}",
                    )
                )
    key_policies = {
        env.arn(stack, lid): env.resolve(stack, res["Properties"]["KeyPolicy"])
        for stack, lid, res in env.resources("AWS::KMS::Key")
    }
    findings = []
    for principal, target, via in writers:
        if target not in encrypted:
            continue
        key_arn = encrypted[target][2]
        tally.add("KMS writers")
        policy = key_policies.get(key_arn)
        if policy is None:
            continue  # a key of another environment: not ours to check
        statements = [
            Statement.parse(s, "key policy")
            for s in policy["Statement"]
            if principal
            in _as_tuple(
                s.get("Principal", {}).get("Service")
                if isinstance(s.get("Principal"), dict)
                else None
            )
        ]
        for needed in ("kms:GenerateDataKey", "kms:Decrypt"):
            if not reference.statements_allowing(statements, needed):
                findings.append(
                    Finding(
                        "kms",
                        via,
                        f"{principal} sends to {encrypted[target][1]} (encrypted with {key_arn}), "
                        f"but the key policy does not allow it {needed}",
                    )
                )
    return findings


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


ALL_CHECKS = {
    "task": task_parameters,
    "output": result_paths,
    "enum": choice_enums,
    "errors": error_names,
    "iam": iam_grants,
    "policy": policy_documents,
    "kms": kms_writers,
    "alarms": alarm_contracts,
}


def render(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings)
