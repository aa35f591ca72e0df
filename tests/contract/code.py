"""The AWS calls and the exception names of each function's code, found statically.

Starting at the module a function's ``Handler`` names, imports are followed through every
package under ``lambda_src/`` (``shared/`` included). A call counts as an AWS call when its
method is an operation (snake_case) of a service the reachable code creates a boto3 client for
(``boto3.client("s3")``, or a ``client("s3")`` factory); ``get_paginator("op")`` counts as
``op``.
"""

from __future__ import annotations

import ast
import builtins
import functools
from dataclasses import dataclass
from pathlib import Path

import botocore
import botocore.session

from tests.contract import service_models as models

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"

#: Methods every boto3 client has that call no API.
_CLIENT_HELPERS = {"get_paginator", "get_waiter", "can_paginate", "close", "generate_presigned_url"}


@dataclass(frozen=True)
class AwsCall:
    service: str  # botocore service name
    operation: str  # API operation name (PascalCase)
    keywords: frozenset[str]  # keyword arguments given at the call
    where: str  # "path:line"


def _module_path(module: str) -> Path | None:
    base = LAMBDA_SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _packages() -> set[str]:
    return {p.name for p in LAMBDA_SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


@functools.cache
def closure(handler_module: str) -> tuple[Path, ...]:
    """Every lambda_src module reachable by imports from ``handler_module``."""
    packages = _packages()
    seen: dict[str, Path] = {}
    todo = [handler_module]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_path(module)
        if path is None:
            continue
        seen[module] = path
        # A package's __init__ runs when any of its modules is imported.
        parent = module.rpartition(".")[0]
        if parent:
            todo.append(parent)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = module if path.name == "__init__.py" else parent
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.split(".")[0] in packages]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] not in packages:
                    continue
                todo.append(target)
                todo += [f"{target}.{a.name}" for a in node.names]
    return tuple(sorted(seen.values()))


def _trees(handler_module: str) -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in closure(handler_module)]


def created_services(handler_module: str) -> set[str]:
    """Services the reachable code makes boto3 clients for (``boto3.client("<literal>")``)."""
    services: set[str] = set()
    for _, tree in _trees(handler_module):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and _called_name(node) == "client"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                services.add(node.args[0].value)
    return services & set(botocore.session.get_session().get_available_services())


def _called_name(node: ast.Call) -> str | None:
    """``client`` for ``boto3.client(...)``, ``session.client(...)``, a ``client(...)`` factory."""
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


@functools.cache
def _methods(service: str) -> dict[str, str]:
    model = models.service(service)
    return {botocore.xform_name(name): name for name in model.operation_names}


def aws_calls(handler_module: str) -> list[AwsCall]:
    """Every AWS call the reachable code can make, by service and operation."""
    services = sorted(created_services(handler_module))
    calls: list[AwsCall] = []
    for path, tree in _trees(handler_module):
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method = node.func.attr
            where = f"{path.relative_to(LAMBDA_SRC)}:{node.lineno}"
            keywords = frozenset(k.arg for k in node.keywords if k.arg)
            if method in {"get_paginator", "get_waiter"} and node.args:
                argument = node.args[0]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    method = argument.value
                    keywords = frozenset()
            if method in _CLIENT_HELPERS:
                continue
            for service in services:
                operation = _methods(service).get(method)
                if operation is not None:
                    calls.append(AwsCall(service, operation, keywords, where))
    return calls


def exception_names(handler_module: str) -> set[str]:
    """Names of the exception classes the reachable code defines (a function's error names)."""
    classes: dict[str, list[str]] = {}
    for _, tree in _trees(handler_module):
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes[node.name] = [
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                ]
    builtin = {
        name
        for name in dir(builtins)
        if isinstance(getattr(builtins, name), type)
        and issubclass(getattr(builtins, name), BaseException)
    }
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, bases in classes.items():
            if name not in found and any(b in builtin or b in found for b in bases):
                found.add(name)
                changed = True
    return found
