"""The SageMaker section's frozen dataclasses: batch, training (hyperparameters), endpoint
(deployment guardrails, autoscaling, serverless) and the section itself.

Part of :mod:`stacks.config.schema`, which re-exports every name here; kept apart so that
neither module outgrows one reader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from contracts import naming


@dataclass(frozen=True, kw_only=True)
class SageMakerBatchConfig:
    """The Distributed Map of batch classification: a batch of images per child execution."""

    #: Images per child execution (the Map's ItemBatcher): one Lambda invocation classifies them.
    max_items_per_batch: int
    #: InvokeEndpoint calls one batch keeps in flight (its threads).
    invocations_per_batch: int
    #: Percentage of images that may fail (not an image, endpoint error) before the batch
    #: fails; more than this fails the batch.
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
    #: The model is registered (and deployed) only when its final ``validation:accuracy``
    #: reaches this.
    min_validation_accuracy: float
    #: ``direct``: the training workflow deploys what passed its gate; ``on_approval``: it
    #: registers it for approval, and approving the model package deploys it.
    deploy: str

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
class EndpointAutoscalingConfig:
    """Target tracking of the production variant's instance count (Application Auto Scaling)."""

    min_instances: int
    max_instances: int
    #: SageMakerVariantInvocationsPerInstance target (invocations per instance per minute).
    target_invocations_per_instance: int
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int


@dataclass(frozen=True, kw_only=True)
class EndpointDeploymentConfig:
    """How an endpoint update shifts traffic (deployment guardrails) and when it rolls back."""

    #: ``all_at_once``, ``canary`` or ``linear`` (BlueGreenUpdatePolicy's TrafficRoutingConfig).
    traffic_routing: str
    #: Canary: share of the new fleet that takes traffic first (CAPACITY_PERCENT, 1..50).
    canary_percent: int
    #: Linear: share of the new fleet turned on per step (CAPACITY_PERCENT, 10..50).
    linear_step_percent: int
    #: Baking time after each traffic step, during which the rollback alarms are watched.
    wait_minutes: int
    #: How long the old fleet is kept after the last step (a rollback is instant meanwhile).
    termination_wait_minutes: int

    @property
    def traffic_steps(self) -> int:
        """Baking periods of one deployment (one per traffic step)."""
        if self.traffic_routing == "canary":
            return 2
        if self.traffic_routing == "linear":
            return math.ceil(100 / self.linear_step_percent)
        return 1

    @property
    def total_wait_minutes(self) -> int:
        return self.traffic_steps * self.wait_minutes + self.termination_wait_minutes


@dataclass(frozen=True, kw_only=True)
class EndpointServerlessConfig:
    """A serverless endpoint's ProductionVariantServerlessConfig."""

    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None


@dataclass(frozen=True, kw_only=True)
class SageMakerEndpointConfig:
    """The real-time endpoint the training workflow deploys and inference invokes."""

    #: ``provisioned`` (instances) or ``serverless`` (ServerlessConfig).
    mode: str
    instance_type: str
    initial_instance_count: int
    #: Requests one instance serves at once at its best latency (the batch's capacity unit).
    concurrency_per_instance: int
    #: Share of requests and responses captured to S3 (0 turns data capture off).
    data_capture_percentage: int
    autoscaling: EndpointAutoscalingConfig | None
    deployment: EndpointDeploymentConfig
    serverless: EndpointServerlessConfig | None

    @property
    def serverless_mode(self) -> bool:
        return self.mode == "serverless"

    @property
    def capacity(self) -> int:
        """Requests the endpoint serves at once: its most instances x each one's concurrency,
        or a serverless endpoint's MaxConcurrency."""
        if self.serverless is not None and self.serverless_mode:
            return self.serverless.max_concurrency
        instances = (
            self.autoscaling.max_instances if self.autoscaling else self.initial_instance_count
        )
        return instances * self.concurrency_per_instance


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
    #: Notify every low-confidence single-image run (off: the low-confidence ratio alarm and
    #: the review records report them; batches always send one summary).
    notify_low_confidence: bool = False

    @property
    def batch_max_concurrency(self) -> int:
        """Batches in flight at once: as many as keep the endpoint's capacity busy, no more
        (each keeps ``invocations_per_batch`` calls in flight)."""
        return max(1, self.endpoint.capacity // self.batch.invocations_per_batch)

    def endpoint_full_name(self, resource_name_prefix: str) -> str:
        """The endpoint's name in SageMaker (lowercase, so it equals the name in its ARN)."""
        return f"{resource_name_prefix}-{self.endpoint_name}"

    @staticmethod
    def model_package_group_name(resource_name_prefix: str) -> str:
        """The environment's model package group (the SageMaker model registry)."""
        return f"{resource_name_prefix}-image-classifier"

    @staticmethod
    def job_name_prefix(resource_name_prefix: str) -> str:
        """Prefix of training job, model and endpoint-config names; IAM is scoped to it."""
        return naming.sagemaker_job_prefix(resource_name_prefix)
