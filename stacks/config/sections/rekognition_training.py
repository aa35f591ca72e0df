"""The ``rekognition_training`` section: polling, deadlines, triggers, and the history budget.

The longest run, every loop to its deadline, must stay within half of Step Functions'
25,000-event execution history (``HISTORY_BUDGET``); a run over it is refused here, naming the
setting that polls most. Trigger prefixes and keys are written as S3 keys are (no ``s3://``, no
leading ``/``), and a schedule goes with the manifest it trains on.
"""

from __future__ import annotations

from stacks.config.limits import HISTORY_BUDGET, HISTORY_QUOTA
from stacks.config.reading import _INPUT_PREFIX, _PREFIX_HINT, _Reader
from stacks.config.schema import ConfigError, RekognitionTrainingConfig


def _rekognition_training(reader: _Reader) -> RekognitionTrainingConfig:
    triggers = reader.child("triggers")
    config = RekognitionTrainingConfig(
        dataset_poll_seconds=reader.integer("dataset_poll_seconds", 10, 600),
        dataset_deadline_minutes=reader.integer("dataset_deadline_minutes", 5, 24 * 60),
        training_poll_minutes=reader.integer("training_poll_minutes", 1, 60),
        training_deadline_hours=reader.integer("training_deadline_hours", 1, 72),
        start_poll_seconds=reader.integer("start_poll_seconds", 10, 600),
        start_deadline_minutes=reader.integer("start_deadline_minutes", 5, 180),
        stop_previous_version=reader.boolean("stop_previous_version"),
        trigger_manifest_prefix=_key_prefix(triggers, "manifest_prefix"),
        trigger_schedule=triggers.optional_schedule("schedule"),
        scheduled_manifest_key=triggers.optional_object_key(
            "scheduled_manifest_key", "training/manifests/latest.manifest"
        ),
    )
    triggers.reject_unknown()
    reader.reject_unknown()
    if (config.trigger_schedule is None) != (config.scheduled_manifest_key is None):
        raise ConfigError(
            triggers.key("scheduled_manifest_key"),
            "schedule and scheduled_manifest_key go together: a scheduled run trains on that "
            "manifest of the data bucket",
        )
    events = config.worst_path_history_events
    if events > HISTORY_BUDGET:
        loops = config.worst_path_loops
        by_setting = {
            "dataset_poll_seconds": sum(
                loop.polls for loop in loops if loop.name.endswith(("Dataset", "Deleted"))
            ),
            "training_poll_minutes": config.training_max_polls,
            "start_poll_seconds": config.start_max_polls,
        }
        largest = max(by_setting, key=lambda name: by_setting[name])
        spelled = ", ".join(f"{name}: {polls} polls" for name, polls in by_setting.items())
        raise ConfigError(
            reader.key(largest),
            f"the longest run (existing datasets replaced, automatic split, every loop to its "
            f"deadline) would make ~{events} history events ({spelled}), over half of Step "
            f"Functions' {HISTORY_QUOTA:,}-event quota; poll less often or shorten the deadlines",
        )
    return config


def _key_prefix(reader: _Reader, name: str) -> str | None:
    """An optional key prefix of the data bucket, written as S3 keys are (no leading '/')."""
    value = reader.optional_value(name)
    if isinstance(value, str) and value.startswith(("s3://", "/")):
        raise ConfigError(
            reader.key(name),
            f"give the prefix as a key within the bucket, such as 'training/manifests/' "
            f"(S3 keys have no leading '/' and no s3:// scheme), got {value!r}",
        )
    return reader.optional_string(name, _INPUT_PREFIX, _PREFIX_HINT)
