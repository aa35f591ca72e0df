"""The fixed values the configuration is checked against and the code relies on.

AWS limits and quotas the configuration alone checks (regions, log retention periods, name
lengths) and the app's own vocabularies and budgets (model control modes, the history budget of
the training workflow). What the functions rely on too (SQS event source ranges, the gate
metrics, the stack concerns) is in ``lambda_src/contracts``; ``stacks.config`` re-exports it.
They live apart from the parsers so that a component can read a limit (``SUPPORTED_REGIONS``,
``PROJECT_LOOKUP_MAX_PAGES``) without the reader, and a test can pin one without a cdk.json.
"""

from __future__ import annotations

import re

from contracts.limits import STATES_HISTORY_QUOTA

#: Regions where every service the pipelines use is offered (Rekognition Custom Labels is the
#: narrowest; see "Custom Labels supported Regions" in the Rekognition developer guide).
SUPPORTED_REGIONS: frozenset[str] = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-central-1",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ap-northeast-2",
    }
)

#: Retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip

#: Rekognition's longest project name (CreateProject ProjectName).
_MAX_PROJECT_NAME = 255
_MAX_INFERENCE_UNITS = 100
#: Longest drain target: a day (a burst drained more slowly than that is better scheduled).
MAX_DRAIN_MINUTES = 24 * 60
#: How long a model start is expected to take (AWS: minutes; 10-20 for a restart). The
#: controller's unit choice forecasts the arrivals over it; the backlog alarm must allow it.
EXPECTED_MODEL_START_MINUTES = 10
#: Longest "<prefix>-<env>" that keeps "<it>-artifacts-<account>-<region>" within 63 characters.
_MAX_NAME_PREFIX = 24

#: How the model controller runs the Rekognition model (see ``lambda_src/model_controller``).
MODEL_CONTROL_MODES: tuple[str, ...] = ("off", "scheduled", "on_demand")
#: Upper bounds of the inference batching settings (see ``_rekognition``).
MAX_INFERENCE_BATCH = 100
MAX_DETECT_CONCURRENCY = 50
#: Longest a full batch may need at the paced rate, so it ends well inside Lambda's 15 minutes.
MAX_BATCH_SECONDS = 600

#: SageMaker: image-classification settings (see ``_sagemaker``).
TRAINING_DATA_FORMATS: tuple[str, ...] = ("image", "recordio")
#: How a SageMaker model that passed its gate reaches the endpoint: ``direct`` (the training
#: workflow deploys it, registered as Approved) or ``on_approval`` (registered as
#: PendingManualApproval; approving the model package starts the deploy workflow).
DEPLOY_DIRECT = "direct"
DEPLOY_ON_APPROVAL = "on_approval"
SAGEMAKER_DEPLOY_MODES: tuple[str, ...] = (DEPLOY_DIRECT, DEPLOY_ON_APPROVAL)
IMAGE_CLASSIFICATION_LAYERS: tuple[int, ...] = (18, 34, 50, 101, 152, 200, 20, 32, 44, 56, 110)
PRETRAINED_LAYERS: tuple[int, ...] = (18, 34, 50, 101, 152, 200)
MAX_MAP_CONCURRENCY = 1000
MAX_TRAINING_HOURS = 72

#: Step Functions Standard workflows: history events per execution.
HISTORY_QUOTA = STATES_HISTORY_QUOTA
#: What the longest training run may use: half the quota (the README promises it).
HISTORY_BUDGET = HISTORY_QUOTA // 2
#: History events one iteration of a polling loop adds at most: Wait (2), the describe Task
#: (5), the status Choice (2), the counter Pass (2), the deadline Choice (2). Measured per loop
#: on the synthesized definition by
#: tests/workflows/rekognition_training/test_retries_and_deployment.py.
EVENTS_PER_POLL = 13
#: History events of the longest run outside its loops (every other state, the deletion Map's
#: own events, a few retries); measured on that run by the same test, with room to spare.
EVENTS_OUTSIDE_LOOPS = 300
#: Most DescribeProjects pages the training workflow reads to find its project (filtered by
#: name, a page may hold no match and a NextToken): 10 pages of up to 100 projects.
PROJECT_LOOKUP_MAX_PAGES = 10
#: A Custom Labels project has at most one TRAIN and one TEST dataset: the items of the
#: workflow's DeleteOldDatasets Map, which deletes them side by side.
MAX_PROJECT_DATASETS = 2
#: Added to the sum of the deadlines for what is not a wait: Lambdas, SDK calls, retries.
EXECUTION_TIMEOUT_SLACK_MINUTES = 60
#: Step Functions: a Standard execution runs at most one year, and so does a task that waits
#: for a task token (its TimeoutSeconds); the promotion's approval wait and the execution
#: around it must fit.
MAX_STANDARD_EXECUTION_SECONDS = 365 * 24 * 3600

_INSTANCE_STORAGE = re.compile(r"ml\.([a-z]+\d+[a-z]*d[a-z]*|g5|g6|g6e|p5|p5e|p5en|trn1|trn1n)\.")


def has_instance_storage(instance_type: str) -> bool:
    """True for SageMaker instance types with local NVMe storage (``ml.g4dn``, ``ml.m5d``, ...).

    SageMaker encrypts those volumes with a hardware module and refuses a KMS key for them
    (``VolumeKmsKeyId``, an endpoint configuration's ``KmsKeyId``).
    """
    return _INSTANCE_STORAGE.match(instance_type) is not None
