"""A synthesized state machine as a graph the contract checks can walk.

Every state of every scope (the top level, Map item processors, Parallel branches) with its
successors, the value each edge writes into the state data, and every JSONPath a state reads.
Data flow is followed backwards: the value at ``$.a.b`` when a state runs is what the nearest
writer of ``$.a`` (or ``$``) on each path leading there put there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.contract import service_models as models

_INTRINSIC = re.compile(r"^States\.[A-Za-z]+\(")
_PATH_IN_INTRINSIC = re.compile(r"(?<![\w'])(\$\$?(?:\.[A-Za-z0-9_@-]+|\[[^\]]*\])*)")


def segments(path: str) -> list[str]:
    """``$.a.b[0].c`` -> ``["a", "b", "[0]", "c"]`` (``$`` -> ``[]``)."""
    body = path[1:] if path.startswith("$") else path
    out: list[str] = []
    for match in re.finditer(r"(\.\.|\.)([^.\[]+)|(\[[^\]]*\])", body):
        dots, name, index = match.groups()
        if name is not None:
            # ``..name`` (deep scan) selects every member of that name, at any depth.
            out.append(f"..{name}" if dots == ".." else name)
        else:
            # A filter, slice or wildcard selects a list; only a plain index selects one item.
            out.append(index if re.fullmatch(r"\[\s*-?\d+\s*\]", index) else "[*]")
    return out


def paths_in(expression: str) -> list[str]:
    """The JSONPaths a ``.$`` value reads: the path itself, or an intrinsic's path arguments."""
    if _INTRINSIC.match(expression):
        return [m.group(1) for m in _PATH_IN_INTRINSIC.finditer(expression)]
    return [expression]


@dataclass
class State:
    name: str
    body: dict[str, Any]
    scope: str  # "" for the top level, "<Map or Parallel name>[/...]" inside

    @property
    def type(self) -> str:
        return str(self.body["Type"])


@dataclass
class Read:
    """One JSONPath a state reads from its input, and where (for messages)."""

    state: State
    path: str
    where: str


@dataclass
class Edge:
    source: State
    target: str
    #: (ResultPath, value written) or None when the edge leaves the data as it was.
    writes: tuple[str, object] | None
    #: the whole data replaced (ResultPath "$" / OutputPath) by this value
    kind: str = "next"


@dataclass
class Machine:
    """One state machine: its states by scope, edges and start states."""

    stack: str
    logical_id: str
    definition: dict[str, Any]
    states: dict[tuple[str, str], State] = field(default_factory=dict)
    starts: dict[str, str] = field(default_factory=dict)
    #: scope -> the value the scope's first state receives
    scope_inputs: dict[str, object] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.stack}/{self.logical_id}"

    @classmethod
    def build(cls, stack: str, logical_id: str, definition: dict[str, Any]) -> Machine:
        machine = cls(stack, logical_id, definition)
        machine._add_scope(definition, "", models.Opaque("execution input"))
        return machine

    def _add_scope(self, definition: dict[str, Any], scope: str, input_value: object) -> None:
        self.starts[scope] = definition["StartAt"]
        self.scope_inputs[scope] = input_value
        for name, body in definition["States"].items():
            state = State(name, body, scope)
            self.states[(scope, name)] = state
            if body["Type"] == "Map":
                processor = body.get("ItemProcessor") or body["Iterator"]
                selector = body.get("ItemSelector") or body.get("Parameters")
                item_input = (
                    literal_shape(selector) if selector is not None else models.Opaque("Map item")
                )
                self._add_scope(processor, f"{scope}/{name}".lstrip("/"), item_input)
            if body["Type"] == "Parallel":
                for index, branch in enumerate(body["Branches"]):
                    self._add_scope(
                        branch, f"{scope}/{name}[{index}]".lstrip("/"), models.Opaque("branch")
                    )

    # --- traversal -------------------------------------------------------------------------

    def tasks(self) -> Iterator[State]:
        for state in self.states.values():
            if state.type == "Task":
                yield state

    def all_states(self) -> Iterator[State]:
        yield from self.states.values()

    def successors(self, state: State) -> Iterator[tuple[str, str]]:
        """(target name, edge kind) of every transition leaving ``state``."""
        body = state.body
        if "Next" in body:
            yield body["Next"], "next"
        if state.type == "Choice":
            for index, choice in enumerate(body.get("Choices", [])):
                yield choice["Next"], f"choice{index}"
            if "Default" in body:
                yield body["Default"], "choice-default"
        for index, catcher in enumerate(body.get("Catch", [])):
            yield catcher["Next"], f"catch{index}"

    def predecessors(self, target: State) -> list[tuple[State, str]]:
        cache = self.__dict__.setdefault("_preds", None)
        if cache is None:
            cache = {}
            for state in self.states.values():
                for name, kind in self.successors(state):
                    key = (state.scope, name)
                    cache.setdefault(key, []).append((state, kind))
            self.__dict__["_preds"] = cache
        result: list[tuple[State, str]] = cache.get((target.scope, target.name), [])
        return result

    # --- what a state writes -----------------------------------------------------------------

    def written(self, state: State, kind: str, result_of: Any) -> tuple[str, object] | None:
        """(ResultPath, value) an edge of ``state`` writes; None = data unchanged.

        ``result_of(state)`` gives a Task's result value (service model or opaque).
        """
        body = state.body
        if kind.startswith("catch"):
            catcher = body["Catch"][int(kind[5:])]
            path = catcher.get("ResultPath", "$")
            return None if path is None else (path, models.ERROR_RECORD)
        if kind.startswith("choice") or state.type in {"Choice", "Wait", "Succeed", "Fail"}:
            return None
        if state.type == "Pass":
            if "Parameters" in body:
                value = literal_shape(body["Parameters"])
            elif "Result" in body:
                value = models.Literal(body["Result"])
            else:
                return None
        elif state.type == "Task":
            value = result_of(state)
            if "ResultSelector" in body:
                value = literal_shape(body["ResultSelector"], source=value)
        elif state.type == "Map":
            value = models.ListOf(models.Opaque("Map results"))
        elif state.type == "Parallel":
            value = models.ListOf(models.Opaque("branch results"))
        else:
            return None
        if "ResultPath" in body and body["ResultPath"] is None:
            return None
        path = body.get("ResultPath", "$")
        if "OutputPath" in body and body["OutputPath"] != "$":
            return "$", models.Opaque(f"OutputPath {body['OutputPath']}")
        return path, value

    # --- what a state reads ------------------------------------------------------------------

    def reads(self, state: State) -> Iterator[Read]:
        body = state.body
        for key in ("InputPath", "ItemsPath", "SecondsPath", "TimestampPath"):
            if isinstance(body.get(key), str) and body[key].startswith("$."):
                yield Read(state, body[key], key)
        for key in ("Parameters", "ItemSelector"):
            if key in body:
                yield from _reads_in(state, body[key], key)
        for key in ("ErrorPath", "CausePath"):
            if key in body:
                for path in paths_in(body[key]):
                    if path.startswith("$."):
                        yield Read(state, path, key)
        if "ItemReader" in body:
            yield from _reads_in(state, body["ItemReader"].get("Parameters", {}), "ItemReader")
        for index, rule in enumerate(body.get("Choices", [])):
            for read in choice_variables(rule):
                yield Read(state, read, f"Choices[{index}]")


def _reads_in(state: State, value: Any, where: str) -> Iterator[Read]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$") and isinstance(item, str):
                for path in paths_in(item):
                    if path.startswith("$.") or path == "$":
                        yield Read(state, path, f"{where}.{key}")
            else:
                yield from _reads_in(state, item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _reads_in(state, item, f"{where}[{index}]")


def choice_variables(rule: dict[str, Any]) -> Iterator[str]:
    """The paths a Choice rule needs to exist (an ``IsPresent`` test needs nothing)."""
    for key in ("And", "Or"):
        for inner in rule.get(key, []):
            yield from choice_variables(inner)
    if "Not" in rule:
        yield from choice_variables(rule["Not"])
    if "Variable" in rule and "IsPresent" not in rule:
        yield rule["Variable"]
    for key, value in rule.items():
        if key.endswith("Path") and isinstance(value, str) and value.startswith("$"):
            yield value


def asserted_present(rule: dict[str, Any]) -> Iterator[str]:
    """Paths a Choice rule, when it matches, proves present (``IsPresent: true``, in ``And``)."""
    if rule.get("IsPresent") is True and "Variable" in rule:
        yield rule["Variable"]
    for inner in rule.get("And", []):
        yield from asserted_present(inner)


def string_comparisons(rule: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(variable, literal) of every StringEquals in a Choice rule, nested rules included."""
    for key in ("And", "Or"):
        for inner in rule.get(key, []):
            yield from string_comparisons(inner)
    if "Not" in rule:
        yield from string_comparisons(rule["Not"])
    if "Variable" in rule and isinstance(rule.get("StringEquals"), str):
        yield rule["Variable"], rule["StringEquals"]


def literal_shape(template: Any, source: object | None = None) -> object:
    """The value a Parameters/ResultSelector/ItemSelector template produces.

    ``key.$`` paths are resolved against ``source`` (a task's raw result) when given, else
    left opaque (they read the state data, checked separately).
    """
    if isinstance(template, dict):
        fields: list[tuple[str, object]] = []
        for key, item in template.items():
            if key.endswith(".$") and isinstance(item, str):
                fields.append((key[:-2], _expression_shape(item, source)))
            else:
                fields.append((key, literal_shape(item, source)))
        return models.Record(tuple(fields))
    return models.Literal(template)


def _expression_shape(expression: str, source: object | None) -> object:
    if source is None or expression.startswith("$$"):
        return models.Opaque(expression)
    if _INTRINSIC.match(expression):
        name = expression.split("(", 1)[0]
        if name == "States.ArrayGetItem":
            (path,) = paths_in(expression)[:1]
            value, _ = models.resolve_segments(source, segments(path))
            if isinstance(value, models.ListOf):
                return value.item
            if isinstance(value, models.Shape) and value.type_name == "list":  # type: ignore[attr-defined]
                return value.member  # type: ignore[attr-defined]
        return models.Opaque(name)
    value, _ = models.resolve_segments(source, segments(expression))
    return value if value is not None else models.Opaque(expression)
