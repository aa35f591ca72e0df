"""Every status the Rekognition service model documents is classified for every poll.

The enums come from botocore's service model (the independent contract), not from our table:
when AWS adds a status and botocore is upgraded, these tests fail until the status is classified.
"""

from __future__ import annotations

import botocore.session
import pytest

from stacks.pipelines.rekognition_training.statuses import (
    COPY,
    DATASET_CREATE,
    DATASET_SPLIT,
    DATASET_STATUS_SHAPE,
    START,
    STATUS_POLLS,
    TRAINING,
    VERSION_STATUS_SHAPE,
    Progress,
    StatusPoll,
)

SERVICE_MODEL = botocore.session.get_session().get_service_model("rekognition")


def documented(shape: str) -> list[str]:
    return list(SERVICE_MODEL.shape_for(shape).enum)


@pytest.mark.parametrize("poll", STATUS_POLLS, ids=lambda poll: poll.name)
def test_every_documented_status_is_classified_exactly_once(poll: StatusPoll) -> None:
    enum = documented(poll.shape)
    assert enum, f"botocore documents no {poll.shape} values"
    missing = sorted(set(enum) - set(poll.classification))
    unknown = sorted(set(poll.classification) - set(enum))
    assert not missing, f"{poll.name}: classify the new {poll.shape} values {missing}"
    assert not unknown, f"{poll.name}: {unknown} are not {poll.shape} values (typo?)"
    assert all(isinstance(progress, Progress) for progress in poll.classification.values())


def test_the_polls_read_the_shapes_of_their_apis() -> None:
    """DescribeProjectVersions reports version statuses, DescribeDataset dataset statuses."""
    version = SERVICE_MODEL.shape_for("ProjectVersionDescription").members["Status"]
    dataset = SERVICE_MODEL.shape_for("DatasetDescription").members["Status"]
    assert version.name == VERSION_STATUS_SHAPE
    assert dataset.name == DATASET_STATUS_SHAPE
    assert {TRAINING.shape, START.shape, COPY.shape} == {VERSION_STATUS_SHAPE}
    assert {DATASET_CREATE.shape, DATASET_SPLIT.shape} == {DATASET_STATUS_SHAPE}


@pytest.mark.parametrize(
    ("poll", "done"),
    [
        (TRAINING, {"TRAINING_COMPLETED"}),
        (START, {"RUNNING"}),
        (COPY, {"COPYING_COMPLETED"}),
        (DATASET_CREATE, {"CREATE_COMPLETE", "UPDATE_COMPLETE"}),
        (DATASET_SPLIT, {"UPDATE_COMPLETE"}),
    ],
    ids=lambda value: value.name if isinstance(value, StatusPoll) else "",
)
def test_each_poll_is_done_only_at_its_goal(poll: StatusPoll, done: set[str]) -> None:
    assert set(poll.having(Progress.DONE)) == done
    assert poll.having(Progress.WORKING), f"{poll.name} never polls again"


@pytest.mark.parametrize(
    ("poll", "status"),
    [
        # Found by scenarios: each was polled until the deadline (26 h, 45 min, 2 h).
        (TRAINING, "DEPRECATED"),
        (TRAINING, "EXPIRED"),
        (TRAINING, "STOPPED"),
        (START, "STOPPED"),
        (START, "STOPPING"),
        (DATASET_CREATE, "DELETE_IN_PROGRESS"),
        (DATASET_SPLIT, "DELETE_IN_PROGRESS"),
        # Statuses from which the poll's goal cannot be reached.
        (TRAINING, "TRAINING_FAILED"),
        (START, "FAILED"),
        (COPY, "COPYING_FAILED"),
        (COPY, "DELETING"),
        (COPY, "EXPIRED"),
        (DATASET_CREATE, "CREATE_FAILED"),
        (DATASET_SPLIT, "UPDATE_FAILED"),
    ],
    ids=lambda value: value.name if isinstance(value, StatusPoll) else value,
)
def test_statuses_that_cannot_reach_the_goal_fail_at_once(poll: StatusPoll, status: str) -> None:
    assert poll.classification[status] is Progress.FAILED


def test_a_copied_version_being_started_is_polled_again() -> None:
    """A promoted version is COPYING_COMPLETED until its start becomes visible: the start poll
    looks again (within its deadline) instead of failing a start that is under way."""
    assert START.classification["COPYING_COMPLETED"] is Progress.WORKING
    assert COPY.having(Progress.WORKING) == ("COPYING_IN_PROGRESS",)
