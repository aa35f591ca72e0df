"""Where each pipeline writes in the artifacts bucket.

Each writer's IAM is scoped to its prefix (the stacks grant ``<prefix>*``) and each function
writes its keys under the same prefix: both import it from here, so a moved prefix moves the
grant with it instead of becoming AccessDenied in production. :data:`RESERVED_ARTIFACT_PREFIXES`
is the table the configuration keeps other settings out of.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: Everything a pipeline derives from an input (the lifecycle moves it to Standard-IA).
RESULTS_ROOT: Final = "results/"

# -- Rekognition inference ------------------------------------------------------------------
#: ``<prefix><project>/<version>/<input key>.json``: one result per image and model version.
REKOGNITION_RESULTS_PREFIX: Final = f"{RESULTS_ROOT}rekognition/"
#: ``<prefix><project>/<version>/<input key>.json``: results below the review threshold.
REKOGNITION_REVIEW_PREFIX: Final = "review/rekognition/"
#: ``<prefix>images/<input key>.json`` and ``<prefix>messages/<sha256>.json``: why not.
REKOGNITION_ERRORS_PREFIX: Final = "errors/rekognition/"

# -- Rekognition training -------------------------------------------------------------------
#: Rekognition writes each version's model, evaluation and manifest snapshots here.
REKOGNITION_MODELS_PREFIX: Final = "models/"
#: The evaluation function writes each version's ``metrics.json`` and ``report.html`` here.
REPORTS_PREFIX: Final = "reports/"

# -- SageMaker ------------------------------------------------------------------------------
#: ``<prefix><batch id>/...``: a batch run's results and summary.
SAGEMAKER_BATCH_RESULTS_PREFIX: Final = f"{RESULTS_ROOT}sagemaker/batch/"
#: Training jobs' model artifacts.
SAGEMAKER_MODELS_PREFIX: Final = "sagemaker/models/"
#: The endpoint's data capture.
SAGEMAKER_DATA_CAPTURE_PREFIX: Final = "sagemaker/data-capture/"
#: ``<prefix><training job>/``: a SageMaker version's reports and lineage record.
SAGEMAKER_REPORTS_PREFIX: Final = "sagemaker/reports/"

# -- Drift ----------------------------------------------------------------------------------
#: The drift evaluator's reports (``contracts.drift`` names the files under it).
DRIFT_PREFIX: Final = "drift/"

# -- Relabel --------------------------------------------------------------------------------
#: Ground Truth relabel jobs, their output and the reviewed records.
RELABEL_PREFIX: Final = "relabel/"


def model_output_prefix(project: str, version: str) -> str:
    """Where Rekognition writes one version's output: ``models/<project>/<version>/``."""
    return f"{REKOGNITION_MODELS_PREFIX}{project}/{version}/"


def project_reports_prefix(project: str) -> str:
    """Every report of one project: ``reports/<project>/`` (the widget reads the latest)."""
    return f"{REPORTS_PREFIX}{project}/"


def version_report_prefix(project: str, version: str) -> str:
    """One Rekognition version's report (and drift baseline): ``reports/<project>/<version>/``."""
    return f"{project_reports_prefix(project)}{version}/"


def sagemaker_report_prefix(job_name: str) -> str:
    """One SageMaker version's reports, lineage record and drift baseline, by the training job
    that made it (the job names its model, package and endpoint config):
    ``sagemaker/reports/<job>/``."""
    return f"{SAGEMAKER_REPORTS_PREFIX}{job_name}/"


#: What the app writes under fixed prefixes of the artifacts bucket (the IAM of each writer is
#: scoped to its prefix; ``tests/contract`` checks every synthesized grant against this table).
RESERVED_ARTIFACT_PREFIXES: Final[Mapping[str, str]] = {
    REKOGNITION_RESULTS_PREFIX: "Rekognition inference results",
    SAGEMAKER_BATCH_RESULTS_PREFIX: "SageMaker batch results",
    REKOGNITION_REVIEW_PREFIX: "Rekognition review records",
    REKOGNITION_ERRORS_PREFIX: "Rekognition inference error records",
    REKOGNITION_MODELS_PREFIX: "Rekognition model output and evaluation files",
    REPORTS_PREFIX: "evaluation reports and drift baselines",
    DRIFT_PREFIX: "drift reports",
    SAGEMAKER_MODELS_PREFIX: "SageMaker model artifacts",
    SAGEMAKER_DATA_CAPTURE_PREFIX: "SageMaker endpoint data capture",
    SAGEMAKER_REPORTS_PREFIX: "SageMaker metrics and lineage records",
    RELABEL_PREFIX: "Ground Truth relabel jobs, their output and the reviewed records",
}
