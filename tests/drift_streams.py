"""Synthetic live streams for the drift tests, published through the real EMF code, and a
CloudWatch stand-in that answers the evaluator's GetMetricData SEARCH queries from them.

moto's CloudWatch does not evaluate SEARCH expressions, so :class:`MetricStore` does, by the
documented grammar (``{Namespace,Dim1,...} MetricName="..." Dim="value"``: the schema names the
exact dimension set, each quoted term must match exactly) and answers in GetMetricData's
documented response shape; every request is first validated against botocore's model.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import botocore.session
from botocore.validate import validate_parameters

from shared.drift_signals import DriftTally, LabelCap

_SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\}(?P<terms>[^']*)', '(?P<stat>\w+)', (\d+)\)")
_TERM = re.compile(r'(?P<key>\w+)="(?P<value>[^"]*)"')
_LABEL = re.compile(r"\$\{PROP\('Dim\.(?P<dimension>\w+)'\)\}")
NAMESPACE = "ImageClassification/test"
_MODEL = botocore.session.get_session().get_service_model("cloudwatch")


@dataclass(frozen=True)
class Stream:
    """How live images are drawn: label shares, top confidences, abstentions, byte sizes."""

    label_shares: Mapping[str, float]
    n_images: int
    seed: int = 0
    confidence: tuple[float, float] = (0.85, 0.99)
    abstention_rate: float = 0.05
    sizes: tuple[int, int] = (60_000, 120_000)

    def images(self) -> Iterable[tuple[str | None, float, int]]:
        rng = random.Random(self.seed)
        labels, weights = zip(*self.label_shares.items(), strict=True)
        for _ in range(self.n_images):
            size = rng.randint(*self.sizes)
            if rng.random() < self.abstention_rate:
                yield None, 0.0, size
            else:
                yield rng.choices(labels, weights)[0], rng.uniform(*self.confidence), size


def emf_lines(
    pipeline: str,
    model: str,
    stream: Stream,
    batch: int = 25,
    service: str = "inference",
    namespace: str = NAMESPACE,
) -> list[dict[str, Any]]:
    """The EMF documents the inference code prints for ``stream``, one tally per ``batch``,
    in a function whose service name is ``service`` (Lambda functions always have one)."""
    output = io.StringIO()
    cap = LabelCap()
    images = list(stream.images())
    previous = os.environ.get("POWERTOOLS_SERVICE_NAME")
    os.environ["POWERTOOLS_SERVICE_NAME"] = service
    try:
        with contextlib.redirect_stdout(output):
            for start in range(0, len(images), batch):
                tally = DriftTally(pipeline, model)
                for label, confidence, size in images[start : start + batch]:
                    tally.add(
                        label=label,
                        confidence=confidence,
                        abstained=label is None,
                        size=size,
                        cap=cap,
                    )
                tally.publish(namespace)
    finally:
        if previous is None:
            os.environ.pop("POWERTOOLS_SERVICE_NAME", None)
        else:
            os.environ["POWERTOOLS_SERVICE_NAME"] = previous
    return [json.loads(line) for line in output.getvalue().splitlines() if line.strip()]


@dataclass
class MetricStore:
    """Metric data points from EMF documents; answers GetMetricData SEARCH queries."""

    points: list[tuple[str, str, dict[str, str], float, datetime]] = field(default_factory=list)
    page_size: int = 1000
    requests: list[dict[str, Any]] = field(default_factory=list)

    def ingest(self, documents: Sequence[Mapping[str, Any]], at: datetime) -> None:
        for document in documents:
            (directive,) = document["_aws"]["CloudWatchMetrics"]
            (dimension_names,) = directive["Dimensions"]
            dimensions = {name: str(document[name]) for name in dimension_names}
            for metric in directive["Metrics"]:
                for value in document[metric["Name"]]:
                    self.points.append(
                        (directive["Namespace"], metric["Name"], dimensions, float(value), at)
                    )

    def get_metric_data(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, _MODEL.operation_model("GetMetricData").input_shape)
        self.requests.append(params)
        results: list[dict[str, Any]] = []
        for query in params["MetricDataQueries"]:
            results += self._answer(query, params["StartTime"], params["EndTime"])
        offset = int(params.get("NextToken") or 0)
        page = results[offset : offset + self.page_size]
        response: dict[str, Any] = {"MetricDataResults": page, "Messages": []}
        if offset + self.page_size < len(results):
            response["NextToken"] = str(offset + self.page_size)
        return response

    def _answer(self, query: Mapping[str, Any], start: datetime, end: datetime) -> list[Any]:
        match = _SEARCH.fullmatch(query["Expression"])
        assert match, query["Expression"]
        namespace, *names = [part.strip() for part in match["schema"].split(",")]
        terms = dict(_TERM.findall(match["terms"]))
        metric_name = terms.pop("MetricName")
        series: dict[tuple[tuple[str, str], ...], float] = {}
        for point_namespace, name, dimensions, value, at in self.points:
            if (
                point_namespace == namespace
                and name == metric_name
                and set(dimensions) == set(names)
                and all(dimensions.get(key) == wanted for key, wanted in terms.items())
                and start <= at < end
            ):
                key = tuple(sorted(dimensions.items()))
                series[key] = series.get(key, 0.0) + value
        label = query.get("Label")
        answers = []
        for key, total in sorted(series.items()):
            dimensions = dict(key)
            found = _LABEL.fullmatch(label) if label else None
            answers.append(
                {
                    "Id": query["Id"],
                    "Label": dimensions[found["dimension"]] if found else metric_name,
                    "Timestamps": [start],
                    "Values": [total],
                    "StatusCode": "Complete",
                }
            )
        return answers
