"""AWS calls of the model controller, shared with ``python -m ops model``.

Each function takes its boto3 client, so the controller, the command line and the tests pass
their own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from contracts.metrics import (
    DESIRED_INFERENCE_UNITS,
    IN_SERVICE_INFERENCE_UNITS,
    REKOGNITION_NAMESPACE,
    REKOGNITION_PROJECT_DIMENSION,
    REKOGNITION_VERSION_DIMENSION,
)
from shared.model_version import ModelVersion
from shared.rekognition_lookup import find_project, find_version
from shared.ssm_parameters import read_optional_parameter

#: Queue attributes that together say how much work is waiting.
WAITING_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
#: Event source states from which an update to the other state makes sense.
_ENABLED_STATES = frozenset({"Enabled", "Enabling"})
_DISABLED_STATES = frozenset({"Disabled", "Disabling"})
#: Error codes after which a change is simply made on the controller's next run (a minute
#: later): another change under way, throttling, a passing service error.
RETRY_NEXT_RUN = frozenset(
    {
        "ResourceInUseException",
        "ResourceConflictException",
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "TooManyUpdates",
        "LimitExceededException",
        "LimitExceeded",
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalServiceError",
        "InternalServiceFault",
    }
)
#: Rekognition's auto-scaling figures (namespace AWS/Rekognition, by ProjectName, VersionName).
UNIT_METRICS = (IN_SERVICE_INFERENCE_UNITS, DESIRED_INFERENCE_UNITS)


@dataclass(frozen=True)
class ModelDescription:
    """What DescribeProjectVersions says about the version (``status`` None: not found)."""

    status: str | None
    message: str
    min_inference_units: int | None = None
    max_inference_units: int | None = None


def project_arn(rekognition: Any, project_name: str) -> str | None:
    """The project's ARN (it ends in a creation timestamp, so it cannot be derived); every page
    of DescribeProjects is read until it is found."""
    project = find_project(rekognition, project_name)
    return str(project["ProjectArn"]) if project else None


def describe_model(rekognition: Any, model: ModelVersion, project: str | None) -> ModelDescription:
    """The version's status; ``project`` is its project's ARN (from :func:`project_arn`)."""
    if project is None:
        return ModelDescription(None, f"project {model.project!r} does not exist")
    try:
        version = find_version(rekognition, project, model.version)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return ModelDescription(None, f"project {project} does not exist")
        raise
    if version is None or version.get("ProjectVersionArn") != model.arn:
        return ModelDescription(None, f"model version {model.arn} does not exist")
    return ModelDescription(
        status=str(version["Status"]),
        message=str(version.get("StatusMessage", "")),
        min_inference_units=version.get("MinInferenceUnits"),
        max_inference_units=version.get("MaxInferenceUnits"),
    )


def start_model(rekognition: Any, model: ModelVersion, min_units: int, max_units: int) -> str:
    """Request a start; a start already under way is not an error."""
    arguments: dict[str, Any] = {"ProjectVersionArn": model.arn, "MinInferenceUnits": min_units}
    if max_units > min_units:
        arguments["MaxInferenceUnits"] = max_units  # auto-scales between the two
    try:
        return str(rekognition.start_project_version(**arguments)["Status"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceInUseException":
            return "ALREADY_CHANGING"
        raise


def stop_model(rekognition: Any, model: ModelVersion) -> str:
    """Request a stop; a stop already under way is not an error."""
    try:
        return str(rekognition.stop_project_version(ProjectVersionArn=model.arn)["Status"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceInUseException":
            return "ALREADY_CHANGING"
        raise


def waiting_messages(sqs: Any, queue_url: str) -> dict[str, int]:
    """Visible, in-flight and delayed message counts of the queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=list(WAITING_ATTRIBUTES)
    )["Attributes"]
    return {name: int(attributes.get(name, 0)) for name in WAITING_ATTRIBUTES}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def retry_next_run(error: ClientError) -> bool:
    """Whether the call may simply be made again on the next run."""
    return error_code(error) in RETRY_NEXT_RUN


@dataclass(frozen=True)
class EventSource:
    """The event source mapping as GetEventSourceMapping reports it."""

    state: str
    #: ScalingConfig.MaximumConcurrency (None: not set, Lambda's default of up to 1,000).
    max_concurrency: int | None

    @property
    def enabled(self) -> bool:
        return self.state in _ENABLED_STATES

    @property
    def settled(self) -> bool:
        """Enabled or disabled (or on the way), not in the middle of another change."""
        return self.state in _ENABLED_STATES | _DISABLED_STATES


class Gate(enum.StrEnum):
    """What an event source update did."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    #: In the middle of another change, or the call was throttled: the next run tries again.
    BUSY = "busy"


def read_event_source(lambda_client: Any, mapping_id: str) -> EventSource:
    mapping = lambda_client.get_event_source_mapping(UUID=mapping_id)
    concurrency = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
    return EventSource(str(mapping["State"]), int(concurrency) if concurrency else None)


def event_source_state(lambda_client: Any, mapping_id: str) -> str:
    return read_event_source(lambda_client, mapping_id).state


def gate_event_source(
    lambda_client: Any,
    mapping_id: str,
    *,
    enabled: bool,
    max_concurrency: int | None = None,
    current: EventSource | None = None,
) -> Gate:
    """Enable (with ``max_concurrency`` when given) or disable the event source, in one update.

    ``current`` is the mapping as just read (read here otherwise). A mapping in the middle of
    another change (Creating, Updating, ...), and a throttled or conflicting call, are
    :attr:`Gate.BUSY`: the next run tries again. Other errors raise.
    """
    try:
        current = current or read_event_source(lambda_client, mapping_id)
    except ClientError as error:
        if retry_next_run(error):
            return Gate.BUSY
        raise
    if not current.settled:
        return Gate.BUSY
    update: dict[str, Any] = {}
    if enabled != current.enabled:
        update["Enabled"] = enabled
    if enabled and max_concurrency is not None and current.max_concurrency != max_concurrency:
        update["ScalingConfig"] = {"MaximumConcurrency": max_concurrency}
    if not update:
        return Gate.UNCHANGED
    try:
        lambda_client.update_event_source_mapping(UUID=mapping_id, **update)
    except ClientError as error:
        if retry_next_run(error):
            return Gate.BUSY
        raise
    return Gate.CHANGED


def set_event_source(lambda_client: Any, mapping_id: str, enabled: bool) -> bool:
    """Enable or disable the event source if it is not already; True when a change was made
    (a mapping in the middle of another change is left as it is)."""
    return gate_event_source(lambda_client, mapping_id, enabled=enabled) is Gate.CHANGED


def units_in_service(
    cloudwatch: Any, model: ModelVersion, now: datetime, lookback_minutes: int = 5
) -> float | None:
    """The inference units serving, from Rekognition's one-minute auto-scaling metrics.

    The latest ``InServiceInferenceUnits`` average, or the latest ``DesiredInferenceUnits``
    when that is lower: a scale-down is announced before units leave, a scale-up counts only
    once the units serve. ``None`` when no datapoint is in the lookback window (a model that
    just started, or that does not auto-scale).
    """
    queries = [
        {
            "Id": f"u{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": REKOGNITION_NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": REKOGNITION_PROJECT_DIMENSION, "Value": model.project},
                        {"Name": REKOGNITION_VERSION_DIMENSION, "Value": model.version},
                    ],
                },
                "Period": 60,
                "Stat": "Average",
            },
            "ReturnData": True,
        }
        for index, metric in enumerate(UNIT_METRICS)
    ]
    latest: dict[str, tuple[datetime, float]] = {}
    token: str | None = None
    while True:
        arguments: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": now - timedelta(minutes=lookback_minutes),
            "EndTime": now,
            "ScanBy": "TimestampDescending",
        }
        if token:
            arguments["NextToken"] = token
        response = cloudwatch.get_metric_data(**arguments)
        for result in response["MetricDataResults"]:
            for timestamp, value in zip(result["Timestamps"], result["Values"], strict=False):
                known = latest.get(result["Id"])
                if known is None or timestamp > known[0]:
                    latest[result["Id"]] = (timestamp, float(value))
        token = response.get("NextToken")
        if not token:
            break
    in_service = latest.get("u0")
    if in_service is None:
        return None
    desired = latest.get("u1")
    return min(in_service[1], desired[1]) if desired is not None else in_service[1]


def read_capacity(ssm: Any, name: str) -> str | None:
    """The published consumer capacity (``contracts.consumer_capacity``), None when not yet."""
    return read_optional_parameter(ssm, name)


def publish_capacity(ssm: Any, name: str, value: str) -> None:
    """Write the consumer capacity (created on the first write; the stack does not own it)."""
    ssm.put_parameter(
        Name=name,
        Value=value,
        Type="String",
        Overwrite=True,
        Description="Written by the Rekognition model controller: the pace inference consumers use",
    )


def minutes_since_last_work(
    cloudwatch: Any, queue_name: str, now: datetime, lookback_minutes: int
) -> float | None:
    """Minutes since the end of the last minute in which a message was sent to or received from
    the queue, from its CloudWatch metrics; ``None`` when none in ``lookback_minutes``.

    The end of the minute is used (not its start), so the estimate never makes the model look
    idler than it is. Work that arrives and is done between two controller runs is seen here.
    """
    start = now - timedelta(minutes=lookback_minutes)
    queries = [
        {
            "Id": f"m{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for index, metric in enumerate(("NumberOfMessagesSent", "NumberOfMessagesReceived"))
    ]
    latest: datetime | None = None
    token: str | None = None
    while True:
        arguments: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": now,
            "ScanBy": "TimestampDescending",
        }
        if token:
            arguments["NextToken"] = token
        response = cloudwatch.get_metric_data(**arguments)
        for result in response["MetricDataResults"]:
            for timestamp, value in zip(result["Timestamps"], result["Values"], strict=False):
                if value > 0 and (latest is None or timestamp > latest):
                    latest = timestamp
        token = response.get("NextToken")
        if not token:
            break
    if latest is None:
        return None
    return max(0.0, (now - (latest + timedelta(minutes=1))).total_seconds() / 60)
