"""The ``promotion`` section: which environment this one takes its Rekognition models from.

``{"source_environment": "dev", "requires_approval": true, "approval_timeout_hours": 72}``
(``source_environment: null``, the default, promotes nothing). Within the section: the copy's
polling and deadline, and an approval wait that fits Step Functions' limits. Across
environments (:func:`resolve_promotions`, from ``load_all``): the source exists, is not this
environment, and is in the same region (CopyProjectVersion copies within one region); the
resolved :class:`~stacks.config.schema.PromotionSource` names what the target's stacks grant.
"""

from __future__ import annotations

import dataclasses
import math

from contracts.naming import ENVIRONMENT_NAME
from stacks.config.limits import (
    EVENTS_OUTSIDE_LOOPS,
    EVENTS_PER_POLL,
    EXECUTION_TIMEOUT_SLACK_MINUTES,
    HISTORY_BUDGET,
    MAX_STANDARD_EXECUTION_SECONDS,
    PROJECT_LOOKUP_MAX_PAGES,
)
from stacks.config.reading import _Reader
from stacks.config.schema import (
    ConfigError,
    EnvironmentConfig,
    PromotionConfig,
    PromotionReader,
    PromotionSource,
    promotion_baseline_role_name,
    promotion_reader_role_name,
)

#: The longest approval wait the configuration accepts: a Standard execution (and a task
#: token's TimeoutSeconds) lasts at most a year, and the copy and the start come after it.
MAX_APPROVAL_TIMEOUT_HOURS = MAX_STANDARD_EXECUTION_SECONDS // 3600 - 24


def _promotion(reader: _Reader) -> PromotionConfig | None:
    """The section as configured; ``None`` when ``source_environment`` is null."""
    source = reader.optional_string(
        "source_environment",
        ENVIRONMENT_NAME,
        "must be the name of another environment of cdk.json",
    )
    config = PromotionConfig(
        source_environment=source or "",
        requires_approval=reader.boolean("requires_approval"),
        approval_timeout_hours=reader.integer(
            "approval_timeout_hours", 1, MAX_APPROVAL_TIMEOUT_HOURS
        ),
        copy_poll_seconds=reader.integer("copy_poll_seconds", 10, 600),
        copy_deadline_minutes=reader.integer("copy_deadline_minutes", 5, 24 * 60),
    )
    reader.reject_unknown()
    return config if source else None


def promotion_polls(config: EnvironmentConfig) -> int:
    """Polls of the longest promotion run: project pages, the copy, the start."""
    assert config.promotion is not None
    return (
        PROJECT_LOOKUP_MAX_PAGES
        + config.promotion.copy_max_polls
        + config.rekognition_training.start_max_polls
    )


def promotion_timeout_minutes(config: EnvironmentConfig) -> int:
    """The promotion workflow's execution timeout: the approval wait, the copy's and the
    start's deadlines, plus slack for the Lambdas and SDK calls."""
    promotion = config.promotion
    assert promotion is not None
    training = config.rekognition_training
    waits = (
        promotion.approval_timeout_seconds
        + promotion.copy_poll_seconds * promotion.copy_max_polls
        + training.start_poll_seconds * training.start_max_polls
    )
    return math.ceil(waits / 60) + EXECUTION_TIMEOUT_SLACK_MINUTES


def resolve_promotions(configs: list[EnvironmentConfig]) -> list[EnvironmentConfig]:
    """Each environment with its promotion's source resolved; refuses a source that does not
    exist, is the environment itself, sits in another region, or a run over the limits."""
    by_name = {config.name: config for config in configs}
    resolved = []
    for config in configs:
        promotion = config.promotion
        if promotion is None:
            resolved.append(config)
            continue
        key = f"environments.{config.name}.promotion"
        name = promotion.source_environment
        if name == config.name:
            raise ConfigError(
                f"{key}.source_environment",
                f"an environment cannot promote from itself ({name!r}); name the environment "
                "whose trained and gated versions this one takes, e.g. dev",
            )
        source = by_name.get(name)
        if source is None:
            raise ConfigError(
                f"{key}.source_environment",
                f"{name!r} is not an environment of cdk.json; choose one of: "
                f"{', '.join(sorted(set(by_name) - {config.name}))}",
            )
        if source.region and config.region and source.region != config.region:
            raise ConfigError(
                f"{key}.source_environment",
                f"{name} is in {source.region} and {config.name} in {config.region}: "
                "CopyProjectVersion copies a model only within one region",
            )
        _check_limits(config, key)
        promotion = dataclasses.replace(
            promotion,
            source=PromotionSource(
                environment=source.name,
                account=source.account,
                region=source.region,
                resource_name_prefix=source.resource_name_prefix,
                project_name=source.rekognition.project_name,
                model_version_parameter=source.model_version_parameter,
            ),
        )
        resolved.append(dataclasses.replace(config, promotion=promotion))
    return [_with_readers(config, resolved) for config in resolved]


def _with_readers(source: EnvironmentConfig, configs: list[EnvironmentConfig]) -> EnvironmentConfig:
    """``source`` with the environments of other (configured) accounts that promote from it:
    its artifacts bucket and key allow their source readers (a source without an account is
    taken to be in the target's account, where identity policies suffice)."""
    readers = tuple(
        PromotionReader(
            environment=target.name,
            account=target.account,
            role_name=promotion_reader_role_name(target.resource_name_prefix),
            baseline_role_name=promotion_baseline_role_name(target.resource_name_prefix),
        )
        for target in configs
        if target.promotion is not None
        and target.promotion.source_environment == source.name
        and target.account is not None
        and source.account is not None
        and target.account != source.account
    )
    return dataclasses.replace(source, promotion_readers=readers) if readers else source


def _check_limits(config: EnvironmentConfig, key: str) -> None:
    minutes = promotion_timeout_minutes(config)
    if minutes * 60 > MAX_STANDARD_EXECUTION_SECONDS:
        raise ConfigError(
            f"{key}.approval_timeout_hours",
            f"the promotion would run up to {minutes} minutes (approval wait, copy and start "
            "deadlines), longer than a Standard execution's one year; shorten the approval "
            "timeout or the copy deadline",
        )
    events = promotion_polls(config) * EVENTS_PER_POLL + EVENTS_OUTSIDE_LOOPS
    if events > HISTORY_BUDGET:
        raise ConfigError(
            f"{key}.copy_poll_seconds",
            f"the longest promotion (every poll to its deadline) would make ~{events} history "
            f"events, over the {HISTORY_BUDGET:,}-event budget; poll the copy less often",
        )
