"""Batches: concurrent within an invocation, bounded, paced, never started past the deadline."""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rekognition_inference import handler as consumer
from rekognition_inference import locations
from rekognition_inference.processing import RatePacer
from tests.unit.rekognition_inference.support import (
    PROJECT,
    VERSION,
    K,
    Pipeline,
)
from tests.unit.rekognition_support import (
    PNG,
    LambdaContext,
    sqs_record,
)

# --------------------------------------------------------------------------------------------
# Batches: concurrent within an invocation, bounded, and never started past the deadline
# --------------------------------------------------------------------------------------------


def test_a_batch_calls_the_service_concurrently(pipeline: Pipeline) -> None:
    rendezvous = threading.Barrier(3, timeout=10)
    arrivals = itertools.count()

    def during(params: dict[str, Any]) -> None:
        if next(arrivals) < 3:  # the first three calls wait for each other
            rendezvous.wait()

    pipeline.detect.during_call = during
    for index in range(8):
        key = f"incoming/batch/{index}.png"
        pipeline.upload(key, PNG)
        pipeline.send(pipeline.event(key))

    pipeline.run()

    # Three calls met at the barrier: they were in flight at the same time.
    assert not rendezvous.broken
    assert len(pipeline.detect.calls) == 8
    assert len(pipeline.artifact_keys()) == 8


def test_concurrency_is_bounded_by_detect_concurrency(pipeline: Pipeline) -> None:
    lock = threading.Lock()
    in_flight = [0, 0]  # current, highest
    release = threading.Event()

    def during(params: dict[str, Any]) -> None:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
            if in_flight[0] >= 4:
                release.set()
        release.wait(timeout=5)
        with lock:
            in_flight[0] -= 1

    pipeline.detect.during_call = during
    for index in range(10):
        key = f"incoming/bounded/{index}.png"
        pipeline.upload(key, PNG)
        pipeline.send(pipeline.event(key))

    pipeline.run()

    assert in_flight[1] == 4  # DETECT_CONCURRENCY
    assert len(pipeline.artifact_keys()) == 10


def test_nothing_starts_too_close_to_the_timeout(pipeline: Pipeline) -> None:
    key = "incoming/late.png"
    pipeline.upload(key, PNG)
    remaining = (consumer.DEADLINE_MARGIN_SECONDS - 1) * 1000

    pipeline.send(pipeline.event(key))
    messages = pipeline.sqs.receive_message(QueueUrl=pipeline.queue_url, AttributeNames=["All"])
    event = {"Records": [sqs_record(m, "arn:q") for m in messages["Messages"]]}
    response = consumer.lambda_handler(event, LambdaContext(remaining_ms=remaining))

    assert len(response["batchItemFailures"]) == 1
    assert pipeline.detect.calls == []
    assert pipeline.artifact_keys() == []


def test_pacer_spaces_calls_to_the_invocation_share() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = RatePacer(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        pacer.wait()

    assert slept == [0.5, 1.0, 1.5]  # 2 calls per second: at 0, 0.5, 1.0, 1.5 s
    unpaced = RatePacer(None, clock=lambda: now[0], sleep=sleep)
    unpaced.wait()
    assert len(slept) == 3


def test_pacer_takes_a_new_rate_from_the_next_call() -> None:
    now = [100.0]
    slept: list[float] = []
    pacer = RatePacer(2.0, clock=lambda: now[0], sleep=slept.append)
    pacer.wait()  # at 100.0; the next slot is 100.5

    pacer.set_rate(10.0)
    pacer.wait()  # the slot already promised at 2/s, then 10/s from there
    pacer.wait()

    assert pacer.rate == pytest.approx(10.0)
    assert slept == [pytest.approx(0.5), pytest.approx(0.6)]
    pacer.set_rate(None)
    assert pacer.rate is None


# -- the pace the controller publishes -------------------------------------------------------


def published(pace: float, units: int = 1, concurrency: int = 2) -> str:
    return json.dumps(
        {
            "schema": "imgclf.rekognition.consumer-capacity/1",
            "inference_units": units,
            "max_concurrency": concurrency,
            "invocation_tps": pace,
        }
    )


class FakeParameter:
    """What SSM answers for the capacity parameter, and how often it was asked."""

    def __init__(self, *answers: str | Exception | None) -> None:
        self.answers = list(answers)
        self.reads = 0

    def __call__(self) -> str | None:
        self.reads += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_published_pace_is_read_at_most_every_30_seconds() -> None:
    now = [0.0]
    read = FakeParameter(published(5.0), published(10.0))
    pace = consumer.PaceSource(read, floor=2.5, ceiling=10.0, clock=lambda: now[0])

    seen = []
    for second in (0.0, 1.0, 29.9, 30.0, 45.0):
        now[0] = second
        seen.append(pace.current())

    assert seen == [5.0, 5.0, 5.0, 10.0, 10.0]
    assert read.reads == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, 2.5, id="nothing-published-slowest"),
        pytest.param(published(7.5, units=3), 7.5, id="within-bounds"),
        pytest.param(published(50.0, units=20), 10.0, id="above-the-ceiling"),
        pytest.param(published(1.0), 2.5, id="below-the-floor"),
        pytest.param("not json", 2.5, id="not-json"),
        pytest.param(json.dumps({"invocation_tps": 7.5}), 2.5, id="no-schema"),
        pytest.param(published(float("nan")), 2.5, id="nan"),
        pytest.param(published(-5.0), 2.5, id="negative"),
        pytest.param(published(0.0), 2.5, id="zero"),
    ],
)
def test_published_pace_is_kept_within_what_the_timeout_and_the_model_allow(
    value: str | None, expected: float
) -> None:
    pace = consumer.PaceSource(FakeParameter(value), floor=2.5, ceiling=10.0)

    assert pace.current() == expected


def test_a_failed_read_keeps_the_last_pace_and_waits_before_asking_again() -> None:
    now = [0.0]
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "GetParameter")
    read = FakeParameter(published(5.0), throttled, published(7.5))
    pace = consumer.PaceSource(read, floor=2.5, ceiling=10.0, clock=lambda: now[0])

    assert pace.current() == 5.0
    now[0] = 30.0
    assert pace.current() == 5.0  # throttled: the last pace
    now[0] = 40.0
    assert pace.current() == 5.0  # not asked again yet
    assert read.reads == 2
    now[0] = 60.0
    assert pace.current() == 7.5


def test_the_handler_paces_to_the_published_pace(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real handler and SSM (moto): the consumer takes the controller's pace."""
    name = "/imgclf-test/rekognition/consumer-capacity"
    monkeypatch.setenv("INVOCATION_TPS", "2.5")
    monkeypatch.setenv("MAX_INVOCATION_TPS", "400")
    monkeypatch.setenv("CAPACITY_PARAMETER", name)
    consumer.runtime.cache_clear()
    try:
        state = consumer.runtime()
        pipeline.detect.install(state.classifier._rekognition)
        assert state.classifier.pacer.rate == pytest.approx(2.5)  # before anything is read
        pipeline.ssm.put_parameter(Name=name, Value=published(200.0, 40, 10), Type="String")
        key = f"{K}paced.png"
        pipeline.upload(key, PNG)
        pipeline.send(pipeline.event(key))

        pipeline.run()

        assert state.classifier.pacer.rate == pytest.approx(200.0)
        assert pipeline.artifact(locations.result_key(key, PROJECT, VERSION)) is not None
    finally:
        _unpaced_runtime(monkeypatch)


def test_the_handler_without_a_published_pace_uses_the_slowest(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVOCATION_TPS", "300")
    monkeypatch.setenv("CAPACITY_PARAMETER", "/imgclf-test/rekognition/consumer-capacity")
    consumer.runtime.cache_clear()
    try:
        state = consumer.runtime()
        pipeline.detect.install(state.classifier._rekognition)
        key = f"{K}unpublished.png"
        pipeline.upload(key, PNG)
        pipeline.send(pipeline.event(key))

        pipeline.run()

        assert state.classifier.pacer.rate == pytest.approx(300.0)
        assert pipeline.artifact(locations.result_key(key, PROJECT, VERSION)) is not None
    finally:
        _unpaced_runtime(monkeypatch)


def _unpaced_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back to the fixture's environment before its teardown builds the runtime again."""
    monkeypatch.setenv("INVOCATION_TPS", "0")
    monkeypatch.delenv("MAX_INVOCATION_TPS", raising=False)
    monkeypatch.delenv("CAPACITY_PARAMETER", raising=False)
    consumer.runtime.cache_clear()
