"""The built-in image classification task: its region table and the job request, against the
SageMaker API reference as botocore ships it."""

from __future__ import annotations

import json
import re

import botocore.session
import pytest
from botocore.validate import validate_parameters

from relabel import ground_truth
from relabel.collect import job_name
from relabel.request import InvalidRequestError, parse_request
from stacks.config.sections.relabel import WORKTEAM_ARN

MODEL = botocore.session.get_session().get_service_model("sagemaker")


def documented_arns(shape: str, member: str, prefix: str) -> dict[str, str]:
    """region -> ARN of ``<prefix>-ImageMultiClass`` in the member's documentation."""
    text = MODEL.shape_for(shape).members[member].documentation
    return {
        match["region"]: match[0]
        for match in re.finditer(
            rf"arn:aws:lambda:(?P<region>[a-z0-9-]+):\d{{12}}:function:{prefix}-ImageMultiClass",
            text,
        )
    }


@pytest.mark.parametrize(
    ("shape", "member", "prefix", "position"),
    [
        ("HumanTaskConfig", "PreHumanTaskLambdaArn", "PRE", 0),
        ("AnnotationConsolidationConfig", "AnnotationConsolidationLambdaArn", "ACS", 1),
    ],
)
def test_the_region_table_is_the_api_references(shape, member, prefix, position):
    documented = documented_arns(shape, member, prefix)
    assert len(documented) >= 12
    assert set(ground_truth.TASK_FUNCTION_ACCOUNTS) == set(documented)
    for region, arn in documented.items():
        assert ground_truth.task_function_arns(region)[position] == arn


def test_a_region_without_the_task_is_refused_with_the_documents_address():
    with pytest.raises(ground_truth.UnsupportedRegionError, match="not offered in us-west-1"):
        ground_truth.task_function_arns("us-west-1")


def test_the_request_is_a_valid_create_labeling_job_with_the_stacks_fields():
    request = ground_truth.labeling_job_request(
        job_name="imgclf-dev-relabel-20261201-220000-abcdef",
        region="eu-west-1",
        manifest_uri="s3://a/relabel/jobs/j/input.manifest",
        categories_uri="s3://a/relabel/jobs/j/categories.json",
        template_uri="s3://a/relabel/jobs/j/template.liquid",
        workteam_arn="arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/x",
        workers_per_image=3,
        task_time_limit_seconds=300,
        task_availability_seconds=86_400,
    )
    complete = {
        **request,
        "RoleArn": "arn:aws:iam::123456789012:role/gt",
        "OutputConfig": {"S3OutputPath": "s3://a/relabel/output/", "KmsKeyId": "arn:aws:kms:x"},
    }
    validate_parameters(complete, MODEL.operation_model("CreateLabelingJob").input_shape)
    assert set(MODEL.operation_model("CreateLabelingJob").input_shape.required_members) <= set(
        complete
    )
    name_shape = MODEL.shape_for("LabelingJobName")
    assert re.fullmatch(name_shape.metadata["pattern"], request["LabelingJobName"])


def test_the_category_file_lists_the_labels_in_class_order():
    assert json.loads(ground_truth.label_category_config(["bicycle", "motorcycle"])) == {
        "document-version": "2018-11-28",
        "labels": [{"label": "bicycle"}, {"label": "motorcycle"}],
    }


def test_job_names_are_sortable_stable_and_within_the_apis_pattern():
    pattern = MODEL.shape_for("LabelingJobName").metadata["pattern"]
    prefix = "abcdefghijklmnopqrstuvwx-relabel-"  # the longest <prefix>-<env> (24) + -relabel-
    name = job_name(prefix, "arn:aws:states:...:execution:m:run-1", "2026-12-01T22:00:05.123Z")
    assert name == job_name(
        prefix, "arn:aws:states:...:execution:m:run-1", "2026-12-01T22:00:05.123Z"
    )
    assert name.startswith(f"{prefix}20261201-220005-")
    assert len(name) <= 63
    assert re.fullmatch(pattern, name)
    assert name != job_name(prefix, "arn:aws:states:...:execution:m:run-2", "2026-12-01T22:00:05Z")


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        ("start", "must be a JSON object"),
        ({"trigger": "drift"}, "trigger must be one of operator, schedule, threshold"),
        ({"max_images": True}, "max_images must be a whole number 1-500"),
        ({"max_images": 501}, "max_images must be a whole number 1-500"),
        ({"workteam_arn": 3}, "workteam_arn must be a private workteam ARN"),
        ({"max_image": 3}, "did you mean 'max_images'?"),
    ],
)
def test_bad_requests_get_one_line(request_, problem):
    with pytest.raises(InvalidRequestError, match=re.escape(problem)):
        parse_request(request_, 500, WORKTEAM_ARN)


def test_an_empty_or_missing_request_is_an_operator_run():
    assert parse_request(None, 500, WORKTEAM_ARN) == {
        "workteam_arn": None,
        "trigger": "operator",
        "max_images": 500,
    }
    assert parse_request({}, 500, WORKTEAM_ARN)["trigger"] == "operator"
