"""The ``sagemaker`` section: endpoint, classes, batch Map, training job and hyperparameters.

Checks what SageMaker would only refuse at run time: a GPU instance for the image-classification
algorithm, ``num_classes`` equal to the class names, pretrained weights only for the layer counts
that have them, a serverless endpoint only with what serverless endpoints support, traffic
shifting sizes the fleet can take, a deployment that fits the deploy workflow's wait.
"""

from __future__ import annotations

import re

from stacks.config.limits import (
    IMAGE_CLASSIFICATION_LAYERS,
    MAX_TRAINING_HOURS,
    PRETRAINED_LAYERS,
    SAGEMAKER_DEPLOY_MODES,
    TRAINING_DATA_FORMATS,
)
from stacks.config.reading import _INPUT_PREFIX, _PREFIX_HINT, _Reader, _required
from stacks.config.schema import (
    ConfigError,
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

#: A batch's results travel in its child's output (at most 256 KiB): an image's result is
#: under 2 KB (its URI of up to 1,024 characters and a cause of up to 500), so 100 fit.
MAX_ITEMS_PER_BATCH = 100
#: Threads of one batch function, each holding one image of up to 6 MB (1 GB of memory).
MAX_INVOCATIONS_PER_BATCH = 16
_ENDPOINT_MODES = ("provisioned", "serverless")
_TRAFFIC_ROUTINGS = ("all_at_once", "canary", "linear")
#: ServerlessConfig.MemorySizeInMB: 1 GB steps from 1024 to 6144 (botocore's model).
_SERVERLESS_MEMORY = (1024, 2048, 3072, 4096, 5120, 6144)
#: The deploy workflow waits 45 minutes for a deployment; baking and the old fleet's
#: termination wait get at most 30 of them (provisioning the new fleet takes the rest).
MAX_DEPLOYMENT_WAIT_MINUTES = 30
#: SageMaker's serverless feature exclusions (Developer Guide, "Serverless Inference").
SERVERLESS_EXCLUSIONS = (
    "GPUs, AWS Marketplace model packages, private Docker registries, multi-model endpoints, "
    "VPC configuration, network isolation, data capture, multiple production variants, "
    "Model Monitor and inference pipelines"
)
_ENDPOINT_NAME = re.compile(r"(?=.{1,25}$)[a-z0-9](-*[a-z0-9])*")
_CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")
_ML_INSTANCE = re.compile(r"ml\.[a-z][a-z0-9-]*\.[a-z0-9]+")
_ML_INSTANCE_HINT = "must be a SageMaker instance type such as ml.m5.large"
_GPU_INSTANCE = re.compile(r"ml\.[gp]\d")
_IMAGE_SHAPE = re.compile(r"[13],[1-9]\d{0,3},[1-9]\d{0,3}")


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
        notify_low_confidence=reader.boolean("notify_low_confidence"),
    )
    reader.reject_unknown()
    return config


def _sagemaker_batch(reader: _Reader) -> SageMakerBatchConfig:
    config = SageMakerBatchConfig(
        max_items_per_batch=reader.integer("max_items_per_batch", 1, MAX_ITEMS_PER_BATCH),
        invocations_per_batch=reader.integer("invocations_per_batch", 1, MAX_INVOCATIONS_PER_BATCH),
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
        deploy=reader.choice("deploy", SAGEMAKER_DEPLOY_MODES),
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
    mode = reader.choice("mode", _ENDPOINT_MODES)
    autoscaling_value = reader.optional_value("autoscaling")
    serverless_value = reader.optional_value("serverless")
    config = SageMakerEndpointConfig(
        mode=mode,
        instance_type=reader.string("instance_type", _ML_INSTANCE, _ML_INSTANCE_HINT),
        initial_instance_count=reader.integer("initial_instance_count", 1, 10),
        concurrency_per_instance=reader.integer("concurrency_per_instance", 1, 100),
        data_capture_percentage=reader.integer("data_capture_percentage", 0, 100),
        autoscaling=(
            None
            if autoscaling_value is None
            else _autoscaling(_Reader(autoscaling_value, reader.key("autoscaling")))
        ),
        deployment=_deployment(reader.child("deployment")),
        serverless=(
            None
            if serverless_value is None
            else _serverless(_Reader(serverless_value, reader.key("serverless")))
        ),
    )
    reader.reject_unknown()
    if config.serverless_mode:
        _check_serverless(reader, config)
    else:
        _check_provisioned(reader, config)
    return config


def _autoscaling(reader: _Reader) -> EndpointAutoscalingConfig:
    config = EndpointAutoscalingConfig(
        min_instances=reader.integer("min_instances", 1, 10),
        max_instances=reader.integer("max_instances", 1, 10),
        target_invocations_per_instance=reader.integer(
            "target_invocations_per_instance", 1, 100_000
        ),
        scale_in_cooldown_seconds=reader.integer("scale_in_cooldown_seconds", 0, 3600),
        scale_out_cooldown_seconds=reader.integer("scale_out_cooldown_seconds", 0, 3600),
    )
    reader.reject_unknown()
    if config.max_instances < config.min_instances:
        raise ConfigError(
            reader.key("max_instances"),
            f"must be at least min_instances ({config.max_instances} < {config.min_instances})",
        )
    return config


def _deployment(reader: _Reader) -> EndpointDeploymentConfig:
    config = EndpointDeploymentConfig(
        traffic_routing=reader.choice("traffic_routing", _TRAFFIC_ROUTINGS),
        canary_percent=reader.integer("canary_percent", 1, 50),
        linear_step_percent=reader.integer("linear_step_percent", 10, 50),
        wait_minutes=reader.integer("wait_minutes", 0, 60),
        termination_wait_minutes=reader.integer("termination_wait_minutes", 0, 60),
    )
    reader.reject_unknown()
    if config.total_wait_minutes > MAX_DEPLOYMENT_WAIT_MINUTES:
        raise ConfigError(
            reader.key("wait_minutes"),
            f"{config.traffic_steps} baking period(s) of {config.wait_minutes} minutes plus a "
            f"termination wait of {config.termination_wait_minutes} minutes make "
            f"{config.total_wait_minutes} minutes; the deploy workflow gives a deployment's "
            f"waits at most {MAX_DEPLOYMENT_WAIT_MINUTES}",
        )
    return config


def _serverless(reader: _Reader) -> EndpointServerlessConfig:
    memory = reader.integer("memory_mb", _SERVERLESS_MEMORY[0], _SERVERLESS_MEMORY[-1])
    if memory not in _SERVERLESS_MEMORY:
        raise ConfigError(
            reader.key("memory_mb"),
            f"must be one of {', '.join(map(str, _SERVERLESS_MEMORY))} (1 GB steps); got {memory}",
        )
    max_concurrency = reader.integer("max_concurrency", 1, 200)
    provisioned = reader.optional_value("provisioned_concurrency")
    config = EndpointServerlessConfig(
        memory_mb=memory,
        max_concurrency=max_concurrency,
        provisioned_concurrency=(
            None if provisioned is None else reader.integer("provisioned_concurrency", 1, 200)
        ),
    )
    reader.reject_unknown()
    if config.provisioned_concurrency and config.provisioned_concurrency > max_concurrency:
        raise ConfigError(
            reader.key("provisioned_concurrency"),
            f"must be at most max_concurrency ({config.provisioned_concurrency} > "
            f"{max_concurrency})",
        )
    return config


def _check_serverless(reader: _Reader, config: SageMakerEndpointConfig) -> None:
    """What a serverless endpoint cannot do, refused with SageMaker's reason.

    The built-in image-classification algorithm trains on GPUs only, but its inference image
    serves on CPU instances too, so it can run serverless (CPU only, at most 6 GB of memory).
    """
    if config.serverless is None:
        raise ConfigError(
            reader.key("serverless"),
            "is required with mode 'serverless' (memory_mb, max_concurrency, "
            "provisioned_concurrency)",
        )
    if config.data_capture_percentage > 0:
        raise ConfigError(
            reader.key("data_capture_percentage"),
            "must be 0 with mode 'serverless': serverless endpoints do not support data "
            f"capture (SageMaker's serverless exclusions: {SERVERLESS_EXCLUSIONS})",
        )
    if config.autoscaling is not None:
        raise ConfigError(
            reader.key("autoscaling"),
            "must be null with mode 'serverless': a serverless endpoint has no instances to "
            "scale (it scales itself up to serverless.max_concurrency)",
        )
    if config.deployment.traffic_routing != "all_at_once":
        raise ConfigError(
            reader.key("deployment.traffic_routing"),
            f"must be all_at_once with mode 'serverless', got "
            f"{config.deployment.traffic_routing!r}: canary and linear steps are sized in "
            "instances or percent of the instance fleet, which a serverless endpoint does not "
            "have (deployment guardrails exclude serverless endpoints from rolling updates)",
        )
    if _GPU_INSTANCE.match(config.instance_type):
        raise ConfigError(
            reader.key("instance_type"),
            f"{config.instance_type!r} is a GPU instance, and serverless endpoints run on CPU "
            f"only (SageMaker's serverless exclusions: {SERVERLESS_EXCLUSIONS}); keep a CPU "
            "type such as ml.m5.large for switching back to provisioned",
        )


def _check_provisioned(reader: _Reader, config: SageMakerEndpointConfig) -> None:
    deployment, autoscaling = config.deployment, config.autoscaling
    smallest = autoscaling.min_instances if autoscaling else config.initial_instance_count
    if deployment.traffic_routing in ("canary", "linear") and smallest < 2:
        raise ConfigError(
            reader.key("deployment.traffic_routing"),
            f"{deployment.traffic_routing} traffic shifting needs at least 2 instances (a "
            f"step may turn on at most half of the new fleet); the endpoint may have "
            f"{smallest}: use all_at_once or raise initial_instance_count (and "
            "autoscaling.min_instances)",
        )
    if autoscaling and not (
        autoscaling.min_instances <= config.initial_instance_count <= autoscaling.max_instances
    ):
        raise ConfigError(
            reader.key("initial_instance_count"),
            f"must lie within autoscaling min_instances..max_instances "
            f"({autoscaling.min_instances}..{autoscaling.max_instances}), got "
            f"{config.initial_instance_count}",
        )
