"""AWS calls of the model controller, shared with ``python -m ops model``.

Each function takes its boto3 client, so the controller, the command line and the tests pass
their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from shared.model_version import ModelVersion
from shared.rekognition_lookup import find_project, find_version

#: Queue attributes that together say how much work is waiting.
WAITING_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
#: Event source states from which an update to the other state makes sense.
_ENABLED_STATES = frozenset({"Enabled", "Enabling"})
_DISABLED_STATES = frozenset({"Disabled", "Disabling"})


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


def event_source_state(lambda_client: Any, mapping_id: str) -> str:
    return str(lambda_client.get_event_source_mapping(UUID=mapping_id)["State"])


def set_event_source(lambda_client: Any, mapping_id: str, enabled: bool) -> bool:
    """Enable or disable the event source if it is not already; True when a change was made.

    A mapping in the middle of another change (Creating, Updating, ...) is left for the next run.
    """
    state = event_source_state(lambda_client, mapping_id)
    if (enabled and state in _ENABLED_STATES) or (not enabled and state in _DISABLED_STATES):
        return False
    if state not in _ENABLED_STATES | _DISABLED_STATES:
        return False
    try:
        lambda_client.update_event_source_mapping(UUID=mapping_id, Enabled=enabled)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceInUseException":
            return False
        raise
    return True


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
