"""The ``relabel`` section: defaults, each refusal in one line naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigError, load_environment
from stacks.pipelines.relabel import covered_by_trigger

WORKTEAM = "arn:aws:sagemaker:eu-west-1:111111111111:workteam/private-crowd/reviewers"


def dev(context: dict[str, Any], **relabel: Any) -> Any:
    context["environments"]["dev"]["relabel"] = relabel
    return load_environment(context, "dev")


def refusal(context: dict[str, Any], **relabel: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        dev(context, **relabel)
    return str(raised.value)


def test_defaults_label_the_sagemaker_classes_and_sample_nothing(context_copy):
    relabel = load_environment(context_copy, "dev").relabel
    assert relabel.labels == ("bicycle", "motorcycle")
    assert relabel.workteam_arn is None
    assert (relabel.schedule, relabel.pending_threshold) == (None, None)
    assert relabel.sample_confident_share == 0.0
    assert relabel.wait_deadline_hours == 73
    assert relabel.max_polls == 146
    assert relabel.execution_timeout_minutes == 73 * 60 + 60


def test_labels_schedule_threshold_and_workteam_are_read(context_copy):
    relabel = dev(
        context_copy,
        workteam_arn=WORKTEAM,
        labels=["cat", "dog", "bird"],
        schedule="cron(0 6 ? * MON *)",
        pending_threshold=200,
        threshold_check_schedule="rate(1 hour)",
        sample_confident_share=0.02,
    ).relabel
    assert relabel.labels == ("cat", "dog", "bird")
    assert relabel.workteam_arn == WORKTEAM
    assert relabel.pending_threshold == 200
    assert relabel.sample_confident_share == 0.02


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"workteam_arn": "arn:aws:sagemaker:eu-west-1:111111111111:workteam/vendor-crowd/x"},
            "relabel.workteam_arn: must be a private workteam ARN",
        ),
        ({"labels": ["only"]}, "relabel.labels: Ground Truth image classification takes 2-30"),
        ({"schedule": "rate(1 hours)"}, "relabel.schedule: write rate(1 hour)"),
        (
            {"pending_threshold": 10},
            "relabel.threshold_check_schedule: pending_threshold and threshold_check_schedule "
            "go together",
        ),
        ({"task_time_limit_seconds": 10}, "relabel.task_time_limit_seconds: must be at least 30"),
        ({"task_availability_hours": 241}, "relabel.task_availability_hours: must be at most 240"),
        (
            {"task_availability_hours": 1, "task_time_limit_seconds": 7200},
            "a task cannot take longer than it stays available",
        ),
        ({"poll_minutes": 1}, "relabel.poll_minutes: waiting 73 h polling every 1 min"),
        ({"sample_confident_share": 0.8}, "relabel.sample_confident_share: at most half"),
        (
            {"manifest_prefix": "incoming/relabel/"},
            "relabel.manifest_prefix: 'incoming/relabel/' overlaps rekognition.input_prefix",
        ),
        ({"base_manifest_key": "s3://b/x.manifest"}, "relabel.base_manifest_key: give the key"),
        (
            {"workteam": WORKTEAM},
            "relabel.workteam: is not a known setting; did you mean 'workteam_arn'?",
        ),
    ],
)
def test_mistakes_are_refused_naming_the_key(context_copy, settings, problem):
    assert problem in refusal(context_copy, **settings)


def test_a_scheduled_relabel_needs_a_workteam(context_copy):
    assert "relabel.workteam_arn: a scheduled or threshold relabel needs" in refusal(
        context_copy, schedule="rate(7 days)"
    )


def test_manifests_under_the_training_trigger_start_training_through_it(context_copy):
    context_copy["environments"]["dev"]["rekognition_training"] = {
        "triggers": {"manifest_prefix": "training/manifests/"}
    }
    assert covered_by_trigger(load_environment(context_copy, "dev"))
    context_copy["environments"]["dev"]["relabel"] = {"manifest_prefix": "relabeled/"}
    assert not covered_by_trigger(load_environment(context_copy, "dev"))
    assert not covered_by_trigger(load_environment(context_copy, "prod"))  # no trigger there
