"""A batch's summary from batched children: every image of every child counted, once.

The records are shaped as the Distributed Map's ResultWriter documents them (one per child
execution: ``Input``/``Output`` JSON strings, ``Status``, ``Error``/``Cause``), each child's
input being the ItemBatcher's ``{"Items": [...], "BatchInput": {...}}``.
"""

from __future__ import annotations

import json

import pytest

from sagemaker_inference import model


def batch_child(*results: dict) -> dict:
    """A succeeded child of a batched Map: its images' results in one output."""
    items = [{"s3_uri": r["s3_uri"]} for r in results]
    return {
        "Status": "SUCCEEDED",
        "Input": json.dumps({"Items": items, "BatchInput": {"threshold": 0.9}}),
        "Output": json.dumps({"results": list(results)}),
    }


def image_result(uri: str, status: str, label: str | None = None, **extra: str) -> dict:
    return {"status": status, "s3_uri": uri, "label": label, "confidence": 0.5, **extra}


def test_a_batched_summary_counts_every_image_of_every_child():
    failed_child = {
        "Status": "FAILED",
        "Input": json.dumps({"Items": [{"s3_uri": "s3://b/c1"}, {"s3_uri": "s3://b/c2"}]}),
        "Error": "Lambda.Unknown",
        "Cause": json.dumps({"errorMessage": "the function timed out"}),
    }
    aborted_child = {**failed_child, "Status": "ABORTED"}
    pending_child = {
        "Status": "PENDING",
        "Input": json.dumps({"Items": [{"s3_uri": "s3://b/p1"}, {"s3_uri": "s3://b/p2"}]}),
    }
    summary = model.summarize(
        [
            batch_child(
                image_result("s3://b/a", "classified", "bicycle"),
                image_result("s3://b/b", "low_confidence", "motorcycle"),
                image_result("s3://b/d/", "skipped"),
            ),
            batch_child(
                image_result("s3://b/e", "classified", "motorcycle"),
                image_result("s3://b/f", "failed", error="NotAnImageError", cause="a PDF"),
            ),
        ],
        [failed_child, aborted_child],
        [pending_child],
        tolerated_failure_percentage=40,
    )
    # 5 images of succeeded children, 2 of a failed child, 2 aborted, 2 never started.
    assert (summary["total"], summary["classified"], summary["low_confidence"]) == (11, 2, 1)
    assert (summary["skipped"], summary["failed"], summary["not_processed"]) == (1, 3, 4)
    assert summary["labels"] == {"bicycle": 1, "motorcycle": 1}
    assert summary["failures"] == [
        {"s3_uri": "s3://b/f", "error": "NotAnImageError", "cause": "a PDF"},
        {"s3_uri": "s3://b/c1", "error": "Lambda.Unknown", "cause": "the function timed out"},
        {"s3_uri": "s3://b/c2", "error": "Lambda.Unknown", "cause": "the function timed out"},
    ]
    assert summary["failure_percentage"] == round(300 / 11, 2)
    assert summary["tolerance_exceeded"] is False  # 27 percent is within 40


@pytest.mark.parametrize(
    ("failed", "tolerated", "exceeded"),
    [(0, 0, False), (1, 0, True), (1, 10, False), (2, 10, True)],
)
def test_the_image_tolerance_follows_the_maps_rule(failed, tolerated, exceeded):
    """As Step Functions judges a Map Run: more than the tolerated percentage fails it."""
    results = [image_result(f"s3://b/{i}", "classified", "bicycle") for i in range(10 - failed)]
    results += [image_result(f"s3://b/x{i}", "failed", error="E") for i in range(failed)]
    summary = model.summarize([batch_child(*results)], [], tolerated_failure_percentage=tolerated)
    assert summary["tolerance_exceeded"] is exceeded
