"""The oracles' own rules, against the examples AWS publishes for them.

The naming rules in ``service_models`` and the matching in ``authorization`` are ours; these
tests pin them to the documentation's own examples, so a wrong rule fails here, not silently
in every contract check.
"""

from __future__ import annotations

import pytest

from tests.contract import authorization as reference
from tests.contract import service_models as models
from tests.contract.integrations import describe


def test_sdk_service_names_follow_the_step_functions_examples() -> None:
    # Step Functions Developer Guide, "Learning to use AWS service SDK integrations":
    # acmpca:deleteCertificateAuthority raises AcmPca.ResourceNotFoundException.
    assert models.sdk_service_name("acm-pca") == "AcmPca"
    names = models.modelled_error_names(
        "acm-pca",
        models.operation("acm-pca", "deleteCertificateAuthority"),  # type: ignore[arg-type]
    )
    assert "AcmPca.ResourceNotFoundException" in names
    assert "AcmPca.AcmPcaException" in names


def test_error_names_gain_the_exception_suffix() -> None:
    # Same page: S3's BucketAlreadyExists is caught as S3.BucketAlreadyExistsException.
    operation = models.operation("s3", "createBucket")
    assert operation is not None
    assert "S3.BucketAlreadyExistsException" in models.modelled_error_names("s3", operation)
    assert "S3.BucketAlreadyExists" not in models.modelled_error_names("s3", operation)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("rekognition", "Rekognition"),
        ("sagemaker", "SageMaker"),
        ("ssm", "Ssm"),
        ("s3", "S3"),
        ("stepfunctions", "Sfn"),
        ("sns", "Sns"),
    ],
)
def test_sdk_service_names_of_the_services_we_call(service: str, expected: str) -> None:
    assert models.sdk_service_name(service) == expected


def test_sagemaker_models_no_throttling_error() -> None:
    """Why the SageMaker retries name the catch-all: there is no modelled throttle to name."""
    operation = describe("arn:aws:states:::aws-sdk:sagemaker:describeEndpoint")
    assert "SageMaker.ThrottlingException" not in operation.error_names()
    assert "SageMaker.SageMakerException" in operation.error_names()
    optimized = describe("arn:aws:states:::sagemaker:createModel")
    assert "SageMaker.AmazonSageMakerException" in optimized.error_names()


def test_every_operation_to_action_exception_names_a_real_action() -> None:
    for (prefix, operation), actions in models.IAM_ACTION_FOR_OPERATION.items():
        for action in actions:
            assert reference.action(action) is not None, (prefix, operation, action)


def test_operations_map_to_the_reference_actions() -> None:
    assert models.iam_actions_for("s3", "ListObjectsV2") == ("s3:ListBucket",)
    assert models.iam_actions_for("sagemaker-runtime", "InvokeEndpoint") == (
        "sagemaker:InvokeEndpoint",
    )
    assert models.iam_actions_for("cloudwatch", "PutMetricData") == ("cloudwatch:PutMetricData",)
    assert models.iam_actions_for("stepfunctions", "StartExecution") == ("states:StartExecution",)


def test_action_lookup_is_exact_about_casing() -> None:
    assert reference.action("rekognition:DescribeProjects") is not None
    assert reference.action("rekognition:describeProjects") is None
    assert reference.spelled_like("rekognition:describeprojects") == "rekognition:DescribeProjects"


def test_actions_without_resource_types_need_star() -> None:
    create_project = reference.action("rekognition:CreateProject")
    assert create_project is not None
    assert create_project.needs_star
    start = reference.action("rekognition:StartProjectVersion")
    assert start is not None
    assert not start.needs_star


@pytest.mark.parametrize(
    ("granted", "arn_format", "expected"),
    [
        ("*", "arn:${Partition}:s3:::${BucketName}", True),
        ("arn:aws:s3:::data/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
        ("arn:aws:s3:::data/*", "arn:${Partition}:s3:::${BucketName}", False),
        ("arn:aws:s3:::data", "arn:${Partition}:s3:::${BucketName}", True),
        # A variable never spans an ARN field: an S3 ARN is no Rekognition project.
        (
            "arn:aws:s3:::data/*",
            "arn:${Partition}:rekognition:${Region}:${Account}:project/${P}/${T}",
            False,
        ),
        (
            "arn:aws:rekognition:eu-west-1:1:project/p/*",
            "arn:${Partition}:rekognition:${Region}:${Account}:project/${P}/${T}",
            True,
        ),
        (
            "arn:aws:ssm:eu-west-1:1:parameter/a/b",
            "arn:${Partition}:ssm:${Region}:${Account}:parameter/${ParameterNameWithoutLeadingSlash}",
            True,
        ),
    ],
)
def test_resource_patterns_meet_arn_formats(granted: str, arn_format: str, expected: bool) -> None:
    assert reference.patterns_intersect(granted, arn_format) is expected


def test_condition_keys_with_variables() -> None:
    create_grant = reference.action("kms:CreateGrant")
    assert create_grant is not None
    assert reference.condition_key_allowed("kms:GrantIsForAWSResource", create_grant)
    assert reference.condition_key_allowed("kms:EncryptionContext:aws:logs:arn", create_grant)
    assert reference.condition_key_allowed("aws:SourceAccount", create_grant)  # global key
    assert not reference.condition_key_allowed("s3:prefix", create_grant)


def test_a_versioned_model_package_arn_has_its_group_and_version_in_the_name() -> None:
    """botocore's ModelPackageArn pattern allows the ``<group>/<version>`` form the SageMaker
    Developer Guide's "Model package state change" example shows, and the reference's
    ``model-package/${ModelPackageName}`` format covers a grant of every version of one group."""
    import re

    import botocore.session

    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("DescribeModelPackage")
        .output_shape.members["ModelPackageArn"]
    )
    documented = (
        "arn:aws:sagemaker:us-east-2:123456789012:model-package/versionedmp-p-idy6c3e1fiqj/2"
    )
    assert re.fullmatch(shape.metadata["pattern"], documented)
    arn_format = "arn:${Partition}:sagemaker:${Region}:${Account}:model-package/${ModelPackageName}"
    granted = (
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/imgclf-prod-image-classifier/*"
    )
    assert reference.patterns_intersect(granted, arn_format)
    # A name variable without slashes stays one path part.
    assert not reference.patterns_intersect(
        "arn:aws:sagemaker:eu-west-1:111111111111:model/a/b",
        "arn:${Partition}:sagemaker:${Region}:${Account}:model/${ModelName}",
    )


def test_an_index_into_a_literal_list_reads_its_item_or_says_it_is_out_of_range() -> None:
    item, problem = models.step(models.Literal(["reason"]), "[0]")
    assert problem is None
    assert item == models.Literal("reason")
    assert models.step(models.Literal([]), "[0]") == (None, "[0] of a literal list of 0")
