"""What moto 5.2.5's Step Functions interpreter lacks, added for the local runner (harness.py).

Each piece follows AWS's documented behaviour and is switched on only while
:class:`~tests.workflows.harness.LocalWorkflow` runs an execution:

1. **Optimized integrations moto only forwards** (``arn:aws:states:::sagemaker:*``): the request
   goes through the same scripting hook as aws-sdk tasks (``LocalWorkflow.script``), errors are
   named ``<Service>.<Code>`` like aws-sdk errors, and ``.sync`` waits the way Step Functions
   does: it polls the service's Describe operation (:data:`SYNC_INTEGRATIONS`) until a terminal
   status; the task's result is the Describe response, and a failed or stopped job fails the
   task with ``States.TaskFailed`` and the Describe response as cause.
2. **Calls made by Lambda handlers** (and by the threads a handler runs in a copy of its
   context) are answered by the script of their ``service.Operation``
   when one exists (moto answers the rest), after botocore's parameter validation; streaming
   payloads (an endpoint's ``Body``) come back as ``StreamingBody``. They are recorded in
   ``WorkflowRun.handler_calls``. Handlers run one at a time: they share ``os.environ``.
3. **Distributed Map**: the S3 ItemReader lists every page and yields AWS's item shape
   (``Etag``, ``Key``, ``LastModified`` in epoch seconds, ``Size``, ``StorageClass``); failed
   child executions count against ``ToleratedFailurePercentage``/``ToleratedFailureCount``, and
   exceeding them fails the Map with ``States.ExceedToleratedFailureThreshold`` (moto ignores
   both and lets every Map succeed); the ResultWriter writes ``manifest.json`` and
   ``SUCCEEDED_0.json``/``FAILED_0.json`` in the documented default format (transformation
   ``NONE``, JSON) instead of an empty manifest, also when the Map Run fails for exceeding its
   tolerance (AWS exports a failed run's results too: that is what ``PENDING`` files are for;
   the failed Map state has no output, so the files are found through ListMapRuns). All
   children run before the threshold is checked, so no child is aborted or left pending here.
4. **ItemBatcher** (moto has none): the definition's ``ItemBatcher`` is kept aside by the Map's
   ``Label``; the listed items are grouped ``MaxItemsPerBatch`` at a time and each child gets
   ``{"Items": [every item through the ItemSelector], "BatchInput": ...}`` as AWS documents it
   (``BatchInput`` of plain ``$.`` / ``$$.`` paths against the Map's input). Tolerance, results
   and counts are per child, as on AWS.
5. **Grammar gaps**: moto's parser rejects a Distributed Map's ``"ExecutionType": "EXPRESS"``
   and an integer ``ToleratedFailurePercentage``; :func:`moto_definition` hands moto STANDARD
   and a float instead (the deployed definition is unchanged and is what tests assert on).
   Express child semantics (at-least-once, five-minute limit) are therefore not emulated.
   A Fail state whose ``ErrorPath`` yields a ``States.*`` name (re-raising a caught
   ``States.ExceedToleratedFailureThreshold``, ``States.TaskFailed``, ...) fails with that name,
   as on AWS; moto refuses it (``ValueError``, reported as ``States.Runtime``).
5. **The optimized ``states:startExecution``** hands botocore the ASL's PascalCase parameters
   (``StateMachineArn``, ``Input``, ``Name``) unconverted, which botocore's serializer refuses
   (``KeyError``, reported as ``States.Runtime``): they are renamed to the API's member names
   (``stateMachineArn``, ...) by the service model, as Step Functions does.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import datetime
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest import mock

import botocore.session
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.validate import validate_parameters
from moto.stepfunctions.parser.api import (
    HistoryEventType,
    MapRunFailedEventDetails,
    TaskFailedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed_iteration,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker as distributed_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (  # noqa: E501
    resource_eval_s3 as result_writer_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_task,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_unsupported as unsupported_task,
)
from moto.stepfunctions.parser.asl.component.state.fail import state_fail
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped
from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

from tests.contract.integrations import OPTIMIZED

if TYPE_CHECKING:
    from tests.workflows.harness import LocalWorkflow


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

#: Handlers share os.environ (the harness patches it per invocation): run them one at a time.
HANDLER_LOCK = threading.RLock()
#: Whether the current code runs inside a Lambda handler: a context variable, so threads a
#: handler starts with its context (contextvars.copy_context) are inside it too.
_HANDLER: contextvars.ContextVar[bool] = contextvars.ContextVar("harness_handler", default=False)
_CHILDREN = "harness_children"
_CHILDREN_LOCK = threading.Lock()
_SCRIPT_LOCK = threading.Lock()
#: ItemBatcher of each Distributed Map, by the Map's Label (moto's grammar has none).
ITEM_BATCHERS: dict[str, dict[str, Any]] = {}
_BATCH = "harness_batch"
EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"


@contextlib.contextmanager
def handler_running() -> Iterator[None]:
    """Mark the current thread as running a Lambda handler (its AWS calls may be scripted)."""
    with HANDLER_LOCK:
        token = _HANDLER.set(True)
        try:
            yield
        finally:
            _HANDLER.reset(token)


def extension_patches(
    harness: LocalWorkflow,
    client_for: Callable[..., Any],
    error_name: Callable[[str], str],
) -> list[Any]:
    """Every patch of this module, for the harness to enter while an execution runs.

    ``client_for`` makes a boto3 client whose calls go through the harness's scripting hook;
    ``error_name`` spells a service the way Step Functions does in error names.
    """
    return [
        *_optimized_integration_patches(client_for, error_name),
        _start_execution_patch(),
        _handler_call_patch(harness),
        *_distributed_map_patches(),
        mock.patch.object(state_fail, "CustomErrorName", _ReraisedErrorName),
    ]


class _ReraisedErrorName(ErrorName):
    """A Fail state's error name from ``ErrorPath``: any string, ``States.*`` included."""


def moto_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """``definition`` rewritten where moto's ASL grammar is narrower than AWS's (see 4.)."""

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, Mapping):
            return node
        rewritten = {key: visit(value) for key, value in node.items()}
        batcher = rewritten.pop("ItemBatcher", None)
        if batcher is not None:
            if "Label" not in rewritten:
                raise NotImplementedError("harness: an ItemBatcher needs the Map's Label")
            ITEM_BATCHERS[rewritten["Label"]] = batcher
        config = rewritten.get("ProcessorConfig")
        if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
            config["ExecutionType"] = "STANDARD"
        percentage = rewritten.get("ToleratedFailurePercentage")
        if isinstance(percentage, int) and not isinstance(percentage, bool):
            rewritten["ToleratedFailurePercentage"] = float(percentage)
        return rewritten

    return dict(visit(definition))


# --- 1. optimized integrations moto only forwards --------------------------------------------


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


def _optimized_integration_patches(
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


# --- 5. the optimized states:startExecution ------------------------------------------------------


def _start_execution_patch() -> Any:
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


# --- 2. calls made by Lambda handlers ---------------------------------------------------------


def _handler_call_patch(harness: LocalWorkflow) -> Any:
    original = BaseClient._make_api_call

    def make_api_call(client: Any, operation_name: str, api_params: Mapping[str, Any]) -> Any:
        if not _HANDLER.get():
            return original(client, operation_name, api_params)
        service = client.meta.service_model.service_name
        key = f"{service}.{operation_name}"
        harness._record_handler_call(key, dict(api_params))
        answers = harness._scripts.get(key)
        if not answers:
            return original(client, operation_name, api_params)
        operation = client.meta.service_model.operation_model(operation_name)
        validate_parameters(dict(api_params), operation.input_shape)
        with _SCRIPT_LOCK:  # a handler's threads take the scripted answers one at a time
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if callable(answer):
            answer = answer(api_params)
        if _is_error(answer):
            raise ClientError(
                {
                    "Error": {"Code": answer.code, "Message": answer.message},
                    "ResponseMetadata": {"HTTPStatusCode": answer.status},
                },
                operation_name,
            )
        return _as_response(operation, answer)

    return mock.patch.object(BaseClient, "_make_api_call", make_api_call)


def _is_error(answer: Any) -> bool:
    return hasattr(answer, "code") and hasattr(answer, "status")


def _as_response(operation: Any, answer: Mapping[str, Any]) -> dict[str, Any]:
    """A scripted answer as botocore would have parsed it (streaming blobs as StreamingBody)."""
    response = dict(answer)
    shape = operation.output_shape
    if shape is not None:
        for name, member in shape.members.items():
            streaming = member.serialization.get("streaming") or (
                shape.serialization.get("payload") == name and member.type_name == "blob"
            )
            value = response.get(name)
            if streaming and isinstance(value, bytes | str):
                raw = value.encode() if isinstance(value, str) else value
                response[name] = StreamingBody(_BytesReader(raw), len(raw))
    response.setdefault("ResponseMetadata", {"HTTPStatusCode": 200, "RequestId": "scripted"})
    return response


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def read(self, amount: int | None = None) -> bytes:
        end = len(self._data) if amount is None else self._offset + amount
        chunk = self._data[self._offset : end]
        self._offset += len(chunk)
        return chunk


# --- 3. Distributed Map ------------------------------------------------------------------------


def _distributed_map_patches() -> list[Any]:
    return [
        mock.patch.object(
            item_reader_s3.ResourceEvalS3, "_handle_list_objects_v2", staticmethod(_list_objects)
        ),
        mock.patch.object(
            distributed_worker.DistributedItemProcessorWorker, "_eval_job", _eval_job
        ),
        mock.patch.object(
            distributed_iteration.DistributedIterationComponent,
            "_map_run",
            _map_run_with_tolerance(distributed_iteration.DistributedIterationComponent._map_run),
        ),
        mock.patch.object(
            result_writer_s3.ResourceEvalS3, "_handle_put_object", staticmethod(_write_results)
        ),
        mock.patch.object(
            state_map.StateMap,
            "_eval_execution",
            _results_written_on_tolerance_failure(state_map.StateMap._eval_execution),
        ),
    ]


def _list_objects(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """ItemReader over ``s3:listObjectsV2``: every page, AWS's item shape, empty is fine."""
    s3 = boto_client_for(
        region=resource_runtime_part.region, service="s3", state_credentials=state_credentials
    )
    parameters = env.stack.pop()
    items = []
    for page in s3.get_paginator("list_objects_v2").paginate(**parameters):
        for entry in page.get("Contents", []):
            items.append(
                {
                    "Etag": entry["ETag"],
                    "Key": entry["Key"],
                    "LastModified": int(entry["LastModified"].timestamp()),
                    "Size": entry["Size"],
                    "StorageClass": entry.get("StorageClass", "STANDARD"),
                }
            )
    env.stack.append(items)


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).isoformat()


def _eval_job(self: Any, env: Any, job: Any) -> None:
    """moto's DistributedItemProcessorWorker._eval_job, also recording each child's outcome."""
    record = self._map_run_record
    record.item_counter.total.count()
    record.item_counter.running.count()
    record.execution_counter.total.count()
    record.execution_counter.running.count()
    child: dict[str, Any] = {"index": job.job_index, "input": None, "start": _now()}
    job_output = None
    try:
        env.states.context_object.context_object_data["Map"] = MapData(
            Item=ItemData(Index=job.job_index, Value=job.job_input)
        )
        if isinstance(job.job_input, dict) and _BATCH in job.job_input:
            _eval_batch_input(self, env, job.job_input)
        else:
            env.states.reset(job.job_input)
            env.stack.append(env.states.get_input())
            self._eval_input(env_frame=env)
        child["input"] = copy.deepcopy(env.states.get_input())
        job.job_program.eval(env)
        end_state = env.program_state()
        if isinstance(end_state, ProgramError):
            record.execution_counter.failed.count()
            record.item_counter.failed.count()
            details = end_state.error or {}
            child.update(status="FAILED", error=details.get("error"), cause=details.get("cause"))
        elif isinstance(end_state, ProgramStopped):
            record.execution_counter.aborted.count()
            record.item_counter.aborted.count()
            child.update(status="ABORTED", error="States.Aborted", cause="")
        else:
            record.item_counter.succeeded.count()
            record.item_counter.results_written.count()
            record.execution_counter.succeeded.count()
            record.execution_counter.results_written.count()
            record.execution_counter.running.offset(-1)
            job_output = env.states.get_input()
            child.update(status="SUCCEEDED", output=copy.deepcopy(job_output))
    except EvalTimeoutError:
        record.item_counter.timed_out.count()
        child.update(status="TIMED_OUT", error="States.Timeout", cause="")
    except FailureEventException as failure:
        record.item_counter.failed.count()
        error, cause = failure.extract_error_cause_pair() or (None, None)
        child.update(status="FAILED", error=error, cause=cause)
    except Exception as error:  # moto's own failure: surfaces as a failed child, as in moto
        record.item_counter.failed.count()
        child.update(status="FAILED", error=type(error).__name__, cause=str(error))
    finally:
        record.item_counter.running.offset(-1)
        job.job_output = job_output
        child["stop"] = _now()
        with _CHILDREN_LOCK:
            record.__dict__.setdefault(_CHILDREN, []).append(child)


def _children(record: Any) -> list[dict[str, Any]]:
    with _CHILDREN_LOCK:
        return sorted(record.__dict__.get(_CHILDREN, []), key=lambda child: child["index"])


def tolerance_exceeded(failed: int, total: int, count: float, percentage: float) -> bool:
    """AWS: a Map Run fails when failures exceed a set threshold (none set: any failure).

    A threshold left at its default (0) is not set; with both set, breaching either fails.
    """
    if failed == 0:
        return False
    checks = []
    if count:
        checks.append(failed > count)
    if percentage:
        checks.append(100.0 * failed / total > percentage)
    return any(checks) if checks else True


def _label(map_run_arn: str) -> str:
    """arn:aws:states:<region>:<account>:mapRun:<state machine>/<label>:<id> -> label."""
    return map_run_arn.rsplit(":", 1)[0].rsplit("/", 1)[-1]


def _eval_batch_input(worker: Any, env: Any, batch: dict[str, Any]) -> None:
    """A child's input as AWS builds it with an ItemBatcher: ``{"Items": [each item through the
    ItemSelector], "BatchInput": <BatchInput against the Map's input>}``."""
    items = []
    for index, raw in batch[_BATCH]:
        env.states.context_object.context_object_data["Map"] = MapData(
            Item=ItemData(Index=index, Value=raw)
        )
        env.states.reset(raw)
        env.stack.append(env.states.get_input())
        worker._eval_input(env_frame=env)
        items.append(copy.deepcopy(env.states.get_input()))
        env.stack.pop()
    map_input = worker._env.stack[-1]
    context = env.states.context_object.context_object_data
    child_input = {
        "Items": items,
        "BatchInput": _evaluate(batch["BatchInput"], map_input, context),
    }
    env.states.reset(child_input)
    env.stack.append(child_input)


def _evaluate(template: Any, state_input: Any, context: Any) -> Any:
    """A payload template (``"key.$": "$.path"`` or ``"$$.path"``) of plain paths only."""
    if isinstance(template, list):
        return [_evaluate(item, state_input, context) for item in template]
    if not isinstance(template, Mapping):
        return template
    result = {}
    for key, value in template.items():
        if key.endswith(".$"):
            root, path = (
                (context, value[2:]) if value.startswith("$$") else (state_input, value[1:])
            )
            if not all(part.isidentifier() for part in path.strip(".").split(".")):
                raise NotImplementedError(f"harness: BatchInput path {value!r}")
            for part in path.strip(".").split("."):
                root = root[part]
            result[key[:-2]] = copy.deepcopy(root)
        else:
            result[key] = _evaluate(value, state_input, context)
    return result


def _map_run_with_tolerance(original: Callable[..., None]) -> Callable[..., None]:
    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        batcher = ITEM_BATCHERS.get(_label(eval_input.map_run_record.map_run_arn))
        if batcher is not None:
            items = env.stack.pop()
            size = int(batcher["MaxItemsPerBatch"])
            env.stack.append(
                [
                    {
                        _BATCH: list(enumerate(items))[start : start + size],
                        "BatchInput": batcher.get("BatchInput", {}),
                    }
                    for start in range(0, len(items), size)
                ]
            )
        original(self, env, eval_input)
        children = _children(eval_input.map_run_record)
        failed = sum(1 for child in children if child["status"] != "SUCCEEDED")
        if tolerance_exceeded(
            failed,
            len(children),
            eval_input.tolerated_failure_count or 0,
            eval_input.tolerated_failure_percentage or 0,
        ):
            env.stack.pop()  # the outputs the original pushed
            error = StatesErrorNameType.StatesExceedToleratedFailureThreshold
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=error),
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(
                        mapRunFailedEventDetails=MapRunFailedEventDetails(
                            error=error.to_name(), cause=EXCEEDED_CAUSE
                        )
                    ),
                )
            )

    return map_run


def _results_written_on_tolerance_failure(original: Callable[..., None]) -> Callable[..., None]:
    """A Map state that, failing for its tolerated failures, still writes its ResultWriter
    files (and then fails, without output)."""

    def eval_execution(self: Any, env: Any) -> None:
        try:
            original(self, env)
        except FailureEventException as failure:
            error, _ = failure.extract_error_cause_pair() or (None, None)
            exceeded = StatesErrorNameType.StatesExceedToleratedFailureThreshold.to_name()
            if self.result_writer is None or error != exceeded:
                raise
            env.stack.append([])  # the Map's results, which the writer replaces by files
            self.result_writer.eval(env)
            env.stack.pop()  # the manifest's location: a failed Map has no output
            raise

    return eval_execution


def _write_results(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """ResultWriter: the manifest and one file per status, as AWS documents (NONE, JSON)."""
    parameters = env.stack.pop()
    env.stack.pop()  # the Map's results: written to S3 instead
    s3 = boto_client_for(
        region=resource_runtime_part.region, service="s3", state_credentials=state_credentials
    )
    record = env.map_run_record_pool_manager.get_all()[-1]
    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    folder = f"{prefix}{record.map_run_arn.split(':')[-1]}/"
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    children = _children(record)
    for status, members in (
        ("SUCCEEDED", {"SUCCEEDED"}),
        ("FAILED", {"FAILED", "TIMED_OUT", "ABORTED"}),
    ):
        entries = [_result_entry(record, c) for c in children if c["status"] in members]
        if entries:
            key = f"{folder}{status}_0.json"
            body = json.dumps(entries, indent=2).encode()
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[status].append({"Key": key, "Size": len(body)})
    manifest_key = f"{folder}manifest.json"
    manifest = {"DestinationBucket": bucket, "MapRunArn": record.map_run_arn, "ResultFiles": files}
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest, indent=2).encode())
    env.stack.append(
        {
            "MapRunArn": record.map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
        }
    )


def _result_entry(record: Any, child: dict[str, Any]) -> dict[str, Any]:
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{record.map_run_arn}/{child['index']}"))
    entry: dict[str, Any] = {
        "ExecutionArn": f"{record.map_state_machine_arn}:{name}".replace(
            ":stateMachine:", ":execution:", 1
        ),
        "Input": json.dumps(child["input"]),
        "InputDetails": {"Included": True},
        "Name": name,
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "StartDate": child["start"],
        "StateMachineArn": record.map_state_machine_arn,
        "Status": child["status"],
        "StopDate": child["stop"],
    }
    if child["status"] == "SUCCEEDED":
        entry.update(Output=json.dumps(child["output"]), OutputDetails={"Included": True})
    else:
        entry.update(Error=child.get("error"), Cause=child.get("cause"))
    return entry


def history_paging_patch() -> Any:
    """GetExecutionHistory as AWS answers it: ``reverseOrder`` (newest first) and ``maxResults``.

    moto 5.2.5 ignores both and always returns every event oldest first; the execution-status
    notifier reads only the newest page of a failed run's history.
    """
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.get_execution_history

    def get_execution_history(self: Any) -> Any:
        answer = original(self).result
        events = list(answer["events"])
        if self._get_param("reverseOrder"):
            events.reverse()
        limit = self._get_param("maxResults")
        if limit:
            events = events[: int(limit)]
        return ActionResult({**answer, "events": events})

    return mock.patch.object(StepFunctionResponse, "get_execution_history", get_execution_history)
