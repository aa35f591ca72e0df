"""The Rekognition Custom Labels promotion workflow of an environment that promotes (``promotion``).

Takes a version the source environment trained and gated, refuses it unless its lineage record
says it passed, waits for an approver when configured, copies it into this environment's
project (CopyProjectVersion) and deploys it through the training workflow's deployment
(``stacks.pipelines.rekognition_training.deployment``): start, publish, stop the previous
version, notify.

- ``construct``: the ``RekognitionPromotion`` construct (its function, workflow and outputs);
- ``definition``: the state graph;
- ``permissions``: the grants, and what the source environment must allow (``source_grants``).
"""

from __future__ import annotations

from stacks.pipelines.rekognition_promotion.construct import RekognitionPromotion

__all__ = ["RekognitionPromotion"]
