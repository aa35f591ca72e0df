"""The live window read back from CloudWatch: one bounded GetMetricData call (plus its pages).

Six ``SEARCH`` expressions, one per live drift metric (``contracts.metrics``), each restricted to
one pipeline and one model (``Pipeline="..." Model="..."``), summed per period; the series of
the per-label and per-bucket metrics are told apart by a dynamic label
(``${PROP('Dim.Label')}``). The schema lists every dimension the functions publish with (the
``service`` dimension Powertools adds included), so the search matches them exactly and no
other metric. A search returns at most 500 series: the label cap keeps a model far below it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts.metrics import (
    BUCKET_DIMENSION,
    DRIFT_ABSTENTIONS,
    DRIFT_IMAGE_BYTES,
    DRIFT_IMAGES,
    DRIFT_PREDICTIONS,
    DRIFT_TOP_CONFIDENCE,
    DRIFT_TOP_CONFIDENCE_SUM,
    LABEL_DIMENSION,
    MODEL_DIMENSION,
    PIPELINE_DIMENSION,
    SERVICE_DIMENSION,
)
from drift.figures import LiveWindow

#: GetMetricData pages read at most (six searches fit in one page at any realistic size).
MAX_PAGES = 10

_SCALARS = {
    "images": DRIFT_IMAGES,
    "abstentions": DRIFT_ABSTENTIONS,
    "confidencesum": DRIFT_TOP_CONFIDENCE_SUM,
}
_SERIES = {
    "labels": (DRIFT_PREDICTIONS, LABEL_DIMENSION),
    "confidences": (DRIFT_TOP_CONFIDENCE, BUCKET_DIMENSION),
    "sizes": (DRIFT_IMAGE_BYTES, BUCKET_DIMENSION),
}


class WindowUnavailable(Exception):  # noqa: N818 - reads as the condition it reports
    """CloudWatch did not answer the window's figures in full."""


def period_for(window: timedelta) -> int:
    """Five-minute periods up to six hours, hourly beyond (few points, still aligned)."""
    return 300 if window <= timedelta(hours=6) else 3600


def search(
    namespace: str,
    metric: str,
    pipeline: str,
    model: str | None,
    dimension: str | None,
    period: int,
) -> str:
    """The SEARCH expression of one live metric of one pipeline's model (``None``: any model,
    as the dashboard shows them)."""
    names = sorted(
        {
            MODEL_DIMENSION,
            PIPELINE_DIMENSION,
            SERVICE_DIMENSION,
            *([dimension] if dimension else []),
        }
    )
    schema = ",".join([namespace, *names])
    terms = f'MetricName="{metric}" {PIPELINE_DIMENSION}="{pipeline}"'
    if model is not None:
        terms += f' {MODEL_DIMENSION}="{model}"'
    return f"SEARCH('{{{schema}}} {terms}', 'Sum', {period})"


def queries(namespace: str, pipeline: str, model: str, period: int) -> list[dict[str, Any]]:
    """The GetMetricData ``MetricDataQueries`` of one window."""
    found: list[dict[str, Any]] = []
    for query_id, metric in _SCALARS.items():
        found.append(
            {
                "Id": query_id,
                "Expression": search(namespace, metric, pipeline, model, None, period),
                "ReturnData": True,
            }
        )
    for query_id, (metric, dimension) in _SERIES.items():
        found.append(
            {
                "Id": query_id,
                "Expression": search(namespace, metric, pipeline, model, dimension, period),
                "Label": f"${{PROP('Dim.{dimension}')}}",
                "ReturnData": True,
            }
        )
    return found


@dataclass(frozen=True)
class Window:
    """Where the window is: its start and end, and the model's dimension value."""

    pipeline: str
    model: str
    start: datetime
    end: datetime


def read_window(cloudwatch: Any, namespace: str, window: Window) -> LiveWindow:
    """Sum every series of the window; :class:`WindowUnavailable` when CloudWatch failed."""
    period = period_for(window.end - window.start)
    request: dict[str, Any] = {
        "MetricDataQueries": queries(namespace, window.pipeline, window.model, period),
        "StartTime": window.start,
        "EndTime": window.end,
        "ScanBy": "TimestampAscending",
    }
    scalars: dict[str, float] = dict.fromkeys(_SCALARS, 0.0)
    series: dict[str, dict[str, float]] = {query_id: {} for query_id in _SERIES}
    for _ in range(MAX_PAGES):
        response = cloudwatch.get_metric_data(**request)
        for result in response.get("MetricDataResults", []):
            add_result(result, scalars, series)
        for message in response.get("Messages", []):
            if message.get("Code") == "MaxMetricsExceeded":
                raise WindowUnavailable(f"GetMetricData: {message.get('Value', message)}")
        token = response.get("NextToken")
        if not token:
            break
        request["NextToken"] = token
    else:
        raise WindowUnavailable(f"GetMetricData still had pages after {MAX_PAGES}")
    return LiveWindow(
        images=int(scalars["images"]),
        abstentions=int(scalars["abstentions"]),
        confidence_sum=float(scalars["confidencesum"]),
        labels=_counts(series["labels"]),
        confidences=_counts(series["confidences"]),
        sizes=_counts(series["sizes"]),
    )


def add_result(
    result: Mapping[str, Any], scalars: dict[str, float], series: dict[str, dict[str, float]]
) -> None:
    """Add one MetricDataResult (``StatusCode`` Complete or PartialData: pages follow)."""
    status = result.get("StatusCode")
    if status in ("InternalError", "Forbidden"):
        raise WindowUnavailable(f"GetMetricData answered {status} for {result.get('Id')}")
    query_id = str(result.get("Id", ""))
    total = float(sum(result.get("Values", [])))
    if query_id in series:
        label = str(result.get("Label", ""))
        series[query_id][label] = series[query_id].get(label, 0.0) + total
    elif query_id in _SCALARS:
        scalars[query_id] += total


def _counts(sums: Mapping[str, float]) -> dict[str, int]:
    return {key: round(value) for key, value in sorted(sums.items()) if round(value)}
