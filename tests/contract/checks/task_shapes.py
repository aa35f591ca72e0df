"""Task parameters, result paths and Choice values against the service models' shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.model import Shape

from tests.contract import service_models as models
from tests.contract.asl import (
    Machine,
    State,
    asserted_present,
    paths_in,
    segments,
    string_comparisons,
)
from tests.contract.cfn import Environment
from tests.contract.checks.findings import Finding, Tally, machines, place
from tests.contract.integrations import JSON_MEMBERS, Integration, describe

# --- 1. Task parameters ------------------------------------------------------------------------


def task_parameters(env: Environment, tally: Tally | None = None) -> list[Finding]:
    """Operation exists; every parameter is a member; required ones present; literals typed."""
    tally = tally or Tally()
    findings: list[Finding] = []
    for machine in machines(env):
        for state in machine.tasks():
            tally.add("tasks")
            integration = describe(state.body["Resource"])
            where = place(machine, state)
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
                    Finding("task", place(machine, state), f"ItemReader {problem}")
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
                            place(machine, state),
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
                            place(machine, state),
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
                                place(machine, state),
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
                                    place(machine, state),
                                    f"compares {variable} (written by {writer}) with {literal!r}, "
                                    f"not a value of {resolved.name}: {enum}",  # type: ignore[union-attr]
                                )
                            )
    return findings
