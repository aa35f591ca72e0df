"""The drift signals of SageMaker classifications (``shared.drift_signals``).

Called by ``classify`` for every single-image answer (the single and synchronous workflows)
and by ``classify_batch`` once per batch chunk. The endpoint is the ``Model`` dimension (the
drift evaluator tells its versions apart by the endpoint's last update), and an answer under
the workflow's threshold is an abstention."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from contracts.drift import SAGEMAKER
from shared.drift_signals import DriftTallies


def publish_drift(
    *, endpoint: str, label: str, confidence: float, threshold: float, size: int
) -> None:
    """The EMF lines of one classified image."""
    tallies = DriftTallies(SAGEMAKER)
    tallies.add(
        endpoint, label=label, confidence=confidence, abstained=confidence < threshold, size=size
    )
    tallies.publish()


def publish_batch_drift(
    *, endpoint: str, threshold: float, results: Iterable[Mapping[str, Any]]
) -> None:
    """The EMF lines of a batch's classified images (its results' label and confidence; the
    byte size is not in a result, so batch images add nothing to the size histogram)."""
    tallies = DriftTallies(SAGEMAKER)
    for result in results:
        confidence = float(result["confidence"])
        tallies.add(
            endpoint,
            label=str(result["label"]),
            confidence=confidence,
            abstained=confidence < threshold,
            size=None,
        )
    tallies.publish()
