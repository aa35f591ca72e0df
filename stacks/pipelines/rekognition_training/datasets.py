"""Step 3 of the workflow: replace (or keep) the project's TRAIN and TEST datasets.

``DeleteOldDatasets`` (a Map, the old datasets side by side, each polled until gone), then
``CreateTrainDataset`` and ``CreateTestDataset`` from the request's sources, or an empty TEST
dataset and ``SplitTrainingData`` (the automatic split), each polled until complete; or
``UseExistingDatasets``. Both paths end where ``CreateVersion`` follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn

from stacks.config import MAX_PROJECT_DATASETS
from stacks.pipelines.rekognition_training.polling import (
    _poll_dataset,
    _poll_until_gone,
    _Scope,
    _sdk,
)
from stacks.pipelines.rekognition_training.statuses import DATASET_CREATE, DATASET_SPLIT


@dataclass(frozen=True)
class _DatasetStates:
    start: sfn.IChainable
    existing: sfn.Pass
    ready: sfn.Pass


def _datasets(scope: _Scope, poll_seconds: int, max_polls: int) -> _DatasetStates:
    """Replace (or keep) the project's datasets; ``ready`` continues once both are usable."""
    guard = scope.guard
    interval = Duration.seconds(poll_seconds)
    delete_one = _sdk(
        scope,
        "DeleteDataset",
        "deleteDataset",
        {"DatasetArn.$": "$.arn"},
        result_path=sfn.JsonPath.DISCARD,
        catch=False,
    )
    gone = sfn.Succeed(scope.construct, "DatasetDeleted")
    deletion_wait = _poll_until_gone(scope, interval, max_polls, gone)
    delete_one.next(deletion_wait)
    delete_old = sfn.Map(
        scope.construct,
        "DeleteOldDatasets",
        items_path="$.project.datasets",
        item_selector={"arn.$": "$$.Map.Item.Value", "polls": 0},
        # All of them side by side: the timeout counts one deletion deadline.
        max_concurrency=MAX_PROJECT_DATASETS,
        result_path=sfn.JsonPath.DISCARD,
    )
    delete_old.item_processor(delete_one)
    guard.catch_all(delete_old)

    def create(name: str, dataset_type: str, source_path: str | None) -> sfn.TaskStateBase:
        parameters: dict[str, Any] = {
            "ProjectArn.$": "$.project.arn",
            "DatasetType": dataset_type,
        }
        if source_path is not None:
            parameters["DatasetSource.$"] = source_path
        return _sdk(
            scope,
            name,
            "createDataset",
            parameters,
            result_selector={"arn.$": "$.DatasetArn"},
            result_path=f"$.{dataset_type.lower()}_dataset",
        )

    create_train = create("CreateTrainDataset", "TRAIN", "$.job.datasets.train_source")
    create_test = create("CreateTestDataset", "TEST", "$.job.datasets.test_source")
    create_empty_test = create("CreateEmptyTestDataset", "TEST", None)
    ready = sfn.Pass(scope.construct, "DatasetsReady")

    distribute = _sdk(
        scope,
        "SplitTrainingData",
        "distributeDatasetEntries",
        {
            "Datasets": [
                {"Arn.$": "$.train_dataset.arn"},
                {"Arn.$": "$.test_dataset.arn"},
            ]
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    split_done = _poll_dataset(
        scope, "SplitTest", "$.test_dataset.arn", interval, max_polls, DATASET_SPLIT, ready
    )
    distribute.next(
        _poll_dataset(
            scope,
            "SplitTrain",
            "$.train_dataset.arn",
            interval,
            max_polls,
            DATASET_SPLIT,
            split_done,
        )
    )
    after_created = (
        sfn.Choice(scope.construct, "SplitNeeded?")
        .when(sfn.Condition.string_equals("$.job.datasets.test_mode", "auto_split"), distribute)
        .otherwise(ready)
    )
    test_done = _poll_dataset(
        scope, "Test", "$.test_dataset.arn", interval, max_polls, DATASET_CREATE, after_created
    )
    train_done = _poll_dataset(
        scope, "Train", "$.train_dataset.arn", interval, max_polls, DATASET_CREATE, test_done
    )
    create_test.next(train_done)
    create_empty_test.next(train_done)
    create_train.next(
        sfn.Choice(scope.construct, "TestSource?")
        .when(sfn.Condition.string_equals("$.job.datasets.test_mode", "source"), create_test)
        .otherwise(create_empty_test)
    )
    delete_old.next(create_train)
    existing = sfn.Pass(scope.construct, "UseExistingDatasets")
    start = (
        sfn.Choice(scope.construct, "DatasetMode?")
        .when(sfn.Condition.string_equals("$.job.datasets.mode", "existing"), existing)
        .when(sfn.Condition.is_present("$.project.datasets[0]"), delete_old)
        .otherwise(create_train)
    )
    return _DatasetStates(start=start, existing=existing, ready=ready)
