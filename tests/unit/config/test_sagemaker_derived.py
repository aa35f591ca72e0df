"""What the SageMaker section of the configuration derives: names, hyperparameters, storage."""

from __future__ import annotations

import pytest

from stacks.config import has_instance_storage, load_environment


def test_names_are_prefixed_per_environment(cdk_context):
    dev = load_environment(cdk_context, "dev")
    prod = load_environment(cdk_context, "prod")
    name = cdk_context["defaults"]["sagemaker"]["endpoint_name"]
    assert dev.sagemaker.endpoint_full_name(dev.resource_name_prefix) == f"imgclf-dev-{name}"
    assert prod.sagemaker.endpoint_full_name(prod.resource_name_prefix) == f"imgclf-prod-{name}"
    assert dev.sagemaker.job_name_prefix(dev.resource_name_prefix) == "imgclf-dev-ic"


def test_hyperparameters_are_the_strings_create_training_job_takes(cdk_context):
    config = load_environment(cdk_context, "dev").sagemaker
    raw = cdk_context["defaults"]["sagemaker"]["training"]["hyperparameters"]
    strings = config.training.hyperparameters.as_strings()
    assert set(strings) == set(raw)
    assert all(isinstance(value, str) for value in strings.values())
    assert strings["num_classes"] == str(len(config.class_names))
    assert strings["use_pretrained_model"] == ("1" if raw["use_pretrained_model"] else "0")
    assert float(strings["learning_rate"]) == raw["learning_rate"]


def test_channels_follow_the_data_format(cdk_context, context_copy):
    image = load_environment(cdk_context, "dev").sagemaker.training
    assert image.data_format == "image"
    assert image.channels == ("train", "validation", "train_lst", "validation_lst")
    assert image.content_type == "application/x-image"
    context_copy["defaults"]["sagemaker"]["training"]["data_format"] = "recordio"
    recordio = load_environment(context_copy, "dev").sagemaker.training
    assert recordio.channels == ("train", "validation")
    assert recordio.content_type == "application/x-recordio"


@pytest.mark.parametrize(
    ("instance_type", "local_storage"),
    [
        ("ml.p3.2xlarge", False),
        ("ml.m5.large", False),
        ("ml.c5n.xlarge", False),
        ("ml.g4dn.xlarge", True),
        ("ml.m5d.large", True),
        ("ml.p3dn.24xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.g5.xlarge", True),
    ],
)
def test_instance_types_with_local_nvme_storage(instance_type, local_storage):
    assert has_instance_storage(instance_type) is local_storage


def test_shipped_defaults_encrypt_with_the_environment_key(cdk_context):
    """The shipped instance types are EBS-only, so the environment key encrypts their volumes."""
    config = load_environment(cdk_context, "prod").sagemaker
    assert not has_instance_storage(config.training.instance_type)
    assert not has_instance_storage(config.endpoint.instance_type)
