"""botocore's service models as an oracle: operations, input/output shapes, enums, errors.

And the few published naming rules that connect them to Step Functions and IAM:

- aws-sdk integrations (``arn:aws:states:::aws-sdk:<service>:<apiAction>``) take the API's input
  members in PascalCase and raise ``<Service>.<ErrorShape>`` for modelled errors, with an
  ``Exception`` suffix added when the shape lacks one, and ``<Service>.<Service>Exception`` for
  unmodelled ones; ``<Service>`` is the SDK's PascalCase service name (Step Functions Developer
  Guide, "Learning to use AWS service SDK integrations": ``AcmPca.ResourceNotFoundException``,
  ``S3.BucketAlreadyExistsException``).
- optimized integrations raise the names their own pages document (Lambda, SNS, SageMaker).
- the IAM action for an API operation is ``<signing name>:<Operation>``, except where the
  authorization reference names another action (the table below, each row from the reference's
  "Actions" column / the service's API documentation link).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

#: Step Functions' aws-sdk service names that differ from botocore's.
SFN_TO_BOTOCORE = {
    "sfn": "stepfunctions",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "sagemakerruntime": "sagemaker-runtime",
    "applicationautoscaling": "application-autoscaling",
}

#: botocore signing names whose IAM service prefix differs.
SIGNING_TO_IAM_PREFIX = {"monitoring": "cloudwatch"}

#: API operations whose IAM action is not ``<prefix>:<Operation>`` (authorization reference).
IAM_ACTION_FOR_OPERATION = {
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "GetObjectTagging"): ("s3:GetObjectTagging",),
    ("sqs", "SendMessageBatch"): ("sqs:SendMessage",),
    ("sqs", "DeleteMessageBatch"): ("sqs:DeleteMessage",),
    ("sqs", "ChangeMessageVisibilityBatch"): ("sqs:ChangeMessageVisibility",),
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    ("cloudwatch", "GetMetricData"): ("cloudwatch:GetMetricData",),
}


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def service(name: str) -> ServiceModel:
    return _session().get_service_model(name)


def botocore_name(sfn_service: str) -> str:
    return SFN_TO_BOTOCORE.get(sfn_service, sfn_service)


def operation(service_name: str, api_action: str) -> OperationModel | None:
    """The operation an integration's ``apiAction`` (camelCase) names, or None."""
    model = service(service_name)
    wanted = api_action[0].upper() + api_action[1:]
    if wanted in model.operation_names:
        return model.operation_model(wanted)
    return None


def operation_for_method(service_name: str, method: str) -> OperationModel | None:
    """The operation a boto3 client method (snake_case) calls, or None."""
    model = service(service_name)
    for name in model.operation_names:
        if botocore.xform_name(name) == method:
            return model.operation_model(name)
    return None


@functools.cache
def sdk_service_name(service_name: str) -> str:
    """The SDK's PascalCase name of a service, as Step Functions spells it in error names.

    From the model's ``serviceId``: words joined, an all-capitals word capitalized
    (``ACM PCA`` -> ``AcmPca``, ``SSM`` -> ``Ssm``, ``SageMaker`` stays).
    """
    words = service(service_name).metadata["serviceId"].replace("-", " ").split()
    return "".join(w.capitalize() if w.isupper() and len(w) > 2 else w for w in words)


def modelled_error_names(service_name: str, operation_model: OperationModel) -> set[str]:
    """Error names Step Functions gives an aws-sdk operation's modelled errors."""
    prefix = sdk_service_name(service_name)
    names = {shape.name for shape in operation_model.error_shapes}
    # The service's other modelled errors (common errors the SDK knows for every operation).
    model = service(service_name)
    names |= {
        shape_name
        for shape_name in model.shape_names
        if model.shape_for(shape_name).metadata.get("exception")
    }
    return {f"{prefix}.{n if n.endswith('Exception') else n + 'Exception'}" for n in names} | {
        f"{prefix}.{prefix}Exception"
    }


def iam_actions_for(service_name: str, operation_name: str) -> tuple[str, ...]:
    """The IAM action(s) an API operation needs (authorization reference naming)."""
    model = service(service_name)
    signing = model.signing_name or model.endpoint_prefix
    prefix = SIGNING_TO_IAM_PREFIX.get(signing, signing)
    return IAM_ACTION_FOR_OPERATION.get((prefix, operation_name), (f"{prefix}:{operation_name}",))


# --- shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opaque:
    """A value whose shape no oracle describes (a Lambda's output, the execution input)."""

    why: str


@dataclass(frozen=True)
class Record:
    """A structure built by the workflow itself (ResultSelector, Parameters of a Pass, a Catch)."""

    fields: tuple[tuple[str, object], ...]

    def get(self, name: str) -> object | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class ListOf:
    """The list a ``[*]`` projection or a Map produces."""

    item: object


@dataclass(frozen=True)
class Literal:
    value: object


ERROR_RECORD = Record((("Error", Literal("")), ("Cause", Literal(""))))


def member_names(shape: Shape) -> list[str]:
    return list(getattr(shape, "members", {}))


def _deep_members(value: object, name: str, depth: int = 0) -> list[object]:
    """Every member called ``name`` at any depth of a shape (JSONPath's ``..name``)."""
    if depth > 12:
        return []
    if isinstance(value, Record):
        children = [v for _, v in value.fields]
        direct = [v for k, v in value.fields if k == name]
    elif isinstance(value, ListOf):
        return _deep_members(value.item, name, depth + 1)
    elif isinstance(value, Shape) and value.type_name == "structure":
        members = value.members  # type: ignore[attr-defined]
        children = list(members.values())
        direct = [members[name]] if name in members else []
    elif isinstance(value, Shape) and value.type_name == "list":
        return _deep_members(value.member, name, depth + 1)  # type: ignore[attr-defined]
    elif isinstance(value, Shape) and value.type_name == "map":
        return _deep_members(value.value, name, depth + 1)  # type: ignore[attr-defined]
    else:
        return []
    return direct + [m for child in children for m in _deep_members(child, name, depth + 1)]


def step(value: object, segment: str) -> tuple[object | None, str | None]:
    """Follow one path segment (a member name, ``[n]``, ``[*]`` or ``..name``); (next, problem)."""
    if isinstance(value, Opaque):
        return value, None
    if segment.startswith(".."):
        found = _deep_members(value, segment[2:])
        if not found:
            return None, f"no member {segment[2:]!r} at any depth"
        return ListOf(found[0]), None
    if isinstance(value, Literal):
        if isinstance(value.value, dict) and not segment.startswith("["):
            if segment in value.value:
                return Literal(value.value[segment]), None
            return None, f"no key {segment!r} in {sorted(value.value)}"
        index = re.fullmatch(r"\[(\d+)\]", segment)
        if isinstance(value.value, list) and index:
            position = int(index[1])
            if position < len(value.value):
                return Literal(value.value[position]), None
            return None, f"{segment} of a literal list of {len(value.value)}"
        return None, f"{segment} of a literal {value.value!r}"
    if isinstance(value, Record):
        if segment.startswith("["):
            return None, f"{segment} of an object with keys {[k for k, _ in value.fields]}"
        found = value.get(segment)
        if found is None:
            return None, f"no key {segment!r}; has {[k for k, _ in value.fields]}"
        return found, None
    if isinstance(value, ListOf):
        if segment == "[*]":  # a projection of lists of lists flattens, as JSONPath does
            item = value.item
            if isinstance(item, Shape) and item.type_name == "list":
                return ListOf(item.member), None  # type: ignore[attr-defined]
            return (item if isinstance(item, ListOf) else value), None
        if segment.startswith("["):
            return value.item, None
        return (
            step(value.item, segment)
            if isinstance(value.item, ListOf)
            else (_project(value.item, segment))
        )
    if isinstance(value, Shape):
        if segment.startswith("["):
            if value.type_name != "list":
                return None, f"{segment} of {value.type_name} {value.name}"
            item = value.member  # type: ignore[attr-defined]
            return (item if segment != "[*]" else ListOf(item)), None
        if value.type_name == "structure":
            members = value.members  # type: ignore[attr-defined]
            if segment in members:
                return members[segment], None
            return None, f"{value.name} has no member {segment!r}; members: {sorted(members)}"
        if value.type_name == "map":
            return value.value, None  # type: ignore[attr-defined]
        if value.type_name in {"blob", "document"}:
            return Opaque(f"{value.type_name} {value.name}"), None
        return None, f"{segment!r} of {value.type_name} {value.name}"
    return Opaque("unknown"), None


def _project(item: object, segment: str) -> tuple[object | None, str | None]:
    inner, problem = step(item, segment)
    return (ListOf(inner) if inner is not None else None), problem


def resolve_segments(value: object, segments: list[str]) -> tuple[object | None, str | None]:
    current: object | None = value
    for index, segment in enumerate(segments):
        assert current is not None
        current, problem = step(current, segment)
        if problem is not None:
            where = "".join(
                s if s.startswith(("[", "..")) else f".{s}" for s in segments[: index + 1]
            )
            return None, f"${where}: {problem}"
    return current, None


def enum_of(value: object) -> list[str] | None:
    if isinstance(value, Shape) and value.type_name == "string" and value.enum:
        return list(value.enum)
    if isinstance(value, ListOf):
        return enum_of(value.item)
    return None
