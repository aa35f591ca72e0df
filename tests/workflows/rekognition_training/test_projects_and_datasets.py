"""Projects found or created, datasets replaced or reused, and every status that ends a run."""

from __future__ import annotations

import pytest

from stacks.config import (
    PROJECT_LOOKUP_MAX_PAGES,
)
from tests.workflows.rekognition_training.support import (
    DATA_BUCKET,
    PROJECT,
    PROJECT_ARN,
    TRAIN_INPUT,
    Rekognition,
    assert_failure_notified,
    dataset_arn,
    debug_run,
    notifications,
    put_evaluation,
)


def test_existing_project_is_reused_and_its_old_datasets_replaced(workflow, tmp_path):
    version = "v-reuse"
    rekognition = Rekognition(workflow, version=version)
    old = (dataset_arn("train") + "-old", dataset_arn("test") + "-old")
    for arn in old:
        rekognition.dataset_statuses[arn] = ["DELETE_IN_PROGRESS", "GONE"]
    rekognition.install(existing_project=True, old_datasets=old)
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="reuse")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert "CreateProject" not in run.entered
    assert "UseProject" in run.entered
    assert sorted(call["DatasetArn"] for call in run.calls["rekognition.DeleteDataset"]) == sorted(
        old
    )
    # The new datasets are created in the existing project, after the old ones are gone.
    for call in run.calls["rekognition.CreateDataset"]:
        assert call["ProjectArn"] == PROJECT_ARN
    assert run.calls["rekognition.CreateProjectVersion"][0]["ProjectArn"] == PROJECT_ARN


def test_an_existing_project_on_a_later_page_is_found_and_reused(workflow, tmp_path):
    """A filtered DescribeProjects page may hold no match and a NextToken: read on."""
    version = "v-page-3"
    rekognition = Rekognition(workflow, version=version)
    old = (dataset_arn("train") + "-old",)
    rekognition.dataset_statuses[old[0]] = ["GONE"]
    rekognition.install(existing_project=True, old_datasets=old, empty_project_pages=2)
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="page-3")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert [call.get("NextToken") for call in run.calls["rekognition.DescribeProjects"]] == [
        None,
        "page-1",
        "page-2",
    ]
    assert "rekognition.CreateProject" not in run.calls
    assert run.calls["rekognition.CreateProjectVersion"][0]["ProjectArn"] == PROJECT_ARN
    # Its datasets (listed on the page that had it) are replaced.
    assert run.calls["rekognition.DeleteDataset"] == [{"DatasetArn": old[0]}]


def test_a_project_on_no_page_is_created(workflow, tmp_path):
    version = "v-new-after-pages"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install(empty_project_pages=2)
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="new-after-pages")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert len(run.calls["rekognition.DescribeProjects"]) == 3
    # Tagged: CreateProject is granted only with the workflow's ManagedBy request tag.
    assert run.calls["rekognition.CreateProject"] == [
        {
            "ProjectName": PROJECT,
            "Tags": {"Environment": "dev", "ManagedBy": "rekognition-training-workflow"},
        }
    ]


def test_the_project_lookup_is_bounded(workflow):
    Rekognition(workflow, version="v-endless").install(empty_project_pages=10_000)

    run = workflow.run({**TRAIN_INPUT, "version_name": "v-endless"}, name="endless-pages")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "ProjectLookupIncomplete"
    assert f"after {PROJECT_LOOKUP_MAX_PAGES} pages" in run.cause
    assert len(run.calls["rekognition.DescribeProjects"]) == PROJECT_LOOKUP_MAX_PAGES
    assert "rekognition.CreateProject" not in run.calls
    assert_failure_notified(run)


def test_use_existing_datasets_trains_without_touching_them(workflow, tmp_path):
    version = "v-existing"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install(existing_project=True, old_datasets=(dataset_arn("train"),))
    put_evaluation(tmp_path, version)

    run = workflow.run({"use_existing_datasets": True, "version_name": version}, name="existing")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    assert "rekognition.DeleteDataset" not in run.calls
    assert "rekognition.CreateDataset" not in run.calls


def test_dataset_create_failed_fails_with_the_status_message(workflow):
    rekognition = Rekognition(workflow, version="v-bad-data")
    rekognition.dataset_statuses[dataset_arn("train")] = ["CREATE_IN_PROGRESS", "CREATE_FAILED"]
    rekognition.install()

    run = workflow.run({**TRAIN_INPUT, "version_name": "v-bad-data"}, name="bad-data")

    assert run.status == "FAILED"
    assert run.error == "DatasetFailed"
    assert (
        "is CREATE_FAILED (expected CREATE_COMPLETE or UPDATE_COMPLETE while creating the dataset)"
        in run.cause
    )
    assert "CREATE_FAILED message" in run.cause
    assert run.entered[-3:] == ["TrainDatasetFailed", "NotifyFailure", "Failed"]
    assert "rekognition.CreateProjectVersion" not in run.calls
    (message,) = notifications(run)
    assert "DatasetFailed" in message
    assert "CREATE_FAILED message" in message


def test_training_failed_fails_with_the_status_message(workflow):
    rekognition = Rekognition(workflow, version="v-broken")
    rekognition.training_statuses = ["TRAINING_IN_PROGRESS", "TRAINING_FAILED"]
    rekognition.install()

    run = workflow.run({**TRAIN_INPUT, "version_name": "v-broken"}, name="broken")

    assert run.status == "FAILED"
    assert run.error == "TrainingFailed"
    assert "TRAINING_FAILED: scripted" in run.cause
    assert "Evaluate" not in run.entered
    assert "rekognition.StartProjectVersion" not in run.calls


@pytest.mark.parametrize("status", ["DEPRECATED", "EXPIRED", "STOPPED", "DELETING"])
def test_training_ending_in_any_terminal_status_fails_at_once(workflow, status):
    """Not only TRAINING_FAILED: every status from which training cannot complete."""
    version = f"v-{status.lower()}"
    rekognition = Rekognition(workflow, version=version)
    rekognition.training_statuses = ["TRAINING_IN_PROGRESS", status]
    rekognition.install()

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name=f"training-{status}")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "TrainingFailed"
    assert f"is {status} (expected TRAINING_COMPLETED while training)" in run.cause
    assert f"{status}: scripted" in run.cause  # the service's StatusMessage
    # Failed on the poll that saw it: no further poll.
    assert len(run.calls["rekognition.DescribeProjectVersions"]) == 2
    assert "Evaluate" not in run.entered
    assert_failure_notified(run)


@pytest.mark.parametrize("status", ["STOPPED", "STOPPING", "DEPRECATED"])
def test_a_model_stopped_while_starting_fails_at_once(workflow, tmp_path, status):
    version = f"v-start-{status.lower()}"
    rekognition = Rekognition(workflow, version=version)
    rekognition.start_statuses = ["STARTING", status]
    rekognition.install()
    put_evaluation(tmp_path, version)

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name=f"start-{status}")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "StartFailed"
    assert f"is {status} (expected RUNNING while starting)" in run.cause
    assert f"{status}: scripted" in run.cause
    training_polls = 2
    assert len(run.calls["rekognition.DescribeProjectVersions"]) == training_polls + 2
    assert "ssm.PutParameter" not in run.calls
    assert_failure_notified(run)


@pytest.mark.parametrize("dataset", ["train", "test"])
def test_a_dataset_deleted_while_being_created_fails_at_once(workflow, dataset):
    rekognition = Rekognition(workflow, version="v-deleted-data")
    rekognition.dataset_statuses[dataset_arn(dataset)] = [
        "CREATE_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
    ]
    rekognition.install()
    request = {
        **TRAIN_INPUT,
        "test_data": {"manifest_s3_uri": f"s3://{DATA_BUCKET}/manifests/test.manifest"},
        "version_name": "v-deleted-data",
    }

    run = workflow.run(request, name=f"deleted-{dataset}")

    assert run.status == "FAILED", debug_run(run)
    assert run.error == "DatasetFailed"
    assert "is DELETE_IN_PROGRESS (expected CREATE_COMPLETE or UPDATE_COMPLETE" in run.cause
    assert "DELETE_IN_PROGRESS message" in run.cause  # the service's StatusMessage
    describes = [c for c in run.calls["rekognition.DescribeDataset"] if dataset in c["DatasetArn"]]
    assert len(describes) == 2
    assert "rekognition.CreateProjectVersion" not in run.calls
    assert_failure_notified(run)


def test_the_split_waits_for_update_complete_not_the_earlier_create_complete(workflow, tmp_path):
    """Right after DistributeDatasetEntries a dataset may still read CREATE_COMPLETE."""
    version = "v-split-lag"
    rekognition = Rekognition(workflow, version=version)
    rekognition.install()
    put_evaluation(tmp_path, version)
    original = rekognition._distribute

    def lagging(params):
        answer = original(params)
        for dataset in params["Datasets"]:
            rekognition.dataset_statuses[dataset["Arn"]] = [
                "CREATE_COMPLETE",
                "UPDATE_IN_PROGRESS",
                "UPDATE_COMPLETE",
            ]
        return answer

    workflow._scripts["rekognition.DistributeDatasetEntries"] = [lagging]

    run = workflow.run({**TRAIN_INPUT, "version_name": version}, name="split-lag")

    assert run.output.get("outcome") == "DEPLOYED", debug_run(run)
    split_polls = [name for name in run.entered if name == "DescribeSplitTrainDataset"]
    assert len(split_polls) == 3
