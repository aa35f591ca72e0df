"""Reading an SSM parameter that may not exist yet (a model version, a published capacity)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def read_optional_parameter(ssm: Any, name: str) -> str | None:
    """The parameter's value, or None while it does not exist; every other error is raised."""
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
