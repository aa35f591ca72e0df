"""The ``lifecycle`` section: S3 lifecycle periods of the buckets, in days."""

from __future__ import annotations

from stacks.config.reading import _Reader
from stacks.config.schema import LifecycleConfig


def _lifecycle(reader: _Reader) -> LifecycleConfig:
    config = LifecycleConfig(
        abort_incomplete_upload_days=reader.integer("abort_incomplete_upload_days", 1),
        noncurrent_version_expiration_days=reader.integer("noncurrent_version_expiration_days", 1),
        # S3 refuses a STANDARD_IA transition earlier than 30 days after creation.
        results_transition_to_ia_days=reader.integer("results_transition_to_ia_days", 30),
        access_logs_expiration_days=reader.integer("access_logs_expiration_days", 1),
        data_capture_expiration_days=_optional_days(reader, "data_capture_expiration_days"),
        incoming_expiration_days=_optional_days(reader, "incoming_expiration_days"),
    )
    reader.reject_unknown()
    return config


def _optional_days(reader: _Reader, name: str) -> int | None:
    """An expiry in days, or ``null`` to keep the objects."""
    if reader.optional_value(name) is None:
        return None
    return reader.integer(name, 1)
