"""The ``relabel`` section: human review of low-confidence images feeding the next training.

Checks what Ground Truth or EventBridge would refuse only at run or deploy time: a workteam ARN
that is not a private workforce's, task limits outside CreateLabelingJob's ranges, schedule
expressions, and a wait whose polls would outgrow half of Step Functions' execution history.
"""

from __future__ import annotations

import re

from stacks.config.limits import EVENTS_PER_POLL, HISTORY_BUDGET, HISTORY_QUOTA
from stacks.config.reading import _INPUT_PREFIX, _PREFIX_HINT, _Reader
from stacks.config.schema import ConfigError, RelabelConfig

#: botocore's WorkteamArn pattern, narrowed to private workforces (the only kind the
#: workflow uses: review images stay inside the account's own workforce).
WORKTEAM_ARN = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:workteam/private-crowd/.+"
)
_LABEL = re.compile(r"[^\s].{0,254}")
#: CreateLabelingJob HumanTaskConfig ranges (botocore's model of the SageMaker API).
TASK_TIME_LIMIT_RANGE = (30, 28_800)
#: TaskAvailabilityLifetimeInSeconds of a private workforce: up to 10 days (864,000 s).
MAX_TASK_AVAILABILITY_HOURS = 240
MAX_WORKERS_PER_IMAGE = 9
#: LabelCategoryConfig of the built-in image classification: 2 to 30 categories.
LABEL_COUNT_RANGE = (2, 30)
#: History events of the longest run outside its wait (collect, create, merge, start, notify,
#: retries); each poll of the wait adds at most EVENTS_PER_POLL, like the training workflow's
#: (Wait, describe Task, status Choice, count Pass, deadline Choice). Measured by
#: tests/workflows/test_relabel.py on the expired run.
RELABEL_EVENTS_OUTSIDE_LOOP = 200


def _relabel(reader: _Reader, class_names: tuple[str, ...]) -> RelabelConfig:
    workteam = reader.optional_string(
        "workteam_arn",
        WORKTEAM_ARN,
        "must be a private workteam ARN, arn:aws:sagemaker:<region>:<account>:workteam/"
        "private-crowd/<name>",
    )
    labels_value = reader.optional_value("labels")
    labels = (
        class_names
        if labels_value is None
        else reader.string_list("labels", _LABEL, "must be a label of 1-255 characters")
    )
    low, high = LABEL_COUNT_RANGE
    if not low <= len(labels) <= high:
        raise ConfigError(
            reader.key("labels"),
            f"Ground Truth image classification takes {low}-{high} categories, got {len(labels)}",
        )
    config = RelabelConfig(
        workteam_arn=workteam,
        labels=labels,
        schedule=reader.optional_schedule("schedule"),
        pending_threshold=_optional_integer(reader, "pending_threshold", 1, 100_000),
        threshold_check_schedule=reader.optional_schedule("threshold_check_schedule"),
        max_images_per_job=reader.integer("max_images_per_job", 1, 10_000),
        workers_per_image=reader.integer("workers_per_image", 1, MAX_WORKERS_PER_IMAGE),
        task_time_limit_seconds=reader.integer("task_time_limit_seconds", *TASK_TIME_LIMIT_RANGE),
        task_availability_hours=reader.integer(
            "task_availability_hours", 1, MAX_TASK_AVAILABILITY_HOURS
        ),
        poll_minutes=reader.integer("poll_minutes", 1, 240),
        manifest_prefix=reader.string("manifest_prefix", _INPUT_PREFIX, _PREFIX_HINT),
        base_manifest_key=reader.optional_object_key(
            "base_manifest_key", "training/manifests/base.manifest"
        ),
        sample_confident_share=_share(reader, "sample_confident_share"),
    )
    reader.reject_unknown()
    if config.task_time_limit_seconds > config.task_availability_hours * 3600:
        raise ConfigError(
            reader.key("task_time_limit_seconds"),
            "a task cannot take longer than it stays available (task_availability_hours)",
        )
    if (config.schedule or config.threshold_check_schedule) and config.workteam_arn is None:
        raise ConfigError(
            reader.key("workteam_arn"),
            "a scheduled or threshold relabel needs a private workteam ARN to send the images to",
        )
    if (config.pending_threshold is None) != (config.threshold_check_schedule is None):
        raise ConfigError(
            reader.key("threshold_check_schedule"),
            "pending_threshold and threshold_check_schedule go together: the check runs on "
            "that schedule and starts a job once pending reviews reach the threshold",
        )
    events = config.max_polls * EVENTS_PER_POLL + RELABEL_EVENTS_OUTSIDE_LOOP
    if events > HISTORY_BUDGET:
        raise ConfigError(
            reader.key("poll_minutes"),
            f"waiting {config.wait_deadline_hours} h polling every {config.poll_minutes} min "
            f"makes ~{events} history events, over half of Step Functions' {HISTORY_QUOTA:,}"
            "-event quota; poll less often",
        )
    return config


def _optional_integer(reader: _Reader, name: str, minimum: int, maximum: int) -> int | None:
    if reader.optional_value(name) is None:
        return None
    return reader.integer(name, minimum, maximum)


def _share(reader: _Reader, name: str) -> float:
    share = reader.fraction(name)
    assert share is not None  # required
    if share > 0.5:
        raise ConfigError(
            reader.key(name),
            f"at most half of the confident predictions can be sampled for review, got {share}",
        )
    return share
