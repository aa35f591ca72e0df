"""The execution input that starts the Rekognition training workflow on one manifest.

Written by the training trigger (a manifest landed, or the schedule) and by the relabel
workflow when no trigger watches its manifests: the manifest trains, the test set is split off
automatically.
"""

from __future__ import annotations

from typing import Any


def training_request(manifest_uri: str) -> dict[str, Any]:
    return {"training_data": {"manifest_s3_uri": manifest_uri}, "test_data": {"auto_split": True}}
