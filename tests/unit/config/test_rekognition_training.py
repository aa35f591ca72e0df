"""Rekognition training: history and timeout budget of the worst path."""

from __future__ import annotations

import pytest

from stacks.config import (
    EVENTS_OUTSIDE_LOOPS,
    EVENTS_PER_POLL,
    HISTORY_BUDGET,
    MAX_PROJECT_DATASETS,
    PROJECT_LOOKUP_MAX_PAGES,
    ConfigError,
    deep_merge,
    load_environment,
)
from tests.conftest import ENVIRONMENTS
from tests.unit.config.support import (
    Context,
)

# --------------------------------------------------------------------------------------------
# Rekognition training: history and timeout budget of the worst path
# --------------------------------------------------------------------------------------------


def test_the_worst_path_counts_every_loop_it_can_run(context_copy: Context) -> None:
    """Project pages, the deletion of both old datasets, TRAIN, TEST, the two split polls,
    training and starting: each can run, each to its deadline, in one execution."""
    training = load_environment(context_copy, "dev").rekognition_training
    loops = {loop.name: loop for loop in training.worst_path_loops}

    assert set(loops) == {
        "ProjectPages",
        "DatasetDeleted",
        "TrainDataset",
        "TestDataset",
        "SplitTrainDataset",
        "SplitTestDataset",
        "Training",
        "Start",
    }
    deletion = loops["DatasetDeleted"]
    assert (deletion.runs, deletion.concurrent) == (MAX_PROJECT_DATASETS, MAX_PROJECT_DATASETS)
    assert loops["ProjectPages"].max_polls == PROJECT_LOOKUP_MAX_PAGES
    polls = sum(loop.max_polls * loop.runs for loop in loops.values())
    assert training.worst_path_history_events == polls * EVENTS_PER_POLL + EVENTS_OUTSIDE_LOOPS


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_shipped_worst_path_stays_under_half_the_history_quota(
    context_copy: Context, env: str
) -> None:
    training = load_environment(context_copy, env).rekognition_training

    assert training.worst_path_history_events <= HISTORY_BUDGET == 25_000 // 2


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_execution_timeout_exceeds_every_deadline_of_the_worst_path(
    context_copy: Context, env: str
) -> None:
    training = load_environment(context_copy, env).rekognition_training
    deadlines_minutes = (
        training.dataset_deadline_minutes  # both old datasets, deleted side by side
        + 4 * training.dataset_deadline_minutes  # TRAIN, TEST, split TRAIN, split TEST
        + training.training_deadline_hours * 60
        + training.start_deadline_minutes
    )

    assert training.execution_timeout_minutes >= deadlines_minutes + 60


def test_a_worst_path_over_half_the_quota_is_refused(context_copy: Context) -> None:
    """30 s dataset polls for 2 hours passed the old check (two dataset loops counted) but make
    ~23,800 events on the automatic-split path with old datasets to delete."""
    context = deep_merge(
        context_copy,
        {"environments": {"dev": {"rekognition_training": {"dataset_poll_seconds": 30}}}},
    )

    with pytest.raises(ConfigError) as raised:
        load_environment(context, "dev")

    assert raised.value.key == "environments.dev.rekognition_training.dataset_poll_seconds"
    assert "history events" in raised.value.problem
    assert "half of Step Functions' 25,000-event quota" in raised.value.problem
