"""Per-environment configuration, parsed from the ``cdk.json`` context into frozen dataclasses.

``cdk.json`` holds a ``defaults`` block and an ``environments`` block; each environment is the
defaults deep-merged with its own overrides, then validated here. Every user mistake raises a
:class:`ConfigError` whose message names the offending key (``environments.prod.account``) and the
problem in one line, so ``app.py`` can stop synthesis without a stack trace.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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

#: Aggregate metrics of the evaluation report the quality gate may compare.
GATE_METRICS: tuple[str, ...] = (
    "f1_score",  # the service's own F1 (EvaluationResult.F1Score)
    "accuracy",
    "balanced_accuracy",
    "matthews_corrcoef",
    "precision_micro",
    "precision_macro",
    "precision_weighted",
    "recall_micro",
    "recall_macro",
    "recall_weighted",
    "f1_micro",
    "f1_macro",
    "f1_weighted",
    "jaccard_micro",
    "jaccard_macro",
    "jaccard_weighted",
)

_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_PROJECT_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
#: Rekognition's longest project name (CreateProject ProjectName).
_MAX_PROJECT_NAME = 255
_REMOVAL_POLICIES = ("destroy", "retain")
_MAX_INFERENCE_UNITS = 100
#: Longest drain target: a day (a burst drained more slowly than that is better scheduled).
MAX_DRAIN_MINUTES = 24 * 60
#: How long a model start is expected to take (AWS: minutes; 10-20 for a restart). The
#: controller's unit choice forecasts the arrivals over it; the backlog alarm must allow it.
EXPECTED_MODEL_START_MINUTES = 10
#: Longest "<prefix>-<env>" that keeps "<it>-artifacts-<account>-<region>" within 63 characters.
_MAX_NAME_PREFIX = 24


class ConfigError(ValueError):
    """A user mistake in the configuration; the message is one line naming the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True, kw_only=True)
class QualityGateConfig:
    """Which evaluation metric must reach which threshold before a model version is started."""

    metric: str
    threshold: float
    min_label_recall: float | None


#: The stacks of every environment, by concern (``stacks/environment.py`` builds them).
STACK_CONCERNS: tuple[str, ...] = (
    "Storage",
    "Alerting",
    "RekognitionTraining",
    "RekognitionInference",
    "SageMaker",
    "Monitoring",
)

#: How the model controller runs the Rekognition model (see ``lambda_src/model_controller``).
MODEL_CONTROL_MODES: tuple[str, ...] = ("off", "scheduled", "on_demand")
#: Lambda's SQS event source: MaximumConcurrency range, and the largest batch without a window.
SQS_MAX_CONCURRENCY_RANGE = (2, 1000)
SQS_BATCH_WITHOUT_WINDOW = 10
#: Upper bounds of the inference batching settings (see ``_rekognition``).
MAX_INFERENCE_BATCH = 100
MAX_DETECT_CONCURRENCY = 50
#: Longest a full batch may need at the paced rate, so it ends well inside Lambda's 15 minutes.
MAX_BATCH_SECONDS = 600
_MODEL_VERSION_ARN = re.compile(
    r"arn:aws[a-z-]*:rekognition:[a-z]{2}(-[a-z]+)+-\d:\d{12}:project/"
    r"(?P<project>[a-zA-Z0-9_.\-]{1,255})/version/[a-zA-Z0-9_.\-]{1,255}/\d{1,20}"
)
_INPUT_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()=-]+(/[A-Za-z0-9!_.*'()=-]+)*/")

#: SageMaker: image-classification settings (see ``_sagemaker``).
TRAINING_DATA_FORMATS: tuple[str, ...] = ("image", "recordio")
IMAGE_CLASSIFICATION_LAYERS: tuple[int, ...] = (18, 34, 50, 101, 152, 200, 20, 32, 44, 56, 110)
PRETRAINED_LAYERS: tuple[int, ...] = (18, 34, 50, 101, 152, 200)
MAX_MAP_CONCURRENCY = 1000
MAX_TRAINING_HOURS = 72
_ENDPOINT_NAME = re.compile(r"(?=.{1,25}$)[a-z0-9](-*[a-z0-9])*")
_CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")
_ML_INSTANCE = re.compile(r"ml\.[a-z][a-z0-9-]*\.[a-z0-9]+")
_ML_INSTANCE_HINT = "must be a SageMaker instance type such as ml.m5.large"
_GPU_INSTANCE = re.compile(r"ml\.[gp]\d")
_INSTANCE_STORAGE = re.compile(r"ml\.([a-z]+\d+[a-z]*d[a-z]*|g5|g6|g6e|p5|p5e|p5en|trn1|trn1n)\.")
_IMAGE_SHAPE = re.compile(r"[13],[1-9]\d{0,3},[1-9]\d{0,3}")
_PREFIX_HINT = "must be a key prefix of letters, digits and !_.*'()=- segments ending in '/'"


@dataclass(frozen=True, kw_only=True)
class ScheduleWindowConfig:
    """Hours (UTC) during which the ``scheduled`` mode keeps the model running.

    ``start_hour_utc <= hour < end_hour_utc``; a window may wrap midnight (22 -> 6).
    """

    start_hour_utc: int
    end_hour_utc: int

    @property
    def hours(self) -> int:
        """Length of the window in hours."""
        return (self.end_hour_utc - self.start_hour_utc) % 24


@dataclass(frozen=True, kw_only=True)
class ModelControlConfig:
    """When the model controller starts and stops the model (it always gates the event source).

    - ``off``: never starts or stops it (operators do, with ``python -m ops model``);
    - ``scheduled``: running during ``schedule``; outside it, stopped once idle for
      ``idle_minutes``, and not started for new work;
    - ``on_demand``: started when work is waiting, stopped after ``idle_minutes`` without work.

    A start asks for the inference units that drain the backlog in ``drain_minutes`` (see
    ``lambda_src/model_controller/decision.py``).
    """

    mode: str
    idle_minutes: int
    drain_minutes: int
    schedule: ScheduleWindowConfig | None


@dataclass(frozen=True)
class ConsumerCapacity:
    """The consumers sized to ``inference_units``: event source concurrency, per-invocation pace.

    Same derivation as ``lambda_src/shared/consumer_capacity.py`` (the controller's, at run
    time; a test checks that both agree).
    """

    inference_units: int
    max_concurrency: int
    invocation_tps: float


@dataclass(frozen=True, kw_only=True)
class RekognitionInferenceConfig:
    """Rekognition Custom Labels inference settings (confidences are fractions in [0, 1]).

    Throughput follows the inference units running, so the consumers never outrun the model:
    for ``units`` in service, ``model_tps = units x tps_per_inference_unit``;
    ``max_concurrency = clamp(ceil(model_tps / calls_in_flight), 2, 1000)`` (enough invocations
    to reach ``model_tps`` even if a call took a full second); each invocation paces its calls
    to ``model_tps / max_concurrency``, so together they stay at or below ``model_tps``. The
    model controller applies this at run time (the event source's MaximumConcurrency and a
    published pace); the template starts from :attr:`initial_capacity`, and the consumer's
    timeout fits a full batch at the slowest pace the controller can publish.
    """

    #: The Custom Labels project this environment trains and serves, IAM scoped to it:
    #: ``<resource_prefix>-<environment>-<rekognition.project_name>`` (the configured short name).
    project_name: str
    #: Pins the model version; ``None`` reads the SSM parameter the training workflow writes.
    model_version_arn: str | None
    min_confidence: float
    review_threshold: float
    min_inference_units: int
    max_inference_units: int
    #: Key prefix of the data bucket whose new objects are classified.
    input_prefix: str
    batch_size: int
    batching_window_seconds: int
    #: DetectCustomLabels calls one invocation keeps in flight.
    detect_concurrency: int
    #: Images per second one inference unit serves (AWS: about 5 for small images).
    tps_per_inference_unit: float
    model_control: ModelControlConfig

    @property
    def model_tps(self) -> float:
        """Peak images per second of the model at ``max_inference_units``."""
        return self.max_inference_units * self.tps_per_inference_unit

    @property
    def calls_in_flight(self) -> int:
        """DetectCustomLabels calls one invocation makes at once (at most a batch's images)."""
        return min(self.detect_concurrency, self.batch_size)

    def capacity_for(self, units: int) -> ConsumerCapacity:
        """The consumers sized to ``units`` inference units in service."""
        model_tps = units * self.tps_per_inference_unit
        low, high = SQS_MAX_CONCURRENCY_RANGE
        concurrency = max(low, min(high, math.ceil(model_tps / self.calls_in_flight)))
        return ConsumerCapacity(units, concurrency, model_tps / concurrency)

    def capacities(self) -> list[ConsumerCapacity]:
        """Every capacity the controller can apply: 1 to ``max_inference_units`` units (fewer
        than the configured min run while a unit fails or an Availability Zone is out)."""
        return [self.capacity_for(units) for units in range(1, self.max_inference_units + 1)]

    @property
    def initial_capacity(self) -> ConsumerCapacity:
        """What the template sets (the event source's MaximumConcurrency) and the consumer uses
        until the controller publishes: the configured minimum, what a started model has."""
        return self.capacity_for(self.min_inference_units)

    @property
    def slowest_invocation_tps(self) -> float:
        """The slowest pace the controller can publish (the consumer never goes below it)."""
        return min(capacity.invocation_tps for capacity in self.capacities())

    @property
    def fastest_invocation_tps(self) -> float:
        """The fastest pace the controller can publish (the consumer never goes above it)."""
        return max(capacity.invocation_tps for capacity in self.capacities())

    @property
    def batch_seconds(self) -> float:
        """How long a full batch takes at the slowest pace."""
        return self.batch_size / self.slowest_invocation_tps

    @property
    def consumer_timeout_seconds(self) -> int:
        """Lambda timeout of the consumer: a full batch at the slowest pace, with room for
        retries."""
        return max(60, min(900, math.ceil(1.5 * self.batch_seconds) + 30))


#: Step Functions Standard workflows: history events per execution.
HISTORY_QUOTA = 25_000
#: What the longest training run may use: half the quota (the README promises it).
HISTORY_BUDGET = HISTORY_QUOTA // 2
#: History events one iteration of a polling loop adds at most: Wait (2), the describe Task
#: (5), the status Choice (2), the counter Pass (2), the deadline Choice (2). Measured per loop
#: on the synthesized definition by tests/workflows/test_rekognition_training.py.
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


@dataclass(frozen=True)
class PollingLoop:
    """One bounded polling loop of the training workflow, as the budgets count it.

    ``name`` is the loop's label in the definition (``Wait<name>``; ``Count<name>`` for the
    project pages, which do not wait); ``runs`` how often it can run in one execution (once per
    old dataset for the deletion), ``concurrent`` how many of those runs overlap in time.
    """

    name: str
    interval_seconds: int
    max_polls: int
    runs: int = 1
    concurrent: int = 1

    @property
    def polls(self) -> int:
        """Polls of every run, each to its deadline."""
        return self.max_polls * self.runs

    @property
    def wait_seconds(self) -> int:
        """How long the loop keeps the execution waiting when every run reaches its deadline."""
        return self.interval_seconds * self.max_polls * math.ceil(self.runs / self.concurrent)


@dataclass(frozen=True, kw_only=True)
class RekognitionTrainingConfig:
    """How the Rekognition training workflow polls, how long it waits, and what starts it.

    Polling intervals and deadlines are validated together so that the longest run, with every
    loop ending just before its deadline, stays under half of Step Functions' 25,000-event
    execution history; the execution timeout is the sum of those deadlines plus slack.
    """

    dataset_poll_seconds: int
    dataset_deadline_minutes: int
    training_poll_minutes: int
    training_deadline_hours: int
    start_poll_seconds: int
    start_deadline_minutes: int
    stop_previous_version: bool
    trigger_manifest_prefix: str | None
    trigger_schedule: str | None
    scheduled_manifest_key: str | None

    @property
    def dataset_max_polls(self) -> int:
        return max(1, self.dataset_deadline_minutes * 60 // self.dataset_poll_seconds)

    @property
    def training_max_polls(self) -> int:
        return max(1, self.training_deadline_hours * 60 // self.training_poll_minutes)

    @property
    def start_max_polls(self) -> int:
        return max(1, self.start_deadline_minutes * 60 // self.start_poll_seconds)

    @property
    def worst_path_loops(self) -> tuple[PollingLoop, ...]:
        """Every polling loop one execution can run: an existing project found on the last page
        read, its two old datasets deleted, TRAIN and TEST created, the automatic split
        (both datasets again), training, starting."""
        dataset, polls = self.dataset_poll_seconds, self.dataset_max_polls
        return (
            PollingLoop("ProjectPages", 0, PROJECT_LOOKUP_MAX_PAGES),
            PollingLoop(
                "DatasetDeleted",
                dataset,
                polls,
                runs=MAX_PROJECT_DATASETS,
                concurrent=MAX_PROJECT_DATASETS,
            ),
            PollingLoop("TrainDataset", dataset, polls),
            PollingLoop("TestDataset", dataset, polls),
            PollingLoop("SplitTrainDataset", dataset, polls),
            PollingLoop("SplitTestDataset", dataset, polls),
            PollingLoop("Training", self.training_poll_minutes * 60, self.training_max_polls),
            PollingLoop("Start", self.start_poll_seconds, self.start_max_polls),
        )

    @property
    def worst_path_history_events(self) -> int:
        """History events of the longest run, every loop ending just before its deadline."""
        polls = sum(loop.polls for loop in self.worst_path_loops)
        return polls * EVENTS_PER_POLL + EVENTS_OUTSIDE_LOOPS

    @property
    def execution_timeout_minutes(self) -> int:
        """The state machine's timeout: every deadline of the longest run, plus slack."""
        waits = sum(loop.wait_seconds for loop in self.worst_path_loops)
        return math.ceil(waits / 60) + EXECUTION_TIMEOUT_SLACK_MINUTES


@dataclass(frozen=True, kw_only=True)
class SageMakerBatchConfig:
    """The Distributed Map of batch classification."""

    #: Child executions (images) in flight at once; bounded by what the endpoint serves.
    max_concurrency: int
    #: Percentage of images that may fail (not an image, endpoint error) before the batch
    #: fails; more than this fails the Map Run.
    tolerated_failure_percentage: int


@dataclass(frozen=True, kw_only=True)
class ImageClassificationHyperparameters:
    """Hyperparameters of SageMaker's built-in image-classification algorithm (a subset).

    ``num_classes`` must equal the number of ``class_names``; ``num_training_samples`` is the
    number of images in the ``train`` channel (the algorithm needs it for its schedule).
    """

    num_classes: int
    num_training_samples: int
    epochs: int
    learning_rate: float
    mini_batch_size: int
    image_shape: str
    num_layers: int
    use_pretrained_model: bool

    def as_strings(self) -> dict[str, str]:
        """The hyperparameters as CreateTrainingJob takes them (a map of strings)."""
        return {
            "num_classes": str(self.num_classes),
            "num_training_samples": str(self.num_training_samples),
            "epochs": str(self.epochs),
            "learning_rate": repr(self.learning_rate),
            "mini_batch_size": str(self.mini_batch_size),
            "image_shape": self.image_shape,
            "num_layers": str(self.num_layers),
            "use_pretrained_model": "1" if self.use_pretrained_model else "0",
        }


@dataclass(frozen=True, kw_only=True)
class SageMakerTrainingConfig:
    """The training job of the train -> evaluate -> deploy workflow, and its quality gate."""

    instance_type: str
    instance_count: int
    volume_size_gb: int
    max_runtime_hours: int
    #: Data bucket prefix holding the channels (``train/``, ``validation/``, and for the
    #: ``image`` format ``train_lst/``, ``validation_lst/``).
    data_prefix: str
    #: ``image`` (JPEG/PNG files + .lst lists) or ``recordio`` (one .rec file per channel).
    data_format: str
    hyperparameters: ImageClassificationHyperparameters
    #: The model is deployed only when its final ``validation:accuracy`` reaches this.
    min_validation_accuracy: float

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names the algorithm expects for ``data_format``."""
        if self.data_format == "image":
            return ("train", "validation", "train_lst", "validation_lst")
        return ("train", "validation")

    @property
    def content_type(self) -> str:
        return "application/x-image" if self.data_format == "image" else "application/x-recordio"


@dataclass(frozen=True, kw_only=True)
class SageMakerEndpointConfig:
    """The real-time endpoint the training workflow deploys and inference invokes."""

    instance_type: str
    initial_instance_count: int
    #: Share of requests and responses captured to S3 (0 turns data capture off).
    data_capture_percentage: int


@dataclass(frozen=True, kw_only=True)
class SageMakerConfig:
    """SageMaker image classification: endpoint, classes, review routing, batch, training."""

    #: Short name; the endpoint is ``<resource_prefix>-<env>-<endpoint_name>``.
    endpoint_name: str
    #: Label of each class index, in the order the model was trained with (index 0 first).
    class_names: tuple[str, ...]
    confidence_threshold: float
    #: Data bucket prefix inference reads images from (single images and batches).
    input_prefix: str
    #: Artifacts bucket prefix where low-confidence inferences are recorded for review.
    review_prefix: str
    batch: SageMakerBatchConfig
    training: SageMakerTrainingConfig
    endpoint: SageMakerEndpointConfig

    def endpoint_full_name(self, resource_name_prefix: str) -> str:
        """The endpoint's name in SageMaker (lowercase, so it equals the name in its ARN)."""
        return f"{resource_name_prefix}-{self.endpoint_name}"

    @staticmethod
    def job_name_prefix(resource_name_prefix: str) -> str:
        """Prefix of training job, model and endpoint-config names; IAM is scoped to it."""
        return f"{resource_name_prefix}-ic"


def has_instance_storage(instance_type: str) -> bool:
    """True for SageMaker instance types with local NVMe storage (``ml.g4dn``, ``ml.m5d``, ...).

    SageMaker encrypts those volumes with a hardware module and refuses a KMS key for them
    (``VolumeKmsKeyId``, an endpoint configuration's ``KmsKeyId``).
    """
    return _INSTANCE_STORAGE.match(instance_type) is not None


@dataclass(frozen=True, kw_only=True)
class LifecycleConfig:
    """S3 lifecycle periods, in days."""

    abort_incomplete_upload_days: int
    noncurrent_version_expiration_days: int
    results_transition_to_ia_days: int
    access_logs_expiration_days: int


@dataclass(frozen=True, kw_only=True)
class OperationsConfig:
    """Alarm thresholds and dashboard links of one environment (see README "Runbooks").

    - ``queue_age_alarm_minutes``: oldest image waiting for Rekognition inference (a
      ``scheduled`` model's off hours are added on top);
    - ``lambda_errors_threshold``: errors of one function within 5 minutes;
    - ``endpoint_5xx_threshold``: SageMaker endpoint 5XX errors within 5 minutes;
    - ``low_confidence_ratio`` over ``low_confidence_window_minutes``, once at least
      ``low_confidence_min_images`` were classified (the drift signal, per pipeline);
    - ``model_idle_alarm_minutes``: a Rekognition model RUNNING with no work for this long
      (``None``: ``idle_minutes`` + 10 in ``on_demand`` mode; the window + ``idle_minutes`` + 10
      in ``scheduled`` mode; 120 in ``off`` mode);
    - ``runbook_url``: where the README's runbooks are read (linked from the dashboard).
    """

    queue_age_alarm_minutes: int
    lambda_errors_threshold: int
    endpoint_5xx_threshold: int
    low_confidence_ratio: float
    low_confidence_min_images: int
    low_confidence_window_minutes: int
    model_idle_alarm_minutes: int
    runbook_url: str | None


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    """Everything one deployment environment needs; built only by :func:`load_environment`."""

    name: str
    production: bool
    account: str | None
    region: str | None
    resource_prefix: str
    removal_policy: str
    termination_protection: bool
    notification_emails: tuple[str, ...]
    log_retention_days: int
    powertools_layer_version: int
    quality_gate: QualityGateConfig
    rekognition: RekognitionInferenceConfig
    rekognition_training: RekognitionTrainingConfig
    sagemaker: SageMakerConfig
    lifecycle: LifecycleConfig
    operations: OperationsConfig

    @property
    def retain_data(self) -> bool:
        """True when stateful resources must survive stack deletion."""
        return self.removal_policy == "retain"

    @property
    def resource_name_prefix(self) -> str:
        """Prefix for physical names: unique per app and environment."""
        return f"{self.resource_prefix}-{self.name}"

    @property
    def metrics_namespace(self) -> str:
        """CloudWatch namespace of every metric the environment's functions publish."""
        return f"ImageClassification/{self.name}"

    @property
    def dashboard_name(self) -> str:
        """The environment's CloudWatch operations dashboard."""
        return f"{self.resource_name_prefix}-operations"

    def stack_name(self, concern: str) -> str:
        """CloudFormation name of one of the environment's stacks: ``RekognitionInference`` ->
        ``<prefix>-<env>-rekognition-inference`` (``SageMaker`` is one word: ``sagemaker``)."""
        kebab = "sagemaker" if concern == "SageMaker" else re.sub(r"(?<!^)(?=[A-Z])", "-", concern)
        return f"{self.resource_name_prefix}-{kebab.lower()}"

    def physical_names(self) -> dict[str, str]:
        """Every name the app gives an AWS resource of this environment, by what it names.

        Names ending in ``*`` are prefixes: IAM is scoped to everything that starts with them.
        """
        rnp = self.resource_name_prefix
        where = f"{self.account or '<account>'}-{self.region or '<region>'}"
        names = {f"stack {c}": self.stack_name(c) for c in STACK_CONCERNS}
        names |= {
            "data bucket": f"{rnp}-data-{where}",
            "artifacts bucket": f"{rnp}-artifacts-{where}",
            "access-logs bucket": f"{rnp}-access-logs-{where}",
            "KMS key alias": f"alias/{rnp}",
            "alert topic": f"{rnp}-alerts",
            "dashboard": self.dashboard_name,
            "model version parameter": self.model_version_parameter,
            "consumer capacity parameter": self.consumer_capacity_parameter,
            "Rekognition project": self.rekognition.project_name,
            "SageMaker endpoint": self.sagemaker.endpoint_full_name(rnp),
            "SageMaker jobs, models and endpoint configurations": (
                f"{self.sagemaker.job_name_prefix(rnp)}-*"
            ),
            "metrics namespace": self.metrics_namespace,
        }
        return names

    @property
    def model_version_parameter(self) -> str:
        """SSM parameter naming the Rekognition model version inference uses.

        Written by the training workflow when a version passes the gate and is started; read by
        inference and the model controller. Not created by CloudFormation, so a deploy never
        resets it.
        """
        return f"/{self.resource_name_prefix}/rekognition/model-version-arn"

    @property
    def consumer_capacity_parameter(self) -> str:
        """SSM parameter with the pace the inference consumers may call the model at.

        Written by the model controller for the inference units in service, read by the
        consumer (cached 30 s). Not created by CloudFormation: a deploy never resets what the
        controller measured.
        """
        return f"/{self.resource_name_prefix}/rekognition/consumer-capacity"


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``override``, merging nested mappings key by key."""
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _Reader:
    """Reads typed values out of one mapping, naming the full key path in every error."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"must be an object, got {type(data).__name__}")
        self._data = data
        self._path = path
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self._path}.{name}"

    def _get(self, name: str, required: bool) -> Any:
        self._read.add(name)
        if name not in self._data or self._data[name] is None:
            if required:
                raise ConfigError(self.key(name), "is required")
            return None
        return self._data[name]

    def optional_value(self, name: str) -> Any:
        """The raw value of an optional setting (``None`` when absent or null)."""
        return self._get(name, required=False)

    def child(self, name: str) -> _Reader:
        return _Reader(self._get(name, required=True), self.key(name))

    def string(self, name: str, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        value = self._get(name, required=True)
        return self._check_string(name, value, pattern, hint)

    def optional_string(
        self, name: str, pattern: re.Pattern[str] | None = None, hint: str = ""
    ) -> str | None:
        value = self._get(name, required=False)
        return None if value is None else self._check_string(name, value, pattern, hint)

    def _check_string(
        self, name: str, value: Any, pattern: re.Pattern[str] | None, hint: str
    ) -> str:
        if not isinstance(value, str):
            raise ConfigError(self.key(name), f"must be a string, got {value!r}")
        if pattern is not None and not pattern.fullmatch(value):
            raise ConfigError(self.key(name), f"{hint}, got {value!r}")
        return value

    def boolean(self, name: str) -> bool:
        value = self._get(name, required=True)
        if not isinstance(value, bool):
            raise ConfigError(self.key(name), f"must be true or false, got {value!r}")
        return value

    def integer(self, name: str, minimum: int, maximum: int | None = None) -> int:
        value = self._get(name, required=True)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.key(name), f"must be a whole number, got {value!r}")
        if value < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(self.key(name), f"must be at most {maximum}, got {value}")
        return value

    def fraction(self, name: str, required: bool = True) -> float | None:
        value = self._get(name, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(self.key(name), f"must be a number in [0, 1], got {value!r}")
        if not 0.0 <= float(value) <= 1.0:
            raise ConfigError(self.key(name), f"must be within [0, 1], got {value}")
        return float(value)

    def number(self, name: str, above: float, maximum: float) -> float:
        """A number (int or float) greater than ``above`` and at most ``maximum``."""
        value = self._get(name, required=True)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(self.key(name), f"must be a number, got {value!r}")
        if not above < float(value) <= maximum:
            raise ConfigError(
                self.key(name), f"must be greater than {above} and at most {maximum}, got {value}"
            )
        return float(value)

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self._get(name, required=True)
        if value not in choices:
            raise ConfigError(self.key(name), f"must be one of {', '.join(choices)}; got {value!r}")
        return str(value)

    def string_list(self, name: str, pattern: re.Pattern[str], hint: str) -> tuple[str, ...]:
        value = self._get(name, required=True)
        if not isinstance(value, list):
            raise ConfigError(self.key(name), f"must be a list, got {value!r}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not pattern.fullmatch(item):
                raise ConfigError(f"{self.key(name)}[{index}]", f"{hint}, got {item!r}")
        if len(set(value)) != len(value):
            raise ConfigError(self.key(name), "contains duplicates")
        return tuple(value)

    def reject_unknown(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), sorted(self._read), n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"known: {', '.join(sorted(self._read))}"
            )
            raise ConfigError(self.key(unknown[0]), f"is not a known setting; {hint}")


def _quality_gate(reader: _Reader) -> QualityGateConfig:
    gate = QualityGateConfig(
        metric=reader.choice("metric", GATE_METRICS),
        threshold=_required(reader.fraction("threshold")),
        min_label_recall=reader.fraction("min_label_recall", required=False),
    )
    reader.reject_unknown()
    return gate


def _rekognition(reader: _Reader, resource_name_prefix: str) -> RekognitionInferenceConfig:
    # The project is the environment's own, like every other name: a project's datasets belong
    # to the project, so two environments sharing one would replace each other's datasets.
    short_name = reader.string(
        "project_name",
        _PROJECT_NAME,
        f"must be 1-{_MAX_PROJECT_NAME - len(resource_name_prefix) - 1} letters, digits, '_', "
        "'.' or '-' (the project is <resource_prefix>-<environment>-<project_name>)",
    )
    if len(short_name) > _MAX_PROJECT_NAME - len(resource_name_prefix) - 1:
        raise ConfigError(
            reader.key("project_name"),
            f"'{resource_name_prefix}-{short_name}' is longer than the {_MAX_PROJECT_NAME} "
            "characters Rekognition allows for a project name",
        )
    config = RekognitionInferenceConfig(
        project_name=f"{resource_name_prefix}-{short_name}",
        min_confidence=_required(reader.fraction("min_confidence")),
        review_threshold=_required(reader.fraction("review_threshold")),
        min_inference_units=reader.integer("min_inference_units", 1, _MAX_INFERENCE_UNITS),
        max_inference_units=reader.integer("max_inference_units", 1, _MAX_INFERENCE_UNITS),
        model_version_arn=reader.optional_string(
            "model_version_arn",
            _MODEL_VERSION_ARN,
            "must be a Custom Labels model version ARN "
            "(arn:aws:rekognition:REGION:ACCOUNT:project/NAME/version/VERSION/TIMESTAMP)",
        ),
        input_prefix=reader.string(
            "input_prefix",
            _INPUT_PREFIX,
            "must be a key prefix of letters, digits and !_.*'()=- segments ending in '/'",
        ),
        batch_size=reader.integer("batch_size", 1, MAX_INFERENCE_BATCH),
        batching_window_seconds=reader.integer("batching_window_seconds", 0, 300),
        detect_concurrency=reader.integer("detect_concurrency", 1, MAX_DETECT_CONCURRENCY),
        tps_per_inference_unit=reader.number("tps_per_inference_unit", 0, 1000),
        model_control=_model_control(reader.child("model_control")),
    )
    reader.reject_unknown()
    _check_inference_throughput(reader, config)
    if config.min_inference_units > config.max_inference_units:
        raise ConfigError(
            reader.key("min_inference_units"),
            f"must not exceed max_inference_units ({config.min_inference_units} > "
            f"{config.max_inference_units})",
        )
    if config.review_threshold < config.min_confidence:
        raise ConfigError(
            reader.key("review_threshold"),
            f"must be at least min_confidence ({config.review_threshold} < "
            f"{config.min_confidence}): labels below min_confidence are never returned",
        )
    return config


def _model_control(reader: _Reader) -> ModelControlConfig:
    mode = reader.choice("mode", MODEL_CONTROL_MODES)
    idle_minutes = reader.integer("idle_minutes", 1, 24 * 60)
    drain_minutes = reader.integer("drain_minutes", 1, MAX_DRAIN_MINUTES)
    schedule: ScheduleWindowConfig | None = None
    if reader.optional_value("schedule") is not None:
        if mode != "scheduled":
            raise ConfigError(
                reader.key("schedule"), f"is only used with mode 'scheduled' (mode is {mode!r})"
            )
        window = reader.child("schedule")
        schedule = ScheduleWindowConfig(
            start_hour_utc=window.integer("start_hour_utc", 0, 23),
            end_hour_utc=window.integer("end_hour_utc", 0, 23),
        )
        window.reject_unknown()
        if schedule.hours == 0:
            raise ConfigError(
                window.key("end_hour_utc"),
                "must differ from start_hour_utc (for a model that always runs, start it with "
                "mode 'off' and python -m ops model start)",
            )
    elif mode == "scheduled":
        raise ConfigError(reader.key("schedule"), "is required when mode is 'scheduled'")
    reader.reject_unknown()
    return ModelControlConfig(
        mode=mode, idle_minutes=idle_minutes, drain_minutes=drain_minutes, schedule=schedule
    )


def _check_inference_throughput(reader: _Reader, config: RekognitionInferenceConfig) -> None:
    if config.model_version_arn is not None:
        match = _MODEL_VERSION_ARN.fullmatch(config.model_version_arn)
        assert match is not None  # validated by optional_string
        if match["project"] != config.project_name:
            raise ConfigError(
                reader.key("model_version_arn"),
                f"belongs to project {match['project']!r}, not this environment's project "
                f"{config.project_name!r}",
            )
    if config.batch_size > SQS_BATCH_WITHOUT_WINDOW and config.batching_window_seconds < 1:
        raise ConfigError(
            reader.key("batching_window_seconds"),
            f"must be at least 1 when batch_size is above {SQS_BATCH_WITHOUT_WINDOW} "
            f"(Lambda's SQS event source rule), got {config.batching_window_seconds}",
        )
    if config.batch_seconds > MAX_BATCH_SECONDS:
        raise ConfigError(
            reader.key("batch_size"),
            f"a batch of {config.batch_size} at {config.slowest_invocation_tps:g} images/s per "
            f"invocation (the pace for the fewest units) takes {config.batch_seconds:.0f} s, "
            f"over {MAX_BATCH_SECONDS} s; use a smaller batch",
        )


_S3_KEY = re.compile(r"[^\s]{1,1024}")
_RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>[a-z]+)\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: EventBridge cron fields: (name, lowest, highest, names, special characters besides , - * /).
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...], str], ...] = (
    ("minutes", 0, 59, (), ""),
    ("hours", 0, 23, (), ""),
    ("day-of-month", 1, 31, (), "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _WEEKDAYS, "?L#"),
    ("year", 1970, 2199, (), ""),
)


def schedule_problem(expression: str) -> str | None:
    """What is wrong with an EventBridge schedule expression, or None (EventBridge User Guide,
    "Schedule expressions": ``rate(value unit)``, ``cron(6 fields)``)."""
    rate = _RATE.fullmatch(expression)
    if rate is not None:
        value, unit = int(rate["value"]), rate["unit"]
        if value < 1:
            return f"a rate must be a positive whole number, got {value}"
        singular = unit.rstrip("s") if unit.endswith("s") else unit
        if singular not in ("minute", "hour", "day"):
            return f"the rate unit must be minute(s), hour(s) or day(s), got {unit!r}"
        wanted = singular if value == 1 else f"{singular}s"
        if unit != wanted:
            return f"write rate({value} {wanted}): the unit is singular for 1 and plural otherwise"
        return None
    cron = _CRON.fullmatch(expression)
    if cron is None:
        return "must be rate(<value> <unit>) or cron(<6 fields>)"
    fields = cron["fields"].split()
    if len(fields) != len(_CRON_FIELDS):
        return (
            f"cron takes 6 fields (minutes hours day-of-month month day-of-week year), got "
            f"{len(fields)}: {cron['fields']!r}"
        )
    for text, (name, low, high, names, special) in zip(fields, _CRON_FIELDS, strict=True):
        problem = _cron_field_problem(text, low, high, names, special)
        if problem:
            return f"cron {name} field {text!r}: {problem}"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return "cron needs '?' in exactly one of day-of-month and day-of-week"
    return None


def _cron_field_problem(
    text: str, low: int, high: int, names: tuple[str, ...], special: str
) -> str:
    """What is wrong with one cron field (``,`` lists, ``-`` ranges, ``/`` increments, ``*``;
    ``?``, ``L``, ``W`` and ``#`` where the field takes them), or ``""``."""
    if text == "?":
        return "" if "?" in special else "'?' is only for day-of-month and day-of-week"
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not step.isdigit():
            return f"the increment {step!r} must be a number"
        if base == "*":
            continue
        if "#" in base:  # the nth weekday of the month: 2#3 is the third Monday
            base, _, nth = base.partition("#")
            if "#" not in special or not nth.isdigit() or not 1 <= int(nth) <= 5:
                return f"{part!r}: '#' takes a weekday and 1-5, in day-of-week only"
        for bound in base.split("-"):
            value = bound
            if value[-1:] in ("L", "W") and value[-1] in special:
                value = value[:-1]  # L: the last (day, or weekday); W: the nearest weekday
                if not value:
                    continue
            if value.upper() in names:
                continue
            if not value.isdigit():
                return f"{bound!r} is not a value of this field"
            if not low <= int(value) <= high:
                return f"{value} is outside {low}-{high}"
    return ""


def _rekognition_training(reader: _Reader) -> RekognitionTrainingConfig:
    triggers = reader.child("triggers")
    config = RekognitionTrainingConfig(
        dataset_poll_seconds=reader.integer("dataset_poll_seconds", 10, 600),
        dataset_deadline_minutes=reader.integer("dataset_deadline_minutes", 5, 24 * 60),
        training_poll_minutes=reader.integer("training_poll_minutes", 1, 60),
        training_deadline_hours=reader.integer("training_deadline_hours", 1, 72),
        start_poll_seconds=reader.integer("start_poll_seconds", 10, 600),
        start_deadline_minutes=reader.integer("start_deadline_minutes", 5, 180),
        stop_previous_version=reader.boolean("stop_previous_version"),
        trigger_manifest_prefix=_key_prefix(triggers, "manifest_prefix"),
        trigger_schedule=_schedule(triggers, "schedule"),
        scheduled_manifest_key=_object_key(triggers, "scheduled_manifest_key"),
    )
    triggers.reject_unknown()
    reader.reject_unknown()
    if (config.trigger_schedule is None) != (config.scheduled_manifest_key is None):
        raise ConfigError(
            triggers.key("scheduled_manifest_key"),
            "schedule and scheduled_manifest_key go together: a scheduled run trains on that "
            "manifest of the data bucket",
        )
    events = config.worst_path_history_events
    if events > HISTORY_BUDGET:
        loops = config.worst_path_loops
        by_setting = {
            "dataset_poll_seconds": sum(
                loop.polls for loop in loops if loop.name.endswith(("Dataset", "Deleted"))
            ),
            "training_poll_minutes": config.training_max_polls,
            "start_poll_seconds": config.start_max_polls,
        }
        largest = max(by_setting, key=lambda name: by_setting[name])
        spelled = ", ".join(f"{name}: {polls} polls" for name, polls in by_setting.items())
        raise ConfigError(
            reader.key(largest),
            f"the longest run (existing datasets replaced, automatic split, every loop to its "
            f"deadline) would make ~{events} history events ({spelled}), over half of Step "
            f"Functions' {HISTORY_QUOTA:,}-event quota; poll less often or shorten the deadlines",
        )
    return config


def _key_prefix(reader: _Reader, name: str) -> str | None:
    """An optional key prefix of the data bucket, written as S3 keys are (no leading '/')."""
    value = reader.optional_value(name)
    if isinstance(value, str) and value.startswith(("s3://", "/")):
        raise ConfigError(
            reader.key(name),
            f"give the prefix as a key within the bucket, such as 'training/manifests/' "
            f"(S3 keys have no leading '/' and no s3:// scheme), got {value!r}",
        )
    return reader.optional_string(name, _INPUT_PREFIX, _PREFIX_HINT)


def _object_key(reader: _Reader, name: str) -> str | None:
    value = reader.optional_value(name)
    if isinstance(value, str) and value.startswith(("s3://", "/")):
        raise ConfigError(
            reader.key(name),
            f"give the key within the data bucket, such as 'training/manifests/latest.manifest' "
            f"(no s3:// scheme, bucket or leading '/'), got {value!r}",
        )
    key = reader.optional_string(name, _S3_KEY, "must be an S3 object key without spaces")
    if key is not None and key.endswith("/"):
        raise ConfigError(reader.key(name), f"must name an object, not a prefix, got {key!r}")
    return key


def _schedule(reader: _Reader, name: str) -> str | None:
    expression = reader.optional_string(name)
    if expression is not None:
        problem = schedule_problem(expression)
        if problem:
            raise ConfigError(reader.key(name), f"{problem}, got {expression!r}")
    return expression


def _sagemaker(reader: _Reader) -> SageMakerConfig:
    class_names = reader.string_list(
        "class_names", _CLASS_NAME, "must be 1-64 letters, digits, spaces, '_', '.' or '-'"
    )
    if len(class_names) < 2:
        raise ConfigError(reader.key("class_names"), "a classifier needs at least 2 classes")
    config = SageMakerConfig(
        endpoint_name=reader.string(
            "endpoint_name",
            _ENDPOINT_NAME,
            "must be 1-25 lowercase letters, digits or dashes (the endpoint is "
            "<resource_prefix>-<env>-<endpoint_name>, at most 63 characters)",
        ),
        class_names=class_names,
        confidence_threshold=_required(reader.fraction("confidence_threshold")),
        input_prefix=reader.string("input_prefix", _INPUT_PREFIX, _PREFIX_HINT),
        review_prefix=reader.string("review_prefix", _INPUT_PREFIX, _PREFIX_HINT),
        batch=_sagemaker_batch(reader.child("batch")),
        training=_sagemaker_training(reader.child("training"), len(class_names)),
        endpoint=_sagemaker_endpoint(reader.child("endpoint")),
    )
    reader.reject_unknown()
    return config


def _sagemaker_batch(reader: _Reader) -> SageMakerBatchConfig:
    config = SageMakerBatchConfig(
        max_concurrency=reader.integer("max_concurrency", 1, MAX_MAP_CONCURRENCY),
        tolerated_failure_percentage=reader.integer("tolerated_failure_percentage", 0, 100),
    )
    reader.reject_unknown()
    return config


def _sagemaker_training(reader: _Reader, class_count: int) -> SageMakerTrainingConfig:
    instance_type = reader.string("instance_type", _ML_INSTANCE, _ML_INSTANCE_HINT)
    if not _GPU_INSTANCE.match(instance_type):
        raise ConfigError(
            reader.key("instance_type"),
            f"the image-classification algorithm trains on GPU instances (ml.p*, ml.g*), "
            f"got {instance_type!r}",
        )
    config = SageMakerTrainingConfig(
        instance_type=instance_type,
        instance_count=reader.integer("instance_count", 1, 10),
        volume_size_gb=reader.integer("volume_size_gb", 1, 1024),
        max_runtime_hours=reader.integer("max_runtime_hours", 1, MAX_TRAINING_HOURS),
        data_prefix=reader.string("data_prefix", _INPUT_PREFIX, _PREFIX_HINT),
        data_format=reader.choice("data_format", TRAINING_DATA_FORMATS),
        hyperparameters=_hyperparameters(reader.child("hyperparameters"), class_count),
        min_validation_accuracy=_required(reader.fraction("min_validation_accuracy")),
    )
    reader.reject_unknown()
    return config


def _hyperparameters(reader: _Reader, class_count: int) -> ImageClassificationHyperparameters:
    num_layers = reader.integer("num_layers", 1)
    if num_layers not in IMAGE_CLASSIFICATION_LAYERS:
        allowed = ", ".join(str(n) for n in IMAGE_CLASSIFICATION_LAYERS)
        raise ConfigError(reader.key("num_layers"), f"must be one of {allowed}; got {num_layers}")
    config = ImageClassificationHyperparameters(
        num_classes=reader.integer("num_classes", 2),
        num_training_samples=reader.integer("num_training_samples", 1),
        epochs=reader.integer("epochs", 1, 1000),
        learning_rate=reader.number("learning_rate", 0, 1),
        mini_batch_size=reader.integer("mini_batch_size", 1, 1024),
        image_shape=reader.string(
            "image_shape", _IMAGE_SHAPE, "must be 'channels,height,width' such as '3,224,224'"
        ),
        num_layers=num_layers,
        use_pretrained_model=reader.boolean("use_pretrained_model"),
    )
    reader.reject_unknown()
    if config.num_classes != class_count:
        raise ConfigError(
            reader.key("num_classes"),
            f"must equal the number of class_names ({config.num_classes} != {class_count})",
        )
    if config.use_pretrained_model and num_layers not in PRETRAINED_LAYERS:
        raise ConfigError(
            reader.key("use_pretrained_model"),
            f"pretrained weights exist for num_layers {', '.join(map(str, PRETRAINED_LAYERS))} "
            f"only; got {num_layers}",
        )
    return config


def _sagemaker_endpoint(reader: _Reader) -> SageMakerEndpointConfig:
    config = SageMakerEndpointConfig(
        instance_type=reader.string("instance_type", _ML_INSTANCE, _ML_INSTANCE_HINT),
        initial_instance_count=reader.integer("initial_instance_count", 1, 10),
        data_capture_percentage=reader.integer("data_capture_percentage", 0, 100),
    )
    reader.reject_unknown()
    return config


def _lifecycle(reader: _Reader) -> LifecycleConfig:
    config = LifecycleConfig(
        abort_incomplete_upload_days=reader.integer("abort_incomplete_upload_days", 1),
        noncurrent_version_expiration_days=reader.integer("noncurrent_version_expiration_days", 1),
        # S3 refuses a STANDARD_IA transition earlier than 30 days after creation.
        results_transition_to_ia_days=reader.integer("results_transition_to_ia_days", 30),
        access_logs_expiration_days=reader.integer("access_logs_expiration_days", 1),
    )
    reader.reject_unknown()
    return config


#: The controller stops an idle on_demand model after idle_minutes; it runs every minute, and a
#: stop takes a few minutes: past this margin the model is idle *and* still billing.
_IDLE_ALARM_MARGIN_MINUTES = 10
#: A model that scheduled/off mode keeps running on purpose is only worth an alarm after this.
_IDLE_ALARM_DEFAULT_MINUTES = 120
_URL = re.compile(r"https://[^\s]+")


def _operations(reader: _Reader, rekognition: RekognitionInferenceConfig) -> OperationsConfig:
    idle = reader.optional_value("model_idle_alarm_minutes")
    control = rekognition.model_control
    if idle is None:
        if control.mode == "on_demand":
            idle = control.idle_minutes + _IDLE_ALARM_MARGIN_MINUTES
        elif control.schedule is not None:
            # Idle through a whole window and past it: the model was not stopped after hours.
            idle = min(
                control.schedule.hours * 60 + control.idle_minutes + _IDLE_ALARM_MARGIN_MINUTES,
                24 * 60,
            )
        else:
            idle = _IDLE_ALARM_DEFAULT_MINUTES
    else:
        # CloudWatch evaluates at most one day of 1-minute periods.
        idle = reader.integer("model_idle_alarm_minutes", 5, 24 * 60)
        if control.mode == "on_demand" and idle <= control.idle_minutes:
            raise ConfigError(
                reader.key("model_idle_alarm_minutes"),
                f"must exceed rekognition.model_control.idle_minutes ({control.idle_minutes}), "
                "after which the controller stops the model itself",
            )
    config = OperationsConfig(
        queue_age_alarm_minutes=reader.integer("queue_age_alarm_minutes", 5, 7 * 24 * 60),
        lambda_errors_threshold=reader.integer("lambda_errors_threshold", 1),
        endpoint_5xx_threshold=reader.integer("endpoint_5xx_threshold", 1),
        low_confidence_ratio=_required(reader.fraction("low_confidence_ratio")),
        low_confidence_min_images=reader.integer("low_confidence_min_images", 1),
        low_confidence_window_minutes=reader.integer("low_confidence_window_minutes", 5, 24 * 60),
        model_idle_alarm_minutes=idle,
        runbook_url=reader.optional_string(
            "runbook_url", _URL, "must be an https:// URL without spaces"
        ),
    )
    longest_wait = control.drain_minutes + EXPECTED_MODEL_START_MINUTES
    if control.mode != "off" and longest_wait > config.queue_age_alarm_minutes:
        raise ConfigError(
            reader.key("queue_age_alarm_minutes"),
            f"must be at least rekognition.model_control.drain_minutes + "
            f"{EXPECTED_MODEL_START_MINUTES} (a start) = {longest_wait}, got "
            f"{config.queue_age_alarm_minutes}: BacklogTooOldAlarm would fire on every burst "
            "drained as planned",
        )
    if config.low_confidence_window_minutes % 5:
        raise ConfigError(
            reader.key("low_confidence_window_minutes"),
            "must be a multiple of 5 (the metrics' period), "
            f"got {config.low_confidence_window_minutes}",
        )
    reader.reject_unknown()
    return config


def _required(value: float | None) -> float:
    assert value is not None  # fraction(required=True) never returns None
    return value


def load_environment(context: Mapping[str, Any], name: str) -> EnvironmentConfig:
    """Build and validate the configuration of environment ``name`` from the app context.

    Every other environment is validated too: whether two environments can hurt each other is
    a property of the whole configuration (see :func:`check_isolation`).
    """
    environments = _environments(context)
    if name not in environments:
        raise ConfigError(
            f"environments.{name}",
            f"is not configured; choose one of: {', '.join(sorted(environments))}",
        )
    (config,) = [c for c in load_all(context) if c.name == name]
    return config


def _environments(context: Mapping[str, Any]) -> Mapping[str, Any]:
    environments = context.get("environments")
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError("environments", "no environments are configured in cdk.json")
    return environments


def _load_one(context: Mapping[str, Any], name: str) -> EnvironmentConfig:
    environments = _environments(context)
    if not _ENV_NAME.fullmatch(name):
        raise ConfigError(
            f"environments.{name}", "environment names are 1-16 lowercase letters or digits"
        )
    defaults = context.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError("defaults", "must be an object")
    overrides = environments[name]
    if not isinstance(overrides, Mapping):
        raise ConfigError(
            f"environments.{name}",
            f"must be an object of settings ({{}} to take every default), got "
            f"{'null' if overrides is None else type(overrides).__name__}",
        )
    reader = _Reader(deep_merge(defaults, overrides), f"environments.{name}")

    production = reader.boolean("production")
    account = reader.optional_string("account", _ACCOUNT, "must be a 12-digit AWS account id")
    region = reader.optional_string("region")
    retain = reader.choice("removal_policy", _REMOVAL_POLICIES) == "retain"
    termination_protection = reader.boolean("termination_protection")
    resource_prefix = reader.string(
        "resource_prefix", _PREFIX, "must be 2-20 lowercase letters, digits or dashes"
    )
    rekognition = _rekognition(reader.child("rekognition"), f"{resource_prefix}-{name}")
    config = EnvironmentConfig(
        name=name,
        production=production,
        account=account,
        region=region,
        resource_prefix=resource_prefix,
        removal_policy="retain" if retain else "destroy",
        termination_protection=termination_protection,
        notification_emails=reader.string_list(
            "notification_emails", _EMAIL, "must be an email address"
        ),
        log_retention_days=_log_retention(reader),
        powertools_layer_version=reader.integer("powertools_layer_version", 1),
        quality_gate=_quality_gate(reader.child("quality_gate")),
        rekognition=rekognition,
        rekognition_training=_rekognition_training(reader.child("rekognition_training")),
        sagemaker=_sagemaker(reader.child("sagemaker")),
        lifecycle=_lifecycle(reader.child("lifecycle")),
        operations=_operations(reader.child("operations"), rekognition),
    )
    reader.reject_unknown()
    _check_environment_rules(config)
    _check_prefixes(config)
    return config


#: What the app writes under fixed prefixes of the artifacts bucket (the IAM of each writer is
#: scoped to its prefix; ``tests/contract`` checks every synthesized grant against this table).
RESERVED_ARTIFACT_PREFIXES: Mapping[str, str] = {
    "results/rekognition/": "Rekognition inference results",
    "results/sagemaker/batch/": "SageMaker batch results",
    "review/rekognition/": "Rekognition review records",
    "errors/rekognition/": "Rekognition inference error records",
    "models/": "Rekognition model output and evaluation files",
    "reports/": "evaluation reports",
    "sagemaker/models/": "SageMaker model artifacts",
    "sagemaker/data-capture/": "SageMaker endpoint data capture",
}

#: What happens to a new object under each configurable prefix of the data bucket.
_DATA_PREFIX_EFFECTS = {
    "rekognition.input_prefix": (
        "classified by Rekognition (which starts a model billed about $4 an hour)"
    ),
    "sagemaker.input_prefix": "read as a SageMaker inference input",
    "sagemaker.training.data_prefix": "read as SageMaker training data",
    "rekognition_training.triggers.manifest_prefix": "taken as a manifest that starts training",
}


def _overlap(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _check_prefixes(config: EnvironmentConfig) -> None:
    """Each prefix of each bucket has one meaning: no two may overlap (an object under both
    would be handled twice: a SageMaker training image classified by Rekognition, a manifest
    recorded as a bad image, a review record overwritten by results)."""
    key = f"environments.{config.name}"
    data = {
        "rekognition.input_prefix": config.rekognition.input_prefix,
        "sagemaker.input_prefix": config.sagemaker.input_prefix,
        "sagemaker.training.data_prefix": config.sagemaker.training.data_prefix,
        "rekognition_training.triggers.manifest_prefix": (
            config.rekognition_training.trigger_manifest_prefix
        ),
    }
    named = [(name, prefix) for name, prefix in data.items() if prefix]
    for index, (name, prefix) in enumerate(named):
        for other, other_prefix in named[:index]:
            if _overlap(prefix, other_prefix):
                raise ConfigError(
                    f"{key}.{name}",
                    f"{prefix!r} overlaps {other} ({other_prefix!r}): an object there would be "
                    f"{_DATA_PREFIX_EFFECTS[name]} and {_DATA_PREFIX_EFFECTS[other]}; the data "
                    "bucket's prefixes must be disjoint",
                )
    manifest = config.rekognition_training.scheduled_manifest_key
    for name, prefix in named:
        if (
            manifest
            and name != "rekognition_training.triggers.manifest_prefix"
            and (manifest.startswith(prefix))
        ):
            raise ConfigError(
                f"{key}.rekognition_training.triggers.scheduled_manifest_key",
                f"{manifest!r} lies under {name} ({prefix!r}), so it would be "
                f"{_DATA_PREFIX_EFFECTS[name]}; keep manifests elsewhere",
            )
    review = config.sagemaker.review_prefix
    for reserved, purpose in RESERVED_ARTIFACT_PREFIXES.items():
        if _overlap(review, reserved):
            raise ConfigError(
                f"{key}.sagemaker.review_prefix",
                f"{review!r} overlaps {reserved!r} of the artifacts bucket, where the app "
                f"writes {purpose}; choose a prefix outside "
                f"{', '.join(RESERVED_ARTIFACT_PREFIXES)}",
            )


def _log_retention(reader: _Reader) -> int:
    days = reader.integer("log_retention_days", 1)
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise ConfigError(
            reader.key("log_retention_days"),
            f"CloudWatch Logs accepts only {allowed}; got {days}",
        )
    return days


def _check_environment_rules(config: EnvironmentConfig) -> None:
    key = f"environments.{config.name}"
    if len(config.resource_name_prefix) > _MAX_NAME_PREFIX:
        raise ConfigError(
            f"{key}.resource_prefix",
            f"'<resource_prefix>-<environment>' may be at most {_MAX_NAME_PREFIX} characters "
            f"(bucket names end in -artifacts-<account>-<region>, 63 at most); "
            f"{config.resource_name_prefix!r} has {len(config.resource_name_prefix)}",
        )
    if config.region is not None and config.region not in SUPPORTED_REGIONS:
        raise ConfigError(
            f"{key}.region",
            f"Rekognition Custom Labels is not available in {config.region!r}; "
            f"use one of {', '.join(sorted(SUPPORTED_REGIONS))}",
        )
    if (config.account is None) != (config.region is None):
        raise ConfigError(
            f"{key}.account" if config.account is None else f"{key}.region",
            "account and region must be set together (or both left out for an "
            "environment-agnostic development stack)",
        )
    if config.production:
        if config.account is None:
            raise ConfigError(f"{key}.account", "is required for a production environment")
        if not config.retain_data:
            raise ConfigError(f"{key}.removal_policy", "must be 'retain' in production")
        if not config.termination_protection:
            raise ConfigError(f"{key}.termination_protection", "must be true in production")
        if not config.notification_emails:
            raise ConfigError(
                f"{key}.notification_emails", "a production environment needs a recipient"
            )


def load_all(context: Mapping[str, Any]) -> list[EnvironmentConfig]:
    """Every configured environment, validated and checked for isolation, in cdk.json order."""
    configs = [_load_one(context, name) for name in _environments(context)]
    check_isolation(configs)
    return configs


def could_share_account_and_region(a: EnvironmentConfig, b: EnvironmentConfig) -> bool:
    """Whether two environments may deploy into one account and region: the same ones, or one
    without an account (it deploys wherever the credentials point)."""
    return (a.account is None or b.account is None or a.account == b.account) and (
        a.region is None or b.region is None or a.region == b.region
    )


def check_isolation(configs: list[EnvironmentConfig]) -> None:
    """No two environments that could share an account and region give one name to two resources
    of a kind (or one falls under the other's IAM prefix): a dev training run must never replace
    prod's datasets, overwrite its parameter or delete its endpoint."""
    for index, config in enumerate(configs):
        for other in configs[:index]:
            if not could_share_account_and_region(config, other):
                continue
            theirs = other.physical_names()
            for what, name in config.physical_names().items():
                if _names_clash(name, theirs[what]):
                    raise ConfigError(
                        f"environments.{config.name}",
                        f"its {what} {name!r} clashes with environment {other.name}'s "
                        f"{theirs[what]!r}, and the two could share an account and region "
                        "(give each its own account and region, or another resource_prefix)",
                    )


def _names_clash(a: str, b: str) -> bool:
    """Equal names, or a name that a ``*`` prefix of the other covers."""
    if a.endswith("*") or b.endswith("*"):
        return a.rstrip("*").startswith(b.rstrip("*")) or b.rstrip("*").startswith(a.rstrip("*"))
    return a == b
