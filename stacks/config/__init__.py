"""Per-environment configuration, parsed from the ``cdk.json`` context into frozen dataclasses.

``cdk.json`` holds a ``defaults`` block and an ``environments`` block; each environment is the
defaults deep-merged with its own overrides, then validated here. Every user mistake raises a
:class:`ConfigError` whose message names the offending key (``environments.prod.account``) and the
problem in one line, so ``app.py`` can stop synthesis without a stack trace.

One module per concern; import from ``stacks.config`` (every public name is re-exported here):

- ``schema``: the frozen dataclasses, their derived values, and ``ConfigError``;
- ``limits``: AWS limits and the app's fixed vocabularies and budgets;
- ``reading``: ``deep_merge`` and the typed reader every section parser uses;
- ``schedules``: the EventBridge schedule expression grammar;
- ``sections``: one parser per section (``rekognition``, ``rekognition_training``, ``sagemaker``,
  ``operations``, ``quality_gate``, ``lifecycle``, ``network``, ``promotion``, ``relabel``,
  ``drift``);
- ``rules``: the rules across sections of one environment and across environments;
- ``loading``: ``load_environment`` and ``load_all``.
"""

from __future__ import annotations

from contracts.consumer_capacity import ConsumerCapacity
from contracts.limits import SQS_BATCH_WITHOUT_WINDOW, SQS_MAX_CONCURRENCY_RANGE
from contracts.naming import STACK_CONCERNS
from contracts.quality_gate import GATE_METRICS
from contracts.s3_layout import RESERVED_ARTIFACT_PREFIXES
from stacks.config.limits import (
    DEPLOY_DIRECT,
    DEPLOY_ON_APPROVAL,
    EVENTS_OUTSIDE_LOOPS,
    EVENTS_PER_POLL,
    EXECUTION_TIMEOUT_SLACK_MINUTES,
    EXPECTED_MODEL_START_MINUTES,
    HISTORY_BUDGET,
    HISTORY_QUOTA,
    IMAGE_CLASSIFICATION_LAYERS,
    LOG_RETENTION_DAYS,
    MAX_BATCH_SECONDS,
    MAX_DETECT_CONCURRENCY,
    MAX_DRAIN_MINUTES,
    MAX_INFERENCE_BATCH,
    MAX_MAP_CONCURRENCY,
    MAX_PROJECT_DATASETS,
    MAX_STANDARD_EXECUTION_SECONDS,
    MAX_TRAINING_HOURS,
    MODEL_CONTROL_MODES,
    PRETRAINED_LAYERS,
    PROJECT_LOOKUP_MAX_PAGES,
    SAGEMAKER_DEPLOY_MODES,
    SUPPORTED_REGIONS,
    TRAINING_DATA_FORMATS,
    has_instance_storage,
)
from stacks.config.loading import load_all, load_environment
from stacks.config.reading import deep_merge
from stacks.config.rules import (
    check_isolation,
    could_share_account_and_region,
)
from stacks.config.schedules import schedule_problem
from stacks.config.schema import (
    ConfigError,
    DriftConfig,
    EnvironmentConfig,
    LifecycleConfig,
    ModelControlConfig,
    NetworkConfig,
    OperationsConfig,
    PollingLoop,
    PromotionConfig,
    PromotionReader,
    PromotionSource,
    QualityGateConfig,
    RekognitionInferenceConfig,
    RekognitionTrainingConfig,
    RelabelConfig,
    ScheduleWindowConfig,
    promotion_baseline_role_name,
    promotion_reader_role_name,
)
from stacks.config.schema_sagemaker import (
    EndpointAutoscalingConfig,
    EndpointDeploymentConfig,
    EndpointServerlessConfig,
    ImageClassificationHyperparameters,
    SageMakerBatchConfig,
    SageMakerConfig,
    SageMakerEndpointConfig,
    SageMakerTrainingConfig,
)
from stacks.config.sections.promotion import (
    MAX_APPROVAL_TIMEOUT_HOURS,
    promotion_polls,
    promotion_timeout_minutes,
)

__all__ = [
    "DEPLOY_DIRECT",
    "DEPLOY_ON_APPROVAL",
    "EVENTS_OUTSIDE_LOOPS",
    "EVENTS_PER_POLL",
    "EXECUTION_TIMEOUT_SLACK_MINUTES",
    "EXPECTED_MODEL_START_MINUTES",
    "GATE_METRICS",
    "HISTORY_BUDGET",
    "HISTORY_QUOTA",
    "IMAGE_CLASSIFICATION_LAYERS",
    "LOG_RETENTION_DAYS",
    "MAX_APPROVAL_TIMEOUT_HOURS",
    "MAX_BATCH_SECONDS",
    "MAX_DETECT_CONCURRENCY",
    "MAX_DRAIN_MINUTES",
    "MAX_INFERENCE_BATCH",
    "MAX_MAP_CONCURRENCY",
    "MAX_PROJECT_DATASETS",
    "MAX_STANDARD_EXECUTION_SECONDS",
    "MAX_TRAINING_HOURS",
    "MODEL_CONTROL_MODES",
    "PRETRAINED_LAYERS",
    "PROJECT_LOOKUP_MAX_PAGES",
    "RESERVED_ARTIFACT_PREFIXES",
    "SAGEMAKER_DEPLOY_MODES",
    "SQS_BATCH_WITHOUT_WINDOW",
    "SQS_MAX_CONCURRENCY_RANGE",
    "STACK_CONCERNS",
    "SUPPORTED_REGIONS",
    "TRAINING_DATA_FORMATS",
    "ConfigError",
    "ConsumerCapacity",
    "DriftConfig",
    "EndpointAutoscalingConfig",
    "EndpointDeploymentConfig",
    "EndpointServerlessConfig",
    "EnvironmentConfig",
    "ImageClassificationHyperparameters",
    "LifecycleConfig",
    "ModelControlConfig",
    "NetworkConfig",
    "OperationsConfig",
    "PollingLoop",
    "PromotionConfig",
    "PromotionReader",
    "PromotionSource",
    "QualityGateConfig",
    "RekognitionInferenceConfig",
    "RekognitionTrainingConfig",
    "RelabelConfig",
    "SageMakerBatchConfig",
    "SageMakerConfig",
    "SageMakerEndpointConfig",
    "SageMakerTrainingConfig",
    "ScheduleWindowConfig",
    "check_isolation",
    "could_share_account_and_region",
    "deep_merge",
    "has_instance_storage",
    "load_all",
    "load_environment",
    "promotion_baseline_role_name",
    "promotion_polls",
    "promotion_reader_role_name",
    "promotion_timeout_minutes",
    "schedule_problem",
]
