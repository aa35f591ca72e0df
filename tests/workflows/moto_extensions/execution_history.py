"""GetExecutionHistory as AWS pages it (moto's response layer ignores order and page size)."""

from __future__ import annotations

from typing import Any
from unittest import mock


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
