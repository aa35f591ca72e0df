"""Find a Rekognition Custom Labels project or model version by exact name, on every page.

``DescribeProjects`` and ``DescribeProjectVersions`` are paginated even when filtered by name:
a page may come back without the match and with a ``NextToken`` (the filter is applied to a page
of the account's projects, not before paging). Reading only the first page makes an existing
project look absent, and creating it then fails with ``ResourceInUseException``. These helpers
follow ``NextToken`` with botocore's paginators until the name is found or there are no more
pages, at most :data:`MAX_PAGES` pages (a service that kept returning tokens must not keep a
Lambda busy until its timeout).

Used by the model controller and ``python -m ops``; the training workflow follows the same
pages in its own ``FindProject`` loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

#: Most pages one lookup reads: 100 pages of up to 100 projects or versions each.
MAX_PAGES = 100


class ListingTooLong(RuntimeError):  # noqa: N818 - reads as the condition it reports
    """More than :data:`MAX_PAGES` pages and still a ``NextToken``: the lookup is incomplete."""


def _pages(client: Any, operation: str, request: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every page of ``operation``, at most :data:`MAX_PAGES` (then :class:`ListingTooLong`)."""
    pages = client.get_paginator(operation).paginate(**request)
    for number, page in enumerate(pages, start=1):
        yield page
        if number >= MAX_PAGES and page.get("NextToken"):
            raise ListingTooLong(
                f"{operation} still had more pages after {MAX_PAGES}; giving up ({dict(request)})"
            )


def project_name_of(arn: str) -> str | None:
    """``NAME`` of ``...:project/NAME/...`` (a project, dataset or version ARN), if it is one."""
    parts = arn.split(":", 5)[-1].split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "project" else None


def version_name_of(arn: str) -> str | None:
    """``VERSION`` of ``...:project/NAME/version/VERSION/CREATED``, if it is a version ARN."""
    parts = arn.split(":", 5)[-1].split("/")
    return parts[3] if len(parts) == 5 and parts[0] == "project" and parts[2] == "version" else None


def find_project(rekognition: Any, project_name: str) -> dict[str, Any] | None:
    """The ``ProjectDescription`` of the project named exactly ``project_name``, or None."""
    for page in _pages(rekognition, "describe_projects", {"ProjectNames": [project_name]}):
        for project in page.get("ProjectDescriptions", []):
            if project_name_of(str(project.get("ProjectArn", ""))) == project_name:
                return dict(project)
    return None


def find_version(rekognition: Any, project_arn: str, version_name: str) -> dict[str, Any] | None:
    """The ``ProjectVersionDescription`` of version ``version_name`` of the project, or None.

    Raises botocore's ``ClientError`` as the service does (``ResourceNotFoundException`` for a
    project that does not exist).
    """
    request = {"ProjectArn": project_arn, "VersionNames": [version_name]}
    for page in _pages(rekognition, "describe_project_versions", request):
        for version in page.get("ProjectVersionDescriptions", []):
            if version_name_of(str(version.get("ProjectVersionArn", ""))) == version_name:
                return dict(version)
    return None
