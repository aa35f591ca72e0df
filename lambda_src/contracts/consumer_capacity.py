"""How fast the inference consumers may call the model: sized to the inference units running.

One inference unit serves ``tps_per_unit`` DetectCustomLabels calls per second. For ``units``
running, the consumers together may make ``units x tps_per_unit`` calls per second:

- the event source's ``MaximumConcurrency`` is ``clamp(ceil(model_tps / detect_concurrency),
  2, 1000)``: enough invocations to reach the model's rate even if a call took a full second
  (each invocation keeps ``detect_concurrency`` calls in flight), within the range Lambda's SQS
  event source accepts;
- each invocation paces its calls to ``model_tps / max_concurrency``, so all of them together
  stay at or below ``model_tps``.

The model controller computes this for the units actually in service, sets the event source's
``MaximumConcurrency`` and publishes the pace in an SSM parameter (:func:`to_parameter`) that the
consumer reads (:func:`pace_from_parameter`). ``stacks/config/`` sizes the template's event source
with the same :func:`capacity_for` at synth time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from contracts.limits import SQS_MAX_CONCURRENCY_RANGE

#: Version of the parameter's JSON document.
SCHEMA = "imgclf.rekognition.consumer-capacity/1"


@dataclass(frozen=True)
class ConsumerCapacity:
    """What the consumers are sized to: the units, the invocations and each one's pace."""

    inference_units: int
    max_concurrency: int
    invocation_tps: float

    @property
    def model_tps(self) -> float:
        """Calls per second of all invocations together (the model's throughput)."""
        return self.max_concurrency * self.invocation_tps


def capacity_for(units: int, tps_per_unit: float, detect_concurrency: int) -> ConsumerCapacity:
    """The event source concurrency and per-invocation pace for ``units`` in service."""
    if units < 1:
        raise ValueError(f"units must be at least 1, got {units}")
    model_tps = units * tps_per_unit
    low, high = SQS_MAX_CONCURRENCY_RANGE
    concurrency = max(low, min(high, math.ceil(model_tps / detect_concurrency)))
    return ConsumerCapacity(units, concurrency, model_tps / concurrency)


def to_parameter(capacity: ConsumerCapacity) -> str:
    """The SSM parameter value the controller publishes (compact JSON, stable key order)."""
    return json.dumps(
        {
            "schema": SCHEMA,
            "inference_units": capacity.inference_units,
            "max_concurrency": capacity.max_concurrency,
            "invocation_tps": capacity.invocation_tps,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def pace_from_parameter(value: str | None) -> float | None:
    """The published per-invocation pace, or None when the value is missing or unusable."""
    if not value:
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        return None
    pace = document.get("invocation_tps")
    if isinstance(pace, bool) or not isinstance(pace, (int, float)):
        return None
    if not math.isfinite(pace) or pace <= 0:
        return None
    return float(pace)
