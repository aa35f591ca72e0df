"""The drift signals of one SageMaker classification (``shared.drift_signals``).

Called by ``classify`` for every answer, whichever workflow asked (single image, synchronous,
batch): the endpoint is the ``Model`` dimension (the drift evaluator tells its versions apart
by the endpoint's last update), and an answer under the workflow's threshold is an abstention.
"""

from __future__ import annotations

from shared.drift_contract import SAGEMAKER
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
