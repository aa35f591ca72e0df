"""The Distributed Map as AWS runs it (moto lists one page, has no batching, ignores tolerance).

- **ItemReader** (S3): lists every page and yields AWS's item shape (``Etag``, ``Key``,
  ``LastModified`` in epoch seconds, ``Size``, ``StorageClass``).
- **Tolerated failures**: failed child executions count against
  ``ToleratedFailurePercentage``/``ToleratedFailureCount``, and exceeding them fails the Map with
  ``States.ExceedToleratedFailureThreshold`` (moto ignores both and lets every Map succeed). All
  children run before the threshold is checked, so no child is aborted or left pending here.
- **ResultWriter**: writes ``manifest.json`` and ``SUCCEEDED_0.json``/``FAILED_0.json`` in the
  documented default format (transformation ``NONE``, JSON) instead of an empty manifest, also
  when the Map Run fails for exceeding its tolerance (AWS exports a failed run's results too:
  that is what ``PENDING`` files are for; the failed Map state has no output, so the files are
  found through ListMapRuns).
- **ItemBatcher** (moto's grammar has none): ``definitions.moto_definition`` keeps the
  definition's ``ItemBatcher`` aside by the Map's ``Label`` (:data:`ITEM_BATCHERS`); the listed
  items are grouped ``MaxItemsPerBatch`` at a time and each child gets
  ``{"Items": [every item through the ItemSelector], "BatchInput": ...}`` as AWS documents it
  (``BatchInput`` of plain ``$.`` / ``$$.`` paths against the Map's input). Tolerance, results
  and counts are per child, as on AWS.
"""

from __future__ import annotations

import copy
import datetime
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from unittest import mock

from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
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
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped
from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

#: ItemBatcher of each Distributed Map, by the Map's Label (moto's grammar has none).
ITEM_BATCHERS: dict[str, dict[str, Any]] = {}
EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"
_CHILDREN = "harness_children"
_CHILDREN_LOCK = threading.Lock()
_BATCH = "harness_batch"


def distributed_map_patches() -> list[Any]:
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
