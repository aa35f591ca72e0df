"""The training workflow's one table of SageMaker endpoint statuses, against botocore's model."""

from __future__ import annotations

import botocore.session

from stacks.pipelines.sagemaker_training.endpoint import (
    ENDPOINT_IN_SERVICE,
    ENDPOINT_ROLLED_BACK,
    ENDPOINT_STATUSES,
    EndpointPhase,
)


def botocore_endpoint_statuses() -> list[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return list(model.shape_for("EndpointStatus").enum)


def test_every_status_botocore_knows_is_classified_and_no_other():
    statuses = botocore_endpoint_statuses()
    assert statuses  # the enum is there to compare with
    assert sorted(ENDPOINT_STATUSES) == sorted(statuses)


def test_only_in_service_is_done():
    done = [s for s, meaning in ENDPOINT_STATUSES.items() if meaning.phase is EndpointPhase.DONE]
    assert done == [ENDPOINT_IN_SERVICE]


def test_failed_statuses_have_their_own_error_names_and_an_explanation():
    failed = {
        status: meaning
        for status, meaning in ENDPOINT_STATUSES.items()
        if meaning.phase is EndpointPhase.FAILED
    }
    assert {"Failed", "UpdateRollbackFailed"} <= set(failed)
    errors = [meaning.error for meaning in failed.values()]
    assert all(error and error.startswith("Endpoint") for error in errors)
    assert len(set(errors)) == len(errors)
    assert ENDPOINT_ROLLED_BACK not in errors
    assert all(meaning.explanation for meaning in failed.values())


def test_working_statuses_have_no_error_name():
    for status, meaning in ENDPOINT_STATUSES.items():
        if meaning.phase is not EndpointPhase.FAILED:
            assert meaning.error is None, status
