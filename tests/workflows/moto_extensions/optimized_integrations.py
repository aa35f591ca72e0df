"""The optimized integrations moto only forwards, completed the way Step Functions runs them.

- ``arn:aws:states:::sagemaker:*``: the request goes through the same scripting hook as aws-sdk
  tasks (``LocalWorkflow.script``), errors are named ``<Service>.<Code>`` like aws-sdk errors,
  and ``.sync`` waits the way Step Functions does: it polls the service's Describe operation
  (:data:`SYNC_INTEGRATIONS`) until a terminal status; the task's result is the Describe
  response, and a failed or stopped job fails the task with ``States.TaskFailed`` and the
  Describe response as cause.
- ``states:startExecution``: moto hands botocore the ASL's PascalCase parameters
  (``StateMachineArn``, ``Input``, ``Name``) unconverted, which botocore's serializer refuses
  (``KeyError``, reported as ``States.Runtime``): they are renamed to the API's member names
  (``stateMachineArn``, ...) by the service model, as Step Functions does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_task,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_unsupported as unsupported_task,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from tests.contract.integrations import OPTIMIZED


@dataclass(frozen=True)
class SyncIntegration:
    """How Step Functions waits for a ``.sync`` job: Describe until a terminal status."""

    describe: str
    identifiers: tuple[str, ...]
    status_field: str
    succeeded: frozenset[str]
    failed: frozenset[str]


#: (service, API action of the resource) -> how its ``.sync`` pattern completes.
SYNC_INTEGRATIONS: dict[tuple[str, str], SyncIntegration] = {
    ("sagemaker", "createTrainingJob"): SyncIntegration(
        describe="describe_training_job",
        identifiers=("TrainingJobName",),
        status_field="TrainingJobStatus",
        succeeded=frozenset({"Completed"}),
        failed=frozenset({"Failed", "Stopped"}),
    ),
}


def optimized_error_name(service: str, code: str) -> str:
    """How an optimized integration names a service error (the contract layer's rule): the SDK
    class of a modelled error, else the service's catch-all (``SageMaker.ThrottlingException``
    arrives as ``SageMaker.AmazonSageMakerException``: SageMaker models no throttling error)."""
    prefix, catch_all = OPTIMIZED[service]
    model = botocore.session.get_session().get_service_model(service)
    for shape_name in model.shape_names:
        shape = model.shape_for(shape_name)
        modelled_code = shape.metadata.get("error", {}).get("code", shape_name)
        if shape.metadata.get("exception") and code in {modelled_code, shape_name}:
            suffix = "" if shape_name.endswith("Exception") else "Exception"
            return f"{prefix}.{shape_name}{suffix}"
    return catch_all


def optimized_integration_patches(
    client_for: Callable[..., Any], error_name: Callable[[str], str]
) -> list[Any]:
    service_class = unsupported_task.StateTaskServiceUnsupported
    original_from_error = service_class._from_error

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            error = ex.response.get("Error", {})
            return _task_failure(
                self,
                env=env,
                error=optimized_error_name(self._get_boto_service_name(), str(error.get("Code"))),
                cause=str(error.get("Message", "")),
            )
        return original_from_error(self, env, ex)

    def build_sync_resolver(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Callable[[], Any]:
        service = self._get_boto_service_name()
        spec = SYNC_INTEGRATIONS.get((service, self.resource.api_action))
        if spec is None:
            raise NotImplementedError(
                f"harness: .sync of {service}:{self.resource.api_action} is not described in "
                "SYNC_INTEGRATIONS"
            )
        client = client_for(
            region=resource_runtime_part.region,
            service=service,
            state_credentials=state_credentials,
        )
        request = {name: normalised_parameters[name] for name in spec.identifiers}

        def resolve() -> Any:
            response = dict(getattr(client, spec.describe)(**request))
            response.pop("ResponseMetadata", None)
            status = response.get(spec.status_field)
            if status in spec.succeeded:
                return response
            if status in spec.failed:
                raise FailureEventException(
                    _task_failure(
                        self,
                        env=env,
                        error="States.TaskFailed",
                        cause=json.dumps(response, default=str),
                    )
                )
            return None  # still running: Step Functions keeps waiting

        return resolve

    original_assert = service_class._assert_integration_pattern_is_supported

    def assert_supported(self: Any) -> None:
        described = (self._get_boto_service_name(), self.resource.api_action)
        if self.resource.condition == "sync" and described in SYNC_INTEGRATIONS:
            return
        original_assert(self)

    return [
        mock.patch.object(
            service_class, "_assert_integration_pattern_is_supported", assert_supported
        ),
        mock.patch.object(unsupported_task, "boto_client_for", client_for),
        mock.patch.object(service_class, "_from_error", from_error),
        mock.patch.object(service_class, "_build_sync_resolver", build_sync_resolver),
        mock.patch.object(callback_task, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 0),
    ]


def _task_failure(task: Any, env: Any, error: str, cause: str) -> FailureEvent:
    """A task failure named ``error`` (what aws-sdk tasks raise, for any service task)."""
    return FailureEvent(
        env=env,
        error_name=ErrorName(error_name=error),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(
            taskFailedEventDetails=TaskFailedEventDetails(
                resource=task._get_sfn_resource(),
                resourceType=task._get_sfn_resource_type(),
                error=error,
                cause=cause,
            )
        ),
    )


def start_execution_patch() -> Any:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn as sfn_task,
    )

    original = sfn_task.StateTaskServiceSfn._eval_service_task
    model = botocore.session.get_session().get_service_model("stepfunctions")

    def eval_service_task(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        action = self.resource.api_action
        operation = model.operation_model(action[0].upper() + action[1:])
        members = {name.lower(): name for name in operation.input_shape.members}
        renamed = {members.get(k.lower(), k): v for k, v in normalised_parameters.items()}
        original(
            self,
            env=env,
            resource_runtime_part=resource_runtime_part,
            normalised_parameters=renamed,
            state_credentials=state_credentials,
        )

    return mock.patch.object(sfn_task.StateTaskServiceSfn, "_eval_service_task", eval_service_task)
