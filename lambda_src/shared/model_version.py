"""Which Rekognition Custom Labels model version inference uses.

Either pinned in the configuration (``rekognition.model_version_arn``, passed to the functions as
``MODEL_VERSION_ARN``) or published by the training workflow in an SSM parameter when a version
passes the quality gate and is started (``MODEL_VERSION_PARAMETER``), so a new model is picked up
without a redeploy. Used by the inference consumer, the model controller and ``python -m ops``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from contracts.arns import MODEL_VERSION_ARN


class ModelNotConfiguredError(Exception):
    """No usable model version: nothing pinned and the parameter is missing or invalid.

    Inference treats this as transient (messages wait in the queue) and the controller does
    nothing, because the training workflow will publish a version.
    """


@dataclass(frozen=True)
class ModelVersion:
    """A parsed model version ARN."""

    arn: str
    project: str
    version: str
    region: str
    account: str

    @classmethod
    def parse(cls, arn: str) -> ModelVersion | None:
        match = MODEL_VERSION_ARN.fullmatch(arn.strip())
        if match is None:
            return None
        return cls(
            arn=arn.strip(),
            project=match["project"],
            version=match["version"],
            region=match["region"],
            account=match["account"],
        )


def resolve_model_version(
    *,
    pinned_arn: str | None,
    parameter_name: str,
    project_name: str,
    read_parameter: Callable[[str], str | None],
) -> ModelVersion:
    """The version to use, or :class:`ModelNotConfiguredError` saying what an operator can do.

    ``read_parameter`` returns the parameter's value, or ``None`` when it does not exist (other
    errors propagate: a throttled SSM call is not a missing model).
    """
    if pinned_arn:
        source = "rekognition.model_version_arn"
        value = pinned_arn
    else:
        source = f"SSM parameter {parameter_name}"
        parameter = read_parameter(parameter_name)
        if parameter is None:
            raise ModelNotConfiguredError(
                f"{source} does not exist: no model version has been deployed yet (the training "
                "workflow writes it) and rekognition.model_version_arn is not set"
            )
        value = parameter
    model = ModelVersion.parse(value)
    if model is None:
        raise ModelNotConfiguredError(f"{source} is not a model version ARN: {value!r}")
    if model.project != project_name:
        raise ModelNotConfiguredError(
            f"{source} names project {model.project!r}, but this environment serves "
            f"{project_name!r} (rekognition.project_name); its IAM grants cover only that project"
        )
    return model
