"""Did a failed run already notify? Read from the end of its execution history.

Every workflow's failure path publishes its notification in one state
(``FAILURE_NOTIFICATION_STATE``, ``NotifyFailure``) and then fails. If that state was entered
and a task succeeded after it, the notification went out, and the execution-status rule must
not send a second one. If the publish failed (it is caught, so the original error still fails
the run), or the run failed somewhere no Catch reaches, no ``TaskSucceeded`` follows the state's
entry, and this notifier is the only one to tell anyone.

GetExecutionHistory with ``reverseOrder`` returns the newest events first; the notify step is
among the last few events of a failed run (entered, scheduled, started, succeeded, exited, fail
state entered, execution failed), so one page of :data:`PAGE_SIZE` events is enough. Anything
that prevents an answer (the history is gone, access denied, throttling) answers "not known",
and the caller notifies: a duplicate is better than a gap.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

PAGE_SIZE = 25


def already_notified(states: Any, execution_arn: str, state_name: str) -> bool | None:
    """True: the run's own failure notification was sent; False: it was not; None: unknown."""
    try:
        events = states.get_execution_history(
            executionArn=execution_arn,
            reverseOrder=True,
            maxResults=PAGE_SIZE,
            includeExecutionData=False,
        )["events"]
    except (ClientError, BotoCoreError):
        return None
    succeeded_since = False
    for event in events:  # newest first
        kind = event.get("type")
        if kind == "TaskSucceeded":
            succeeded_since = True
        elif kind == "TaskStateEntered":
            entered = event.get("stateEnteredEventDetails", {}).get("name")
            if entered == state_name:
                return succeeded_since
            # The run's last task was another one: it failed without reaching the notify step.
            return False
    return False if len(events) < PAGE_SIZE else None
