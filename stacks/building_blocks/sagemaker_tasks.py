"""CDK's typed SageMaker tasks, with exact IAM statements and the parameters CDK does not render.

The typed tasks grant ``*`` whenever a name comes from the execution (``training-job/*``,
``model/*``, ``endpoint-config/*``, ``ListTags`` on ``*``), and the training task grants
``kms:ReEncrypt*``/``kms:GenerateDataKey*`` for its output key. The subclasses here register the
caller's statements instead (scoped to this workflow's name prefix), and can add request
parameters CDK has no property for (an endpoint configuration's ``DataCaptureConfig``, KMS key
ids rendered without CDK's broad key grants). Everything else (validation, rendering, the
``.sync`` integration) stays CDK's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct


class _ExactTask:
    """Mixin: register ``_exact_policies`` instead of the task's generated statements, and merge
    ``_extra_parameters`` into the rendered ``Parameters``.

    ``whenBoundToGraph`` is the documented extension point where a task hands its statements to
    the state machine; what State.whenBoundToGraph does besides (registering the state) is kept.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        policies: Sequence[iam.PolicyStatement],
        extra_parameters: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[call-arg]
        self._exact_policies = list(policies)
        self._extra_parameters = dict(extra_parameters or {})

    def _when_bound_to_graph(self, graph: sfn.StateGraph) -> None:
        graph.register_state(self)
        for statement in self._exact_policies:
            graph.register_policy_statement(statement)

    def to_state_json(self, top_level_query_language: Any = None) -> Any:
        rendered = dict(super().to_state_json(top_level_query_language))  # type: ignore[misc]
        if self._extra_parameters:
            rendered["Parameters"] = _merge(rendered["Parameters"], self._extra_parameters)
        return rendered


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class TrainingJob(_ExactTask, tasks.SageMakerCreateTrainingJob):
    """``sagemaker:createTrainingJob`` (use ``RUN_JOB`` for ``.sync``) with exact statements."""


class CreateModel(_ExactTask, tasks.SageMakerCreateModel):
    """``sagemaker:createModel`` with exact statements."""


class CreateEndpointConfig(_ExactTask, tasks.SageMakerCreateEndpointConfig):
    """``sagemaker:createEndpointConfig`` with exact statements and extra parameters."""


class CreateEndpoint(_ExactTask, tasks.SageMakerCreateEndpoint):
    """``sagemaker:createEndpoint`` with exact statements."""


class UpdateEndpoint(_ExactTask, tasks.SageMakerUpdateEndpoint):
    """``sagemaker:updateEndpoint`` with exact statements."""


class S3Uri(tasks.S3Location):
    """An ``s3://`` location for a SageMaker task, without CDK's grants.

    ``S3Location.from_bucket`` grants ``s3:GetObject*``/``s3:List*``/... on the prefix and
    ``from_json_expression`` grants ``s3:GetObject``/``s3:ListBucket`` on ``*`` to the task's
    role; the caller grants exact actions instead. ``uri`` is a literal or a JsonPath.
    """

    def __init__(self, uri: str) -> None:
        super().__init__()
        self._uri = uri

    @classmethod
    def of(cls, bucket_name: str, key_prefix: str) -> S3Uri:
        return cls(f"s3://{bucket_name}/{key_prefix}")

    def bind(
        self,
        task: Any,
        *,
        for_reading: bool | None = None,
        for_writing: bool | None = None,
    ) -> tasks.S3LocationConfig:
        return tasks.S3LocationConfig(uri=self._uri)
