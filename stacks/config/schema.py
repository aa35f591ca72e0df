"""What a validated environment is: the frozen dataclasses, their derived values, ``ConfigError``.

Built only by the parsers (``stacks.config.sections``) and :func:`stacks.config.load_environment`;
the stacks and components read them. The derived properties (throughput, polling budgets,
physical names) are computed here, once, from the validated fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from contracts import drift as drift_contract
from contracts import naming
from contracts.consumer_capacity import ConsumerCapacity, capacity_for
from contracts.metrics import namespace
from contracts.naming import STACK_CONCERNS
from stacks.config.limits import (
    EVENTS_OUTSIDE_LOOPS,
    EVENTS_PER_POLL,
    EXECUTION_TIMEOUT_SLACK_MINUTES,
    MAX_PROJECT_DATASETS,
    PROJECT_LOOKUP_MAX_PAGES,
)
from stacks.config.schema_sagemaker import (
    SageMakerConfig,
)


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
        """The consumers sized to ``units`` inference units in service (the derivation the
        model controller applies at run time: ``contracts.consumer_capacity``)."""
        return capacity_for(units, self.tps_per_inference_unit, self.calls_in_flight)

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
class RelabelConfig:
    """Human review of low-confidence images (SageMaker Ground Truth) feeding the next training.

    A run collects the pending review records of both pipelines (at most
    ``max_images_per_job``), labels them in one Ground Truth job (``labels`` as categories), and
    merges the answers into a new training manifest under ``manifest_prefix`` of the data bucket.
    Started by an operator, on ``schedule``, and/or by ``threshold_check_schedule`` once
    ``pending_threshold`` records wait. ``sample_confident_share`` of the confident predictions
    is sent to review too (0: off).
    """

    workteam_arn: str | None
    labels: tuple[str, ...]
    schedule: str | None
    pending_threshold: int | None
    threshold_check_schedule: str | None
    max_images_per_job: int
    workers_per_image: int
    task_time_limit_seconds: int
    task_availability_hours: int
    poll_minutes: int
    manifest_prefix: str
    base_manifest_key: str | None
    sample_confident_share: float

    @property
    def wait_deadline_hours(self) -> int:
        """How long the workflow waits for the job: every task's availability, plus an hour for
        Ground Truth to consolidate and write the output."""
        return self.task_availability_hours + 1

    @property
    def max_polls(self) -> int:
        """DescribeLabelingJob polls before the wait gives up (and stops the job)."""
        return max(1, math.ceil(self.wait_deadline_hours * 60 / self.poll_minutes))

    @property
    def execution_timeout_minutes(self) -> int:
        """The state machine's timeout: the wait's deadline plus slack for everything else."""
        return self.wait_deadline_hours * 60 + EXECUTION_TIMEOUT_SLACK_MINUTES


@dataclass(frozen=True, kw_only=True)
class LifecycleConfig:
    """S3 lifecycle periods, in days (``None``: keep the objects)."""

    abort_incomplete_upload_days: int
    noncurrent_version_expiration_days: int
    results_transition_to_ia_days: int
    access_logs_expiration_days: int
    #: SageMaker endpoint data capture (``sagemaker/data-capture/`` of the artifacts bucket).
    data_capture_expiration_days: int | None
    #: Images under ``rekognition.input_prefix`` of the data bucket, once classified.
    incoming_expiration_days: int | None


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """Where the workloads run: AWS's public endpoints, or private subnets without internet.

    - ``public``: no VPC; every call goes to the services' public endpoints over TLS.
    - ``isolated``: every Lambda, training job and model in private isolated subnets of
      ``availability_zones`` (no NAT, no internet gateway), reaching AWS through VPC endpoints;
      the buckets deny requests that do not come through them. With ``vpc_id`` the app reuses
      an existing VPC whose endpoints already exist (``subnet_ids[i]`` lies in
      ``availability_zones[i]``; ``endpoint_security_group_id`` guards those endpoints);
      without it the app creates the VPC and its endpoints in the ``Network`` stack.
    """

    mode: str
    vpc_id: str | None
    subnet_ids: tuple[str, ...]
    availability_zones: tuple[str, ...]
    endpoint_security_group_id: str | None
    #: The region's S3 prefix list (``com.amazonaws.<region>.s3``): the security groups allow
    #: HTTPS to it (the gateway endpoint's routes) and to the interface endpoints, nothing else.
    s3_prefix_list_id: str | None

    @property
    def isolated(self) -> bool:
        return self.mode == "isolated"

    @property
    def reuses_vpc(self) -> bool:
        return self.vpc_id is not None


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
class DriftConfig:
    """The drift evaluator of one environment (see README "Drift").

    - ``schedule``: when it runs (EventBridge ``rate(...)``/``cron(...)``);
    - ``window_hours``: the live window each run compares with the running version's baseline;
    - ``min_images``: below this many images in the window a figure is not computed (quiet);
    - ``*_threshold``: a figure at or above it is drift (an alarm, a notification);
    - ``label_shift_threshold``: a label "moved" when its share changed by this much;
    - ``start_retraining``: a drift alarm going to ALARM starts the relabel workflow (off by
      default; it then needs ``relabel.workteam_arn``).
    """

    schedule: str
    window_hours: int
    min_images: int
    label_divergence_threshold: float
    confidence_drop_threshold: float
    abstention_increase_threshold: float
    size_divergence_threshold: float
    label_shift_threshold: float
    start_retraining: bool

    def thresholds(self) -> dict[str, float | int]:
        """The evaluator's ``DRIFT_THRESHOLDS`` (``drift.figures.Thresholds``' fields)."""
        return {
            drift_contract.MIN_IMAGES: self.min_images,
            drift_contract.LABEL_DIVERGENCE: self.label_divergence_threshold,
            drift_contract.CONFIDENCE_DROP: self.confidence_drop_threshold,
            drift_contract.ABSTENTION_INCREASE: self.abstention_increase_threshold,
            drift_contract.SIZE_DIVERGENCE: self.size_divergence_threshold,
            drift_contract.LABEL_SHIFT: self.label_shift_threshold,
        }


@dataclass(frozen=True, kw_only=True)
class PromotionSource:
    """The environment a promotion copies from, as the target's stacks need to name it.

    ``account``/``region`` are the source environment's; ``None`` where it sets none, meaning
    the target's own account (an environment without an account deploys wherever the
    credentials point, which for a promotion is the target's). CopyProjectVersion copies
    within one region only, so the configuration refuses two different configured regions.
    """

    environment: str
    account: str | None
    region: str | None
    #: ``<resource_prefix>-<source environment>``: its bucket names and KMS alias.
    resource_name_prefix: str
    #: The source's Custom Labels project (``<prefix>-<env>-<project_name>``).
    project_name: str
    #: The SSM parameter the source's training workflow publishes its running version to.
    model_version_parameter: str


@dataclass(frozen=True)
class PromotionReader:
    """An environment in another account that promotes from this one: the role of its
    promotion's source reader, which this environment's artifacts bucket and key allow."""

    environment: str
    account: str
    role_name: str
    #: The role of its promotion's baseline copy (reads the promoted versions' baselines).
    baseline_role_name: str


def promotion_reader_role_name(resource_name_prefix: str) -> str:
    """The fixed name of a promoting environment's source-reader role (``<prefix>-<env>-...``):
    the source's bucket and key policies name it before it exists."""
    return f"{resource_name_prefix}-promotion-reader"


def promotion_baseline_role_name(resource_name_prefix: str) -> str:
    """The fixed name of a promoting environment's baseline-copy role, named by the source's
    bucket and key policies like the reader's."""
    return f"{resource_name_prefix}-promotion-baseline"


@dataclass(frozen=True, kw_only=True)
class PromotionConfig:
    """How this environment takes a model version trained and gated in another one.

    The promotion workflow reads the source version's lineage record, refuses a version whose
    gate did not pass, waits for approval when ``requires_approval`` (up to
    ``approval_timeout_hours``; then the promotion is rejected), copies the version with
    CopyProjectVersion (polling every ``copy_poll_seconds`` up to ``copy_deadline_minutes``)
    and deploys it as the training workflow does.
    """

    source_environment: str
    requires_approval: bool
    approval_timeout_hours: int
    copy_poll_seconds: int
    copy_deadline_minutes: int
    #: Resolved across environments by :func:`stacks.config.load_all`.
    source: PromotionSource | None = None

    @property
    def copy_max_polls(self) -> int:
        return max(1, self.copy_deadline_minutes * 60 // self.copy_poll_seconds)

    @property
    def approval_timeout_seconds(self) -> int:
        """The approval task's TimeoutSeconds: no decision by then rejects the promotion."""
        return self.approval_timeout_hours * 3600 if self.requires_approval else 0


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
    relabel: RelabelConfig
    lifecycle: LifecycleConfig
    operations: OperationsConfig
    network: NetworkConfig
    drift: DriftConfig
    #: ``None``: this environment trains its own models and promotes none.
    promotion: PromotionConfig | None = None
    #: Environments in other accounts that promote from this one (resolved by ``load_all``).
    promotion_readers: tuple[PromotionReader, ...] = ()

    @property
    def retain_data(self) -> bool:
        """True when stateful resources must survive stack deletion."""
        return self.removal_policy == "retain"

    @property
    def resource_name_prefix(self) -> str:
        """Prefix for physical names: unique per app and environment."""
        return naming.resource_name_prefix(self.resource_prefix, self.name)

    @property
    def metrics_namespace(self) -> str:
        """CloudWatch namespace of every metric the environment's functions publish."""
        return namespace(self.name)

    @property
    def dashboard_name(self) -> str:
        """The environment's detailed CloudWatch operations dashboard."""
        return naming.dashboard_name(self.resource_name_prefix)

    @property
    def overview_dashboard_name(self) -> str:
        """The environment's one-screen CloudWatch dashboard."""
        return naming.overview_dashboard_name(self.resource_name_prefix)

    def stack_name(self, concern: str) -> str:
        """CloudFormation name of one of the environment's stacks: ``RekognitionInference`` ->
        ``<prefix>-<env>-rekognition-inference`` (``SageMaker`` is one word: ``sagemaker``)."""
        return naming.stack_name(self.resource_name_prefix, concern)

    def physical_names(self) -> dict[str, str]:
        """Every name the app gives an AWS resource of this environment, by what it names.

        Names ending in ``*`` are prefixes: IAM is scoped to everything that starts with them.
        """
        rnp = self.resource_name_prefix
        account, region = self.account or "<account>", self.region or "<region>"
        names = {f"stack {c}": self.stack_name(c) for c in STACK_CONCERNS}
        if self.network.isolated:
            names["stack Network"] = self.stack_name("Network")
            names["network flow-logs key alias"] = f"alias/{rnp}-network"
        names |= {
            f"{purpose} bucket": naming.bucket_name(rnp, purpose, account, region)
            for purpose in naming.BUCKET_PURPOSES
        }
        names |= {
            "KMS key alias": naming.key_alias(rnp),
            "alert topic": naming.alert_topic_name(rnp),
            "dashboard": self.dashboard_name,
            "overview dashboard": self.overview_dashboard_name,
            "model version parameter": self.model_version_parameter,
            "consumer capacity parameter": self.consumer_capacity_parameter,
            "Rekognition project": self.rekognition.project_name,
            "SageMaker endpoint": self.sagemaker.endpoint_full_name(rnp),
            "SageMaker jobs, models and endpoint configurations": (
                f"{self.sagemaker.job_name_prefix(rnp)}-*"
            ),
            "metrics namespace": self.metrics_namespace,
            "relabel workflow": self.relabel_state_machine_name,
            "Ground Truth labeling jobs": f"{self.labeling_job_prefix}*",
        }
        return names

    @property
    def relabel_state_machine_name(self) -> str:
        """The relabel workflow's name: fixed, so its collect step can find its own runs."""
        return f"{self.resource_name_prefix}-relabel-workflow"

    @property
    def labeling_job_prefix(self) -> str:
        """Prefix of the environment's Ground Truth labeling job names; IAM is scoped to it."""
        return f"{self.resource_name_prefix}-relabel-"

    @property
    def model_version_parameter(self) -> str:
        """SSM parameter naming the Rekognition model version inference uses.

        Written by the training workflow when a version passes the gate and is started; read by
        inference and the model controller. Not created by CloudFormation, so a deploy never
        resets it.
        """
        return naming.model_version_parameter(self.resource_name_prefix)

    @property
    def consumer_capacity_parameter(self) -> str:
        """SSM parameter with the pace the inference consumers may call the model at.

        Written by the model controller for the inference units in service, read by the
        consumer (cached 30 s). Not created by CloudFormation: a deploy never resets what the
        controller measured.
        """
        return naming.consumer_capacity_parameter(self.resource_name_prefix)
