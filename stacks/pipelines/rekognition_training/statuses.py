"""What every status Rekognition Custom Labels reports means to each poll of the training workflow.

The workflow waits four times: for a version to train, for it to start, for a dataset to be
created, and for the training data to be split; the promotion workflow waits for a copy too.
Each poll reads one status and must either go on (``DONE``), look again (``WORKING``) or fail
the run at once with the service's status message (``FAILED``); a status it does not recognise
would otherwise be polled until the deadline (26 hours for training). This module is that
classification, once: the state machine's Choice states are built from it, and
``tests/unit/test_rekognition_statuses.py`` checks that every value of the service model's
``ProjectVersionStatus`` and ``DatasetStatus`` enums (botocore) is classified for every poll,
so a status AWS adds fails a test, not a run.

A status a *deployed* definition does not know (one AWS added after it was synthesized) is
polled again, until the poll's deadline: a bounded wait rather than failing a run that may be fine.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class Progress(enum.Enum):
    """What a status means to the poll that reads it."""

    DONE = "done"
    WORKING = "working"
    FAILED = "failed"


DONE, WORKING, FAILED = Progress.DONE, Progress.WORKING, Progress.FAILED

#: Service-model shapes whose enums the polls classify (``ProjectVersionStatus``, ...).
VERSION_STATUS_SHAPE = "ProjectVersionStatus"
DATASET_STATUS_SHAPE = "DatasetStatus"


@dataclass(frozen=True)
class StatusPoll:
    """One poll's reading of every status of ``shape``.

    ``name`` completes "while ..." and ``waits_for`` names the DONE statuses in failure causes;
    ``classification`` maps every documented status to its :class:`Progress`.
    """

    name: str
    shape: str
    waits_for: str
    classification: Mapping[str, Progress]

    def having(self, progress: Progress) -> tuple[str, ...]:
        """The statuses this poll reads as ``progress``, in the table's order."""
        return tuple(status for status, read in self.classification.items() if read is progress)


def _table(entries: dict[str, Progress]) -> Mapping[str, Progress]:
    return MappingProxyType(entries)


#: After CreateProjectVersion, until the version has trained. A version this run just created
#: is only ever TRAINING_IN_PROGRESS, then TRAINING_COMPLETED or TRAINING_FAILED; any other
#: status means someone acted on it (started, stopped, deleted it) or the service retired it
#: (DEPRECATED, EXPIRED), and the run cannot go on as planned: evaluate, gate, then start.
TRAINING = StatusPoll(
    name="training",
    shape=VERSION_STATUS_SHAPE,
    waits_for="TRAINING_COMPLETED",
    classification=_table(
        {
            "TRAINING_IN_PROGRESS": WORKING,
            "TRAINING_COMPLETED": DONE,
            "TRAINING_FAILED": FAILED,
            "STARTING": FAILED,  # started outside the workflow, before its quality gate
            "RUNNING": FAILED,
            "FAILED": FAILED,
            "STOPPING": FAILED,
            "STOPPED": FAILED,
            "DELETING": FAILED,
            "COPYING_IN_PROGRESS": FAILED,  # a copy, not the version this run trains
            "COPYING_COMPLETED": FAILED,
            "COPYING_FAILED": FAILED,
            "DEPRECATED": FAILED,
            "EXPIRED": FAILED,
        }
    ),
)

#: After StartProjectVersion, until the version serves. TRAINING_COMPLETED right after the start
#: request is the start not visible yet (eventual consistency): look again, within the deadline;
#: so is COPYING_COMPLETED, the status of a version the promotion workflow copied and started.
START = StatusPoll(
    name="starting",
    shape=VERSION_STATUS_SHAPE,
    waits_for="RUNNING",
    classification=_table(
        {
            "TRAINING_IN_PROGRESS": FAILED,
            "TRAINING_COMPLETED": WORKING,
            "TRAINING_FAILED": FAILED,
            "STARTING": WORKING,
            "RUNNING": DONE,
            "FAILED": FAILED,
            "STOPPING": FAILED,  # stopped while starting: it will not become RUNNING
            "STOPPED": FAILED,
            "DELETING": FAILED,
            "COPYING_IN_PROGRESS": FAILED,
            "COPYING_COMPLETED": WORKING,  # a copied version, its start not visible yet
            "COPYING_FAILED": FAILED,
            "DEPRECATED": FAILED,
            "EXPIRED": FAILED,
        }
    ),
)

#: After CopyProjectVersion (the promotion workflow), until the copy in this project is
#: complete. A copy is only ever COPYING_IN_PROGRESS, then COPYING_COMPLETED or COPYING_FAILED;
#: any other status means someone acted on the new version (started, stopped, deleted it) or
#: the service retired it, and the promotion cannot go on as planned.
COPY = StatusPoll(
    name="copying",
    shape=VERSION_STATUS_SHAPE,
    waits_for="COPYING_COMPLETED",
    classification=_table(
        {
            "TRAINING_IN_PROGRESS": FAILED,
            "TRAINING_COMPLETED": FAILED,
            "TRAINING_FAILED": FAILED,
            "STARTING": FAILED,  # started outside the workflow, before its approval
            "RUNNING": FAILED,
            "FAILED": FAILED,
            "STOPPING": FAILED,
            "STOPPED": FAILED,
            "DELETING": FAILED,
            "COPYING_IN_PROGRESS": WORKING,
            "COPYING_COMPLETED": DONE,
            "COPYING_FAILED": FAILED,
            "DEPRECATED": FAILED,
            "EXPIRED": FAILED,
        }
    ),
)

#: After CreateDataset, until the dataset can be trained on. DELETE_IN_PROGRESS: someone is
#: deleting it; it will never complete.
DATASET_CREATE = StatusPoll(
    name="creating the dataset",
    shape=DATASET_STATUS_SHAPE,
    waits_for="CREATE_COMPLETE or UPDATE_COMPLETE",
    classification=_table(
        {
            "CREATE_IN_PROGRESS": WORKING,
            "CREATE_COMPLETE": DONE,
            "CREATE_FAILED": FAILED,
            "UPDATE_IN_PROGRESS": WORKING,
            "UPDATE_COMPLETE": DONE,
            "UPDATE_FAILED": FAILED,
            "DELETE_IN_PROGRESS": FAILED,
        }
    ),
)

#: After DistributeDatasetEntries, until both datasets hold their share: the service documents
#: the split as complete when both are UPDATE_COMPLETE. CREATE_* right after the request is the
#: update not visible yet: look again, within the deadline.
DATASET_SPLIT = StatusPoll(
    name="splitting the training data",
    shape=DATASET_STATUS_SHAPE,
    waits_for="UPDATE_COMPLETE",
    classification=_table(
        {
            "CREATE_IN_PROGRESS": WORKING,
            "CREATE_COMPLETE": WORKING,
            "CREATE_FAILED": FAILED,
            "UPDATE_IN_PROGRESS": WORKING,
            "UPDATE_COMPLETE": DONE,
            "UPDATE_FAILED": FAILED,
            "DELETE_IN_PROGRESS": FAILED,
        }
    ),
)

#: Every poll of the workflow that reads a status (the deletion of old datasets waits for
#: ResourceNotFoundException instead: every status means it is still there).
STATUS_POLLS: tuple[StatusPoll, ...] = (TRAINING, START, COPY, DATASET_CREATE, DATASET_SPLIT)
