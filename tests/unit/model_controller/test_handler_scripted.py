"""The handler against scripted answers (botocore Stubber): units, concurrency, pace, failures."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from model_controller import handler as controller
from shared.model_version import ModelVersion
from tests.unit.model_controller.support import (
    T0,
    Scripted,
    scripted_clients,
)
from tests.unit.rekognition_support import (
    MODEL_ARN,
    emf_records,
    metric_total,
)


def capacity_document(units: int, concurrency: int, pace: float) -> str:
    return json.dumps(
        {
            "schema": "imgclf.rekognition.consumer-capacity/1",
            "inference_units": units,
            "max_concurrency": concurrency,
            "invocation_tps": pace,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def test_a_start_asks_for_the_units_the_backlog_needs(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("STOPPED")
    aws.queue(visible=20_000, in_flight=5_000)  # 25,000: 3 units drain it in 30 minutes
    aws.mapping("Disabled", 2)
    aws.start(min_units=3, max_units=10)

    summary = run()

    aws.done()
    assert (summary["action"], summary["start_units"], summary["action_outcome"]) == (
        "start",
        3,
        "STARTING",
    )


def test_a_backlog_beyond_the_max_starts_the_max_without_auto_scaling_range(
    scripted: tuple[Scripted, Any],
) -> None:
    aws, run = scripted
    aws.model("STOPPED")
    aws.queue(visible=500_000)
    aws.mapping("Disabled", 2)
    aws.start(min_units=10, max_units=None)  # Min = Max: nothing for auto-scaling to add

    assert run()["start_units"] == 10
    aws.done()


def test_a_burst_is_measured_one_minute_then_started_for_what_it_will_be(
    scripted: tuple[Scripted, Any],
) -> None:
    aws, run = scripted
    for minute, backlog in enumerate((0, 3_333)):
        aws.model("STOPPED")
        aws.queue(visible=backlog)
        aws.mapping("Disabled", 2)
        assert run(T0 + timedelta(minutes=minute))["action"] == "nothing"
    aws.model("STOPPED")
    aws.queue(visible=8_333)
    aws.mapping("Disabled", 2)
    aws.start(min_units=7)  # 8,333 + 5,000/min x 10 min = 58,333: 7 units

    summary = run(T0 + timedelta(minutes=2))

    aws.done()
    assert summary["recent_backlogs"] == [0, 3_333]
    assert summary["start_units"] == 7


def test_enabling_sizes_the_consumers_first_in_one_update(scripted: tuple[Scripted, Any]) -> None:
    """Just RUNNING with 3 units (no metric yet): the pace published by the last episode (10
    units) is replaced before the event source is enabled with the concurrency for 3."""
    aws, run = scripted
    aws.model("RUNNING", min_units=3)
    aws.queue(visible=20_000)
    aws.mapping("Disabled", 5)
    aws.units(in_service=None)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(3, 2, 7.5))
    aws.update_mapping(Enabled=True, ScalingConfig={"MaximumConcurrency": 2})

    summary = run()

    aws.done()
    capacity = summary["capacity"]
    assert (capacity["inference_units"], capacity["max_concurrency"]) == (3, 2)
    assert capacity["invocation_tps"] == pytest.approx(7.5)
    assert capacity["problems"] == []
    assert summary["event_source_changed"] is True


def test_a_model_without_auto_scaling_needs_no_metric(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING", min_units=2, max_units=2)
    aws.queue(visible=10)
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(2, 2, 5.0))  # already sized: nothing to change

    summary = run()

    aws.done()  # no GetMetricData, PutParameter or UpdateEventSourceMapping was made
    assert summary["capacity"]["units_source"] == "MinInferenceUnits"
    assert summary["event_source_changed"] is False


def test_consumers_follow_units_added_by_auto_scaling(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING", min_units=1, max_units=10)
    aws.queue(visible=30_000)
    aws.units(in_service=4.0, desired=6.0)  # scaling up: only what serves counts
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(1, 2, 2.5))
    aws.publish(capacity_document(4, 2, 10.0))  # 2 invocations x 10/s = 4 units

    summary = run()

    aws.done()
    assert summary["capacity"]["units_source"] == "InServiceInferenceUnits"
    assert summary["capacity"]["inference_units"] == 4


def test_a_scale_up_that_slows_each_invocation_moves_the_pace_first(
    scripted: tuple[Scripted, Any],
) -> None:
    """4 -> 5 units: 2 x 10/s becomes 3 x 8.33/s; 3 x 10/s in between would be throttled."""
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=30_000)
    aws.units(in_service=5.0)
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(4, 2, 10.0))
    aws.publish(capacity_document(5, 2, 25 / 3))
    first = run()

    aws.model("RUNNING")
    aws.queue(visible=29_000)
    aws.units(in_service=5.0, now=T0 + timedelta(minutes=1))
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(5, 2, 25 / 3))
    aws.publish(capacity_document(5, 3, 25 / 3))
    aws.update_mapping(ScalingConfig={"MaximumConcurrency": 3})
    second = run(T0 + timedelta(minutes=1))

    aws.done()
    assert (first["capacity"]["max_concurrency"], second["capacity"]["max_concurrency"]) == (2, 3)


def test_a_scale_down_is_announced_by_desired_units(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.units(in_service=10.0, desired=1.0)
    aws.mapping("Enabled", 5)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(1, 2, 2.5))
    aws.update_mapping(ScalingConfig={"MaximumConcurrency": 2})

    summary = run()

    aws.done()
    assert summary["capacity"]["inference_units"] == 1


def test_a_throttled_concurrency_update_is_made_on_the_next_run(
    scripted: tuple[Scripted, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.units(in_service=1.0)
    aws.mapping("Enabled", 5)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(1, 2, 2.5))
    aws.update_mapping("TooManyRequestsException", ScalingConfig={"MaximumConcurrency": 2})

    first = run()  # does not raise

    assert first["event_source_busy"] is True
    assert first["capacity"]["problems"] == ["UpdateEventSourceMapping: busy or throttled"]
    assert first["capacity"]["max_concurrency"] == 5  # still what the mapping has
    controller.metrics.flush_metrics()
    assert metric_total(emf_records(capsys.readouterr().out), "CapacityUpdateFailures") == 1

    aws.model("RUNNING")
    aws.queue(visible=90)
    aws.units(in_service=1.0, now=T0 + timedelta(minutes=1))
    aws.mapping("Enabled", 5)
    aws.published(capacity_document(1, 2, 2.5))  # the first run's publish held
    aws.update_mapping(ScalingConfig={"MaximumConcurrency": 2})
    second = run(T0 + timedelta(minutes=1))

    aws.done()
    assert second["capacity"]["problems"] == []
    assert second["event_source_changed"] is True


def test_a_throttled_pace_publish_does_not_enable_faster_consumers(
    scripted: tuple[Scripted, Any],
) -> None:
    """Enabling at 1 unit while 10 units' pace is published: not until the slower one is."""
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.units(in_service=None)
    aws.mapping("Disabled", 5)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(1, 2, 2.5), error="ThrottlingException")

    first = run()

    assert first["event_source_busy"] is True
    assert first["event_source_changed"] is False
    assert "PutParameter" in first["capacity"]["problems"][0]

    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.units(in_service=None, now=T0 + timedelta(minutes=1))
    aws.mapping("Disabled", 5)
    aws.published(capacity_document(10, 5, 10.0))
    aws.publish(capacity_document(1, 2, 2.5))
    aws.update_mapping(Enabled=True, ScalingConfig={"MaximumConcurrency": 2})
    second = run(T0 + timedelta(minutes=1))

    aws.done()
    assert second["event_source_changed"] is True


def test_a_failed_pace_publish_still_adds_invocations_that_are_safe(
    scripted: tuple[Scripted, Any],
) -> None:
    """4 -> 10 units with the publish failing: 5 invocations at the old 10/s are 50/s, what
    10 units serve; so the concurrency moves now and the pace on the next run."""
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=50_000)
    aws.units(in_service=10.0)
    aws.mapping("Enabled", 2)
    aws.published(capacity_document(4, 2, 10.0))
    aws.publish(capacity_document(10, 5, 10.0), error="InternalServerError")
    aws.update_mapping(ScalingConfig={"MaximumConcurrency": 5})

    summary = run()

    aws.done()
    assert summary["capacity"]["max_concurrency"] == 5
    assert summary["capacity"]["invocation_tps"] == pytest.approx(10.0)


def test_an_unreadable_units_metric_changes_nothing(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=100)
    aws.mapping("Enabled", 5)
    aws.stubs["cloudwatch"].add_client_error("get_metric_data", "Throttling")

    summary = run()

    aws.done()  # no PutParameter, no UpdateEventSourceMapping
    assert summary["capacity"]["problems"][0].startswith("GetMetricData")
    assert summary["event_source_changed"] is False


def test_an_unreadable_pace_parameter_enables_nothing(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING", min_units=2, max_units=2)
    aws.queue(visible=100)
    aws.mapping("Disabled", 2)
    aws.stubs["ssm"].add_client_error("get_parameter", "ThrottlingException")

    summary = run()

    aws.done()
    assert summary["event_source_busy"] is True
    assert summary["event_source_enabled"] is True  # decided, and made on a later run


def test_a_stop_waits_until_the_event_source_is_off(scripted: tuple[Scripted, Any]) -> None:
    aws, run = scripted
    aws.model("RUNNING")
    aws.queue(visible=0)
    aws.no_recent_activity()
    aws.mapping("Updating", 2)  # e.g. a concurrency change still being applied

    first = run()

    assert (first["action"], first["action_outcome"]) == ("stop", "WAITING_FOR_EVENT_SOURCE")
    aws.model("RUNNING")
    aws.queue(visible=0)
    aws.no_recent_activity()
    aws.mapping("Enabled", 2)
    aws.update_mapping(Enabled=False)
    aws.stop()
    second = run(T0 + timedelta(minutes=1))

    aws.done()
    assert second["action_outcome"] == "STOPPING"


def test_errors_that_no_retry_fixes_still_fail_the_run(scripted: tuple[Scripted, Any]) -> None:
    """Access denied is a deployment problem: the run fails (retried, then the alarmed DLQ)."""
    aws, run = scripted
    aws.model("RUNNING", min_units=2, max_units=2)
    aws.queue(visible=100)
    aws.mapping("Disabled", 2)
    aws.published(None)
    aws.publish(capacity_document(2, 2, 5.0))
    aws.update_mapping("AccessDeniedException", Enabled=True)  # concurrency 2 already

    with pytest.raises(ClientError, match="AccessDenied"):
        run()


def test_units_in_service_reads_every_page_and_the_latest_datapoint() -> None:
    cloudwatch = scripted_clients().cloudwatch
    model = ModelVersion.parse(MODEL_ARN)
    assert model is not None
    older, newer = T0 - timedelta(minutes=3), T0 - timedelta(minutes=1)
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [{"Id": "u0", "Timestamps": [older], "Values": [2.0]}],
                "NextToken": "page-2",
            },
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "u0", "Timestamps": [newer], "Values": [5.0]},
                    {"Id": "u1", "Timestamps": [newer], "Values": [7.0]},
                ]
            },
        )
        stub.add_response("get_metric_data", {"MetricDataResults": []})

        assert controller.operations.units_in_service(cloudwatch, model, T0) == 5.0
        assert controller.operations.units_in_service(cloudwatch, model, T0) is None
        stub.assert_no_pending_responses()
