"""Rekognition Custom Labels: train -> evaluate -> gate -> deploy, as one Step Functions workflow.

States, in order (every Task guarded: timeout, jittered retry on throttling/service errors,
catch -> readable notification -> fail):

1. ``WrapRequest`` puts the execution input (any JSON value) in an object, so a failure can be
   recorded and notified; ``ValidateInput`` (Lambda) turns it into the normalized job, or the run
   fails at once with ``InvalidTrainingInput``.
2. ``FindProject`` (every page of DescribeProjects, bounded) -> ``CreateProject`` or
   ``UseProject``: reuse the project by name.
3. Datasets: replace the project's datasets (``DeleteOldDatasets``) and create TRAIN and TEST
   from dataset ARNs or Ground Truth manifests (or an automatic split), polling each until
   complete; or keep them (``use_existing_datasets``).
4. ``CreateVersion`` and a bounded poll of ``DescribeProjectVersions`` *with VersionNames*.
5. ``Evaluate`` (Lambda): report to S3, metrics to CloudWatch, the gate's verdict;
   ``RecordLineage`` (Lambda): ``lineage.json`` next to the report (``shared.lineage``), whatever
   the verdict, and ``TagVersion``: the record's URI, the verdict and the code version as tags.
6. Gate passed: start the version, poll until RUNNING, publish its ARN to the SSM parameter
   inference reads, stop the previously published version (blue/green), notify, ``Deployed``.
   Gate failed: notify the gap, end in ``ModelRejected`` (a successful run whose outcome is
   ``REJECTED``; the version is kept, not started).

Modules: ``construct`` (the :class:`RekognitionTraining` construct: functions, wiring, outputs),
``definition`` (steps 1, 2, 4, 5 and the gate), ``datasets`` (step 3), ``deployment`` (step 6),
``polling`` (the guarded SDK task and the bounded polling loops), ``statuses`` (what each status
means to each poll), ``permissions`` (IAM grants and their cdk-nag acknowledgements),
``triggers`` (manifest and schedule triggers).
"""

from __future__ import annotations

from stacks.pipelines.rekognition_training.construct import (
    EVALUATION_SERVICE,
    RekognitionTraining,
)
from stacks.pipelines.rekognition_training.definition import MANAGED_BY
from stacks.pipelines.rekognition_training.deployment import (
    INFERENCE_UNIT_HOUR_USD,
    NO_PREVIOUS_MODEL,
    SSM_TRANSIENT_ERRORS,
)
from stacks.pipelines.rekognition_training.polling import (
    REKOGNITION_TRANSIENT_ERRORS,
    SDK_TIMEOUT,
)

__all__ = [
    "EVALUATION_SERVICE",
    "INFERENCE_UNIT_HOUR_USD",
    "MANAGED_BY",
    "NO_PREVIOUS_MODEL",
    "REKOGNITION_TRANSIENT_ERRORS",
    "SDK_TIMEOUT",
    "SSM_TRANSIENT_ERRORS",
    "RekognitionTraining",
]
