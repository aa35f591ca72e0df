"""What a built-in image classification labeling job of SageMaker Ground Truth is made of.

The pre-annotation and annotation-consolidation Lambda functions of the built-in task types are
owned by AWS, one account per region. Their ARNs are listed in the SageMaker API reference,
``HumanTaskConfig.PreHumanTaskLambdaArn`` and ``AnnotationConsolidationConfig.
AnnotationConsolidationLambdaArn`` ("Image classification"):
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HumanTaskConfig.html
(``tests/unit/test_relabel_ground_truth.py`` compares this table with the same documentation as
botocore ships it in its SageMaker service model). This table is the one place they live.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

DOCUMENTATION_URL = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HumanTaskConfig.html"
)
#: Region -> the AWS account that owns the built-in task functions there.
TASK_FUNCTION_ACCOUNTS: dict[str, str] = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}
TASK_TYPE = "ImageMultiClass"
#: The ``type`` of an image classification (single label) answer in the output manifest.
ANSWER_TYPE = "groundtruth/image-classification"
#: The label category configuration file's format version (Ground Truth developer guide,
#: "Label category configuration file").
CATEGORY_DOCUMENT_VERSION = "2018-11-28"

#: The worker task template of the built-in image classification task (crowd HTML elements:
#: ``crowd-image-classifier``); the pre-annotation function fills taskObject and labels.
UI_TEMPLATE = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-image-classifier
    name="crowd-image-classifier"
    src="{{ task.input.taskObject | grant_read_access }}"
    header="What does this image show?"
    categories="{{ task.input.labels | to_json | escape }}"
  >
    <full-instructions header="Instructions">
      <p>Choose the one category that best describes the image.</p>
      <p>The model was unsure about these images, or they are a sample of its confident
      answers: your answer becomes training data, so take the category you see, not the one
      you expect.</p>
    </full-instructions>
    <short-instructions>Choose the category that best describes the image.</short-instructions>
  </crowd-image-classifier>
</crowd-form>
"""


#: Labeling job statuses under which a job still holds (or will hold) workers' tasks.
ACTIVE_JOB_STATUSES = ("Initializing", "InProgress", "Stopping")


class UnsupportedRegionError(ValueError):
    """Ground Truth's built-in task functions are not offered in this region."""


def task_function_arns(region: str, partition: str = "aws") -> tuple[str, str]:
    """(PreHumanTaskLambdaArn, AnnotationConsolidationLambdaArn) of image classification."""
    account = TASK_FUNCTION_ACCOUNTS.get(region)
    if account is None:
        raise UnsupportedRegionError(
            f"Ground Truth's built-in image classification is not offered in {region}; "
            f"regions: {', '.join(sorted(TASK_FUNCTION_ACCOUNTS))} ({DOCUMENTATION_URL})"
        )
    base = f"arn:{partition}:lambda:{region}:{account}:function"
    return f"{base}:PRE-{TASK_TYPE}", f"{base}:ACS-{TASK_TYPE}"


def label_category_config(labels: Sequence[str]) -> str:
    """The label category configuration file: one entry per category, in class order."""
    return json.dumps(
        {
            "document-version": CATEGORY_DOCUMENT_VERSION,
            "labels": [{"label": label} for label in labels],
        },
        ensure_ascii=False,
    )


def labeling_job_request(
    *,
    job_name: str,
    region: str,
    manifest_uri: str,
    categories_uri: str,
    template_uri: str,
    workteam_arn: str,
    workers_per_image: int,
    task_time_limit_seconds: int,
    task_availability_seconds: int,
) -> dict[str, Any]:
    """The CreateLabelingJob parameters (botocore names) of one relabel job, but ``RoleArn`` and
    ``OutputConfig``, which the workflow's definition sets (they are the stack's: the Ground
    Truth role, the artifacts bucket and the environment's key).

    The label attribute is the job's name, as Ground Truth's own console does; the merge reads
    the answers under it.
    """
    pre, consolidation = task_function_arns(region)
    return {
        "LabelingJobName": job_name,
        "LabelAttributeName": job_name,
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": manifest_uri}},
        },
        "LabelCategoryConfigS3Uri": categories_uri,
        "HumanTaskConfig": {
            "WorkteamArn": workteam_arn,
            "UiConfig": {"UiTemplateS3Uri": template_uri},
            "PreHumanTaskLambdaArn": pre,
            "TaskKeywords": ["Images", "Classification"],
            "TaskTitle": "Classify images the model was unsure about",
            "TaskDescription": "Choose the category that best describes each image",
            "NumberOfHumanWorkersPerDataObject": workers_per_image,
            "TaskTimeLimitInSeconds": task_time_limit_seconds,
            "TaskAvailabilityLifetimeInSeconds": task_availability_seconds,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": consolidation},
        },
    }


def active_jobs(client: Any, name_prefix: str) -> list[str]:
    """This environment's labeling jobs that are not finished (a run that timed out may have
    left one). Also what ``ops review status`` shows."""
    found = []
    for status in ACTIVE_JOB_STATUSES:
        page = client.list_labeling_jobs(
            NameContains=name_prefix, StatusEquals=status, MaxResults=10
        )
        found += [
            job["LabelingJobName"]
            for job in page.get("LabelingJobSummaryList", [])
            if job["LabelingJobName"].startswith(name_prefix)
        ]
    return found
