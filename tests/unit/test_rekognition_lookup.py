"""Project and version lookups read every page (botocore Stubber: the exact requests)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from shared import rekognition_lookup
from shared.rekognition_lookup import (
    ListingTooLong,
    find_project,
    find_version,
    project_name_of,
    version_name_of,
)

REGION = "eu-west-1"
PREFIX = f"arn:aws:rekognition:{REGION}:123456789012:project"
PROJECT_ARN = f"{PREFIX}/shapes/1700000000000"
VERSION_ARN = f"{PREFIX}/shapes/version/v1/1700000000001"


@pytest.fixture
def rekognition() -> Any:
    client = boto3.client(
        "rekognition", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def projects_page(arns: list[str], token: str | None, after: str | None = None) -> tuple:
    response: dict[str, Any] = {"ProjectDescriptions": [{"ProjectArn": arn} for arn in arns]}
    if token:
        response["NextToken"] = token
    request: dict[str, Any] = {"ProjectNames": ["shapes"]}
    if after:
        request["NextToken"] = after
    return "describe_projects", response, request


def test_a_project_on_page_two_is_found(rekognition) -> None:
    rekognition.stubber.add_response(*projects_page([], "t1"))
    rekognition.stubber.add_response(*projects_page([PROJECT_ARN], None, after="t1"))

    assert find_project(rekognition, "shapes") == {"ProjectArn": PROJECT_ARN}


def test_no_project_after_the_last_page(rekognition) -> None:
    rekognition.stubber.add_response(*projects_page([], "t1"))
    rekognition.stubber.add_response(*projects_page([], None, after="t1"))

    assert find_project(rekognition, "shapes") is None


def test_only_the_exact_name_matches(rekognition) -> None:
    rekognition.stubber.add_response(*projects_page([f"{PREFIX}/shapes-old/1"], None))

    assert find_project(rekognition, "shapes") is None


def test_pages_are_bounded(rekognition, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rekognition_lookup, "MAX_PAGES", 3)
    rekognition.stubber.add_response(*projects_page([], "t1"))
    rekognition.stubber.add_response(*projects_page([], "t2", after="t1"))
    rekognition.stubber.add_response(*projects_page([], "t3", after="t2"))

    with pytest.raises(ListingTooLong, match="after 3"):
        find_project(rekognition, "shapes")


def test_a_version_on_page_two_is_found(rekognition) -> None:
    request = {"ProjectArn": PROJECT_ARN, "VersionNames": ["v1"]}
    rekognition.stubber.add_response(
        "describe_project_versions", {"ProjectVersionDescriptions": [], "NextToken": "t1"}, request
    )
    description = {"ProjectVersionArn": VERSION_ARN, "Status": "RUNNING"}
    rekognition.stubber.add_response(
        "describe_project_versions",
        {"ProjectVersionDescriptions": [description]},
        {**request, "NextToken": "t1"},
    )

    assert find_version(rekognition, PROJECT_ARN, "v1") == description


@pytest.mark.parametrize(
    ("arn", "project", "version"),
    [
        (PROJECT_ARN, "shapes", None),
        (VERSION_ARN, "shapes", "v1"),
        (f"{PREFIX}/version/version/version/1", "version", "version"),
        (f"{PREFIX}/shapes/dataset/train/1", "shapes", None),
        ("arn:aws:s3:::bucket/key", None, None),
    ],
)
def test_names_are_read_from_their_place_in_the_arn(arn, project, version) -> None:
    assert project_name_of(arn) == project
    assert version_name_of(arn) == version
