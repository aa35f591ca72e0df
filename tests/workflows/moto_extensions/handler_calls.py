"""The AWS calls Lambda handlers make, answered by the scripts of the local runner.

A call made by a handler (or by a thread the handler runs in a copy of its context) is answered
by the script of its ``service.Operation`` when one exists (moto answers the rest), after
botocore's parameter validation; streaming payloads (an endpoint's ``Body``) come back as
``StreamingBody``. Calls are recorded in ``WorkflowRun.handler_calls``. Handlers run one at a
time: they share ``os.environ``.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.validate import validate_parameters

if TYPE_CHECKING:
    from tests.workflows.harness import LocalWorkflow

#: Handlers share os.environ (the harness patches it per invocation): run them one at a time.
HANDLER_LOCK = threading.RLock()
#: Whether the current code runs inside a Lambda handler: a context variable, so threads a
#: handler starts with its context (contextvars.copy_context) are inside it too.
_HANDLER: contextvars.ContextVar[bool] = contextvars.ContextVar("harness_handler", default=False)
_SCRIPT_LOCK = threading.Lock()


@contextlib.contextmanager
def handler_running() -> Iterator[None]:
    """Mark the current thread as running a Lambda handler (its AWS calls may be scripted)."""
    with HANDLER_LOCK:
        token = _HANDLER.set(True)
        try:
            yield
        finally:
            _HANDLER.reset(token)


def handler_call_patch(harness: LocalWorkflow) -> Any:
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
