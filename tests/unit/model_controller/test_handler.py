"""The controller's handler against moto: start, enable, keep, stop, publish."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from model_controller import handler as controller
from tests.unit.model_controller.support import (
    CAPACITY_PARAMETER,
    PARAMETER,
    Controlled,
)
from tests.unit.rekognition_support import (
    MODEL_ARN,
    ServiceError,
    emf_records,
    metric_total,
)


def test_starts_a_stopped_model_when_work_arrives(controlled: Controlled) -> None:
    controlled.messages(3)

    summary = controlled.run()

    assert summary["action"] == "start"
    assert controlled.model.started == [{"ProjectVersionArn": MODEL_ARN, "MinInferenceUnits": 1}]
    assert controlled.event_source() == "Disabled"  # not before it is RUNNING


def test_project_and_version_on_a_later_page_are_found(controlled: Controlled) -> None:
    """DescribeProjects/DescribeProjectVersions may answer a page without the match + NextToken."""
    controlled.model.empty_pages = 2
    controlled.messages(3)

    summary = controlled.run()

    assert summary["action"] == "start"
    assert controlled.model.started == [{"ProjectVersionArn": MODEL_ARN, "MinInferenceUnits": 1}]


def test_does_nothing_without_work(controlled: Controlled) -> None:
    summary = controlled.run()

    assert summary["action"] == "nothing"
    assert controlled.model.started == []
    assert controlled.model.stopped == []


def test_enables_the_event_source_once_running(controlled: Controlled) -> None:
    controlled.model.status = "RUNNING"
    controlled.messages(3)

    summary = controlled.run()

    assert summary["action"] == "nothing"
    assert summary["event_source_changed"] is True
    assert controlled.event_source() == "Enabled"
    # Sized to the version's one unit: 2 invocations at 2.5 images/s each.
    mapping = controlled.lambda_.get_event_source_mapping(UUID=controlled.mapping_id)
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    published = controlled.ssm.get_parameter(Name=CAPACITY_PARAMETER)["Parameter"]["Value"]
    assert json.loads(published) == {
        "schema": "imgclf.rekognition.consumer-capacity/1",
        "inference_units": 1,
        "max_concurrency": 2,
        "invocation_tps": 2.5,
    }


def test_keeps_running_while_work_was_seen_recently(controlled: Controlled) -> None:
    controlled.model.status = "RUNNING"
    controlled.recent_activity(minutes_ago=0.5)

    summary = controlled.run()

    assert summary["action"] == "nothing"
    assert summary["minutes_since_last_work"] < 2
    assert controlled.model.stopped == []


def test_stops_an_idle_model_after_disabling_the_event_source(controlled: Controlled) -> None:
    controlled.model.status = "RUNNING"
    controlled.lambda_.update_event_source_mapping(UUID=controlled.mapping_id, Enabled=True)
    controlled.recent_activity(minutes_ago=4)

    summary = controlled.run()

    assert summary["action"] == "stop"
    assert summary["minutes_since_last_work"] >= 2
    assert controlled.model.stopped == [MODEL_ARN]
    assert controlled.event_source() == "Disabled"


def test_a_failed_model_raises_attention_and_is_not_restarted(
    controlled: Controlled, capsys: pytest.CaptureFixture[str]
) -> None:
    controlled.model.status = "FAILED"
    controlled.messages(2)

    for _ in range(3):
        summary = controlled.run()

    assert summary["needs_attention"] is True
    assert controlled.model.started == []
    records = emf_records(capsys.readouterr().out)
    assert metric_total(records, "ModelNeedsAttention") == 3
    assert metric_total(records, "ModelRunning") == 0


def test_running_state_is_published(
    controlled: Controlled, capsys: pytest.CaptureFixture[str]
) -> None:
    controlled.model.status = "RUNNING"
    controlled.messages(1)

    controlled.run()

    records = emf_records(capsys.readouterr().out)
    service = "rekognition-controller"
    assert metric_total(records, "ModelRunning", service=service) == 1
    assert metric_total(records, "QueueWaiting", service=service) == 1
    assert metric_total(records, "ModelNeedsAttention", service=service) == 0


def test_missing_parameter_means_wait(controlled: Controlled) -> None:
    controlled.ssm.delete_parameter(Name=PARAMETER)
    controlled.messages(1)

    summary = controlled.run()

    assert summary["status"] is None
    assert summary["action"] == "nothing"
    assert "does not exist" in summary["status_detail"]
    assert summary["needs_attention"] is True  # work waits and no model is published
    assert controlled.event_source() == "Disabled"


def test_missing_version_is_not_configured(controlled: Controlled) -> None:
    controlled.model.status = None
    controlled.messages(1)

    summary = controlled.run()

    assert summary["status"] is None
    assert "does not exist" in summary["status_detail"]
    assert controlled.model.started == []


def test_a_start_already_under_way_is_not_an_error(controlled: Controlled) -> None:
    controlled.model.start_error = ServiceError("ResourceInUseException", "already starting")
    controlled.messages(1)

    summary = controlled.run()

    assert summary["action"] == "start"
    assert summary["action_outcome"] == "ALREADY_CHANGING"


def test_other_start_errors_fail_the_run(controlled: Controlled) -> None:
    controlled.model.start_error = ServiceError("LimitExceededException", "too many models")
    controlled.messages(1)

    with pytest.raises(ClientError, match="LimitExceeded"):
        controlled.run()


def test_auto_scaling_range_is_passed_when_max_exceeds_min(
    controlled: Controlled, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_INFERENCE_UNITS", "3")
    controlled.messages(1)

    controlled.run()

    assert controlled.model.started == [
        {"ProjectVersionArn": MODEL_ARN, "MinInferenceUnits": 1, "MaxInferenceUnits": 3}
    ]


def test_mode_off_gates_but_never_starts(
    controlled: Controlled, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTROL_MODE", "off")
    controlled.messages(5)

    assert controlled.run()["action"] == "nothing"
    controlled.model.status = "RUNNING"
    assert controlled.run()["action"] == "nothing"

    assert controlled.model.started == []
    assert controlled.event_source() == "Enabled"


def test_summary_is_json_serializable(controlled: Controlled) -> None:
    json.dumps(controlled.run())


def test_work_it_saw_itself_counts_before_cloudwatch_reports_it(controlled: Controlled) -> None:
    """CloudWatch's SQS metrics arrive a minute or two late; the controller's own sighting
    keeps a just-drained queue from looking idle."""
    controlled.model.status = "RUNNING"
    controlled.messages(1)
    settings = controller.ControllerSettings.from_environment(os.environ)
    now = datetime.now(UTC)
    assert controller.run(settings, controller.clients(), now)["action"] == "nothing"
    controlled.sqs.purge_queue(QueueUrl=controlled.queue_url)

    one_minute_later = controller.run(settings, controller.clients(), now + timedelta(minutes=1))
    three_minutes_later = controller.run(settings, controller.clients(), now + timedelta(minutes=3))

    assert one_minute_later["action"] == "nothing"
    assert one_minute_later["minutes_since_last_work"] == pytest.approx(1.0)
    assert three_minutes_later["action"] == "stop"
