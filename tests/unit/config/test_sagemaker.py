"""The sagemaker section: what it refuses (names, classes, batch, training, endpoint)."""

from __future__ import annotations

import pytest

from tests.unit.config.support import (
    Context,
    Mutation,
    assert_config_error,
    delete_key,
    set_key,
)

INVALID = [
    pytest.param(
        set_key("environments.dev.sagemaker.confidence_threshold", 2),
        None,
        "environments.dev.sagemaker.confidence_threshold",
        "must be within [0, 1], got 2",
        id="sagemaker-confidence-above-one",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.endpoint_name", "My_Endpoint"),
        None,
        "environments.dev.sagemaker.endpoint_name",
        "must be 1-25 lowercase letters",
        id="sagemaker-endpoint-name-uppercase",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.endpoint_name", "x" * 26),
        None,
        "environments.dev.sagemaker.endpoint_name",
        "at most 63 characters",
        id="sagemaker-endpoint-name-too-long",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.endpoint_name", "-classifier"),
        None,
        "environments.dev.sagemaker.endpoint_name",
        "lowercase letters, digits or dashes",
        id="sagemaker-endpoint-name-leading-dash",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.class_names", []),
        None,
        "environments.dev.sagemaker.class_names",
        "a classifier needs at least 2 classes",
        id="sagemaker-no-class-names",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.class_names", ["cat"]),
        None,
        "environments.dev.sagemaker.class_names",
        "at least 2 classes",
        id="sagemaker-one-class-name",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.class_names", ["cat", "dog", "cat"]),
        None,
        "environments.dev.sagemaker.class_names",
        "contains duplicates",
        id="sagemaker-duplicate-class-names",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.class_names", ["cat", ""]),
        None,
        "environments.dev.sagemaker.class_names[1]",
        "must be 1-64 letters",
        id="sagemaker-empty-class-name",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.class_names", "cat,dog"),
        None,
        "environments.dev.sagemaker.class_names",
        "must be a list",
        id="sagemaker-class-names-not-a-list",
    ),
    pytest.param(
        delete_key("defaults.sagemaker.confidence_threshold"),
        None,
        "environments.dev.sagemaker.confidence_threshold",
        "is required",
        id="sagemaker-confidence-missing",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.review_prefix", "/review"),
        None,
        "environments.dev.sagemaker.review_prefix",
        "must be a key prefix",
        id="sagemaker-review-prefix-bad",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.input_prefix", "inference"),
        None,
        "environments.dev.sagemaker.input_prefix",
        "ending in '/'",
        id="sagemaker-input-prefix-without-slash",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.batch.max_concurrency", 0),
        None,
        "environments.dev.sagemaker.batch.max_concurrency",
        "must be at least 1, got 0",
        id="sagemaker-batch-concurrency-zero",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.batch.max_concurrency", 1001),
        None,
        "environments.dev.sagemaker.batch.max_concurrency",
        "must be at most 1000",
        id="sagemaker-batch-concurrency-too-high",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.batch.tolerated_failure_percentage", 101),
        None,
        "environments.dev.sagemaker.batch.tolerated_failure_percentage",
        "must be at most 100",
        id="sagemaker-tolerance-above-100",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.batch.tolerated_failure_percentage", -1),
        None,
        "environments.dev.sagemaker.batch.tolerated_failure_percentage",
        "must be at least 0",
        id="sagemaker-tolerance-negative",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.batch.typo", 1),
        None,
        "environments.dev.sagemaker.batch.typo",
        "is not a known setting",
        id="sagemaker-batch-unknown-key",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.instance_type", "ml.m5.xlarge"),
        None,
        "environments.dev.sagemaker.training.instance_type",
        "trains on GPU instances",
        id="sagemaker-training-on-cpu",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.instance_type", "p3.2xlarge"),
        None,
        "environments.dev.sagemaker.training.instance_type",
        "must be a SageMaker instance type",
        id="sagemaker-training-instance-without-ml",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.instance_count", 0),
        None,
        "environments.dev.sagemaker.training.instance_count",
        "must be at least 1",
        id="sagemaker-training-no-instances",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.volume_size_gb", 0),
        None,
        "environments.dev.sagemaker.training.volume_size_gb",
        "must be at least 1",
        id="sagemaker-training-volume-zero",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.max_runtime_hours", 73),
        None,
        "environments.dev.sagemaker.training.max_runtime_hours",
        "must be at most 72",
        id="sagemaker-training-runtime-too-long",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.data_format", "csv"),
        None,
        "environments.dev.sagemaker.training.data_format",
        "must be one of image, recordio",
        id="sagemaker-training-data-format",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.min_validation_accuracy", 1.2),
        None,
        "environments.dev.sagemaker.training.min_validation_accuracy",
        "must be within [0, 1]",
        id="sagemaker-gate-above-one",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.hyperparameters.num_classes", 3),
        None,
        "environments.dev.sagemaker.training.hyperparameters.num_classes",
        "must equal the number of class_names (3 != 2)",
        id="sagemaker-num-classes-mismatch",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.hyperparameters.num_training_samples", 0),
        None,
        "environments.dev.sagemaker.training.hyperparameters.num_training_samples",
        "must be at least 1",
        id="sagemaker-no-training-samples",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.hyperparameters.epochs", 0),
        None,
        "environments.dev.sagemaker.training.hyperparameters.epochs",
        "must be at least 1",
        id="sagemaker-zero-epochs",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.hyperparameters.learning_rate", 0),
        None,
        "environments.dev.sagemaker.training.hyperparameters.learning_rate",
        "must be greater than 0",
        id="sagemaker-learning-rate-zero",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.hyperparameters.image_shape", "224,224"),
        None,
        "environments.dev.sagemaker.training.hyperparameters.image_shape",
        "'channels,height,width'",
        id="sagemaker-image-shape",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.hyperparameters.num_layers", 19),
        None,
        "environments.dev.sagemaker.training.hyperparameters.num_layers",
        "must be one of 18, 34",
        id="sagemaker-num-layers",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.hyperparameters.num_layers", 20),
        None,
        "environments.dev.sagemaker.training.hyperparameters.use_pretrained_model",
        "pretrained weights exist for num_layers",
        id="sagemaker-pretrained-without-weights",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.training.hyperparameters.dropout", 0.5),
        None,
        "environments.dev.sagemaker.training.hyperparameters.dropout",
        "is not a known setting",
        id="sagemaker-unknown-hyperparameter",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.endpoint.instance_type", "m5.large"),
        None,
        "environments.dev.sagemaker.endpoint.instance_type",
        "must be a SageMaker instance type",
        id="sagemaker-endpoint-instance-type",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.endpoint.initial_instance_count", 0),
        None,
        "environments.dev.sagemaker.endpoint.initial_instance_count",
        "must be at least 1",
        id="sagemaker-endpoint-no-instances",
    ),
    pytest.param(
        set_key("environments.dev.sagemaker.endpoint.data_capture_percentage", 101),
        None,
        "environments.dev.sagemaker.endpoint.data_capture_percentage",
        "must be at most 100",
        id="sagemaker-capture-above-100",
    ),
]


@pytest.mark.parametrize(("mutation", "env", "key", "fragment"), INVALID)
def test_invalid_sagemaker_setting_raises_config_error_naming_the_key(
    context_copy: Context, mutation: Mutation, env: str | None, key: str, fragment: str
) -> None:
    assert_config_error(context_copy, mutation, env, key, fragment)
