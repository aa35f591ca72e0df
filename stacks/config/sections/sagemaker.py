"""The ``sagemaker`` section: endpoint, classes, batch Map, training job and hyperparameters.

Checks what SageMaker would only refuse at run time: a GPU instance for the image-classification
algorithm, ``num_classes`` equal to the class names, pretrained weights only for the layer counts
that have them.
"""

from __future__ import annotations

import re

from stacks.config.limits import (
    IMAGE_CLASSIFICATION_LAYERS,
    MAX_MAP_CONCURRENCY,
    MAX_TRAINING_HOURS,
    PRETRAINED_LAYERS,
    SAGEMAKER_DEPLOY_MODES,
    TRAINING_DATA_FORMATS,
)
from stacks.config.reading import _INPUT_PREFIX, _PREFIX_HINT, _Reader, _required
from stacks.config.schema import (
    ConfigError,
    ImageClassificationHyperparameters,
    SageMakerBatchConfig,
    SageMakerConfig,
    SageMakerEndpointConfig,
    SageMakerTrainingConfig,
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
    config = SageMakerEndpointConfig(
        instance_type=reader.string("instance_type", _ML_INSTANCE, _ML_INSTANCE_HINT),
        initial_instance_count=reader.integer("initial_instance_count", 1, 10),
        data_capture_percentage=reader.integer("data_capture_percentage", 0, 100),
    )
    reader.reject_unknown()
    return config
