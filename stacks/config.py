"""Per-environment configuration, parsed from the ``cdk.json`` context into frozen dataclasses.

``cdk.json`` holds a ``defaults`` block and an ``environments`` block; each environment is the
defaults deep-merged with its own overrides, then validated here. Every user mistake raises a
:class:`ConfigError` whose message names the offending key (``environments.prod.account``) and the
problem in one line, so ``app.py`` can stop synthesis without a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Regions where every service the pipelines use is offered (Rekognition Custom Labels is the
#: narrowest; see "Custom Labels supported Regions" in the Rekognition developer guide).
SUPPORTED_REGIONS: frozenset[str] = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-central-1",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ap-northeast-2",
    }
)

#: Retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip

#: Aggregate metrics of the evaluation report the quality gate may compare.
GATE_METRICS: tuple[str, ...] = (
    "f1_score",  # the service's own F1 (EvaluationResult.F1Score)
    "accuracy",
    "balanced_accuracy",
    "matthews_corrcoef",
    "precision_micro",
    "precision_macro",
    "precision_weighted",
    "recall_micro",
    "recall_macro",
    "recall_weighted",
    "f1_micro",
    "f1_macro",
    "f1_weighted",
    "jaccard_micro",
    "jaccard_macro",
    "jaccard_weighted",
)

_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_REMOVAL_POLICIES = ("destroy", "retain")
_MAX_INFERENCE_UNITS = 100


class ConfigError(ValueError):
    """A user mistake in the configuration; the message is one line naming the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True, kw_only=True)
class QualityGateConfig:
    """Which evaluation metric must reach which threshold before a model version is started."""

    metric: str
    threshold: float
    min_label_recall: float | None


@dataclass(frozen=True, kw_only=True)
class RekognitionInferenceConfig:
    """Rekognition Custom Labels inference settings (confidences are fractions in [0, 1])."""

    min_confidence: float
    review_threshold: float
    min_inference_units: int
    max_inference_units: int


@dataclass(frozen=True, kw_only=True)
class SageMakerConfig:
    """SageMaker endpoint inference settings."""

    confidence_threshold: float


@dataclass(frozen=True, kw_only=True)
class LifecycleConfig:
    """S3 lifecycle periods, in days."""

    abort_incomplete_upload_days: int
    noncurrent_version_expiration_days: int
    results_transition_to_ia_days: int
    access_logs_expiration_days: int


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    """Everything one deployment environment needs; built only by :func:`load_environment`."""

    name: str
    production: bool
    account: str | None
    region: str | None
    resource_prefix: str
    removal_policy: str
    termination_protection: bool
    notification_emails: tuple[str, ...]
    log_retention_days: int
    powertools_layer_version: int
    quality_gate: QualityGateConfig
    rekognition: RekognitionInferenceConfig
    sagemaker: SageMakerConfig
    lifecycle: LifecycleConfig

    @property
    def retain_data(self) -> bool:
        """True when stateful resources must survive stack deletion."""
        return self.removal_policy == "retain"

    @property
    def resource_name_prefix(self) -> str:
        """Prefix for physical names: unique per app and environment."""
        return f"{self.resource_prefix}-{self.name}"

    @property
    def model_version_parameter(self) -> str:
        """SSM parameter naming the Rekognition model version inference uses.

        Written by the training workflow when a version passes the gate and is started; read by
        inference and the model controller. Not created by CloudFormation, so a deploy never
        resets it.
        """
        return f"/{self.resource_name_prefix}/rekognition/model-version-arn"


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``override``, merging nested mappings key by key."""
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _Reader:
    """Reads typed values out of one mapping, naming the full key path in every error."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"must be an object, got {type(data).__name__}")
        self._data = data
        self._path = path
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self._path}.{name}"

    def _get(self, name: str, required: bool) -> Any:
        self._read.add(name)
        if name not in self._data or self._data[name] is None:
            if required:
                raise ConfigError(self.key(name), "is required")
            return None
        return self._data[name]

    def child(self, name: str) -> _Reader:
        return _Reader(self._get(name, required=True), self.key(name))

    def string(self, name: str, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        value = self._get(name, required=True)
        return self._check_string(name, value, pattern, hint)

    def optional_string(
        self, name: str, pattern: re.Pattern[str] | None = None, hint: str = ""
    ) -> str | None:
        value = self._get(name, required=False)
        return None if value is None else self._check_string(name, value, pattern, hint)

    def _check_string(
        self, name: str, value: Any, pattern: re.Pattern[str] | None, hint: str
    ) -> str:
        if not isinstance(value, str):
            raise ConfigError(self.key(name), f"must be a string, got {value!r}")
        if pattern is not None and not pattern.fullmatch(value):
            raise ConfigError(self.key(name), f"{hint}, got {value!r}")
        return value

    def boolean(self, name: str) -> bool:
        value = self._get(name, required=True)
        if not isinstance(value, bool):
            raise ConfigError(self.key(name), f"must be true or false, got {value!r}")
        return value

    def integer(self, name: str, minimum: int, maximum: int | None = None) -> int:
        value = self._get(name, required=True)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.key(name), f"must be a whole number, got {value!r}")
        if value < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(self.key(name), f"must be at most {maximum}, got {value}")
        return value

    def fraction(self, name: str, required: bool = True) -> float | None:
        value = self._get(name, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(self.key(name), f"must be a number in [0, 1], got {value!r}")
        if not 0.0 <= float(value) <= 1.0:
            raise ConfigError(self.key(name), f"must be within [0, 1], got {value}")
        return float(value)

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self._get(name, required=True)
        if value not in choices:
            raise ConfigError(self.key(name), f"must be one of {', '.join(choices)}; got {value!r}")
        return str(value)

    def string_list(self, name: str, pattern: re.Pattern[str], hint: str) -> tuple[str, ...]:
        value = self._get(name, required=True)
        if not isinstance(value, list):
            raise ConfigError(self.key(name), f"must be a list, got {value!r}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not pattern.fullmatch(item):
                raise ConfigError(f"{self.key(name)}[{index}]", f"{hint}, got {item!r}")
        if len(set(value)) != len(value):
            raise ConfigError(self.key(name), "contains duplicates")
        return tuple(value)

    def reject_unknown(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise ConfigError(self.key(unknown[0]), "is not a known setting (typo?)")


def _quality_gate(reader: _Reader) -> QualityGateConfig:
    gate = QualityGateConfig(
        metric=reader.choice("metric", GATE_METRICS),
        threshold=_required(reader.fraction("threshold")),
        min_label_recall=reader.fraction("min_label_recall", required=False),
    )
    reader.reject_unknown()
    return gate


def _rekognition(reader: _Reader) -> RekognitionInferenceConfig:
    config = RekognitionInferenceConfig(
        min_confidence=_required(reader.fraction("min_confidence")),
        review_threshold=_required(reader.fraction("review_threshold")),
        min_inference_units=reader.integer("min_inference_units", 1, _MAX_INFERENCE_UNITS),
        max_inference_units=reader.integer("max_inference_units", 1, _MAX_INFERENCE_UNITS),
    )
    reader.reject_unknown()
    if config.min_inference_units > config.max_inference_units:
        raise ConfigError(
            reader.key("min_inference_units"),
            f"must not exceed max_inference_units ({config.min_inference_units} > "
            f"{config.max_inference_units})",
        )
    if config.review_threshold < config.min_confidence:
        raise ConfigError(
            reader.key("review_threshold"),
            f"must be at least min_confidence ({config.review_threshold} < "
            f"{config.min_confidence}): labels below min_confidence are never returned",
        )
    return config


def _sagemaker(reader: _Reader) -> SageMakerConfig:
    config = SageMakerConfig(
        confidence_threshold=_required(reader.fraction("confidence_threshold"))
    )
    reader.reject_unknown()
    return config


def _lifecycle(reader: _Reader) -> LifecycleConfig:
    config = LifecycleConfig(
        abort_incomplete_upload_days=reader.integer("abort_incomplete_upload_days", 1),
        noncurrent_version_expiration_days=reader.integer("noncurrent_version_expiration_days", 1),
        # S3 refuses a STANDARD_IA transition earlier than 30 days after creation.
        results_transition_to_ia_days=reader.integer("results_transition_to_ia_days", 30),
        access_logs_expiration_days=reader.integer("access_logs_expiration_days", 1),
    )
    reader.reject_unknown()
    return config


def _required(value: float | None) -> float:
    assert value is not None  # fraction(required=True) never returns None
    return value


def load_environment(context: Mapping[str, Any], name: str) -> EnvironmentConfig:
    """Build and validate the configuration of environment ``name`` from the app context."""
    environments = context.get("environments")
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError("environments", "no environments are configured in cdk.json")
    if name not in environments:
        raise ConfigError(
            f"environments.{name}",
            f"is not configured; choose one of: {', '.join(sorted(environments))}",
        )
    if not _ENV_NAME.fullmatch(name):
        raise ConfigError(
            f"environments.{name}", "environment names are 1-16 lowercase letters or digits"
        )
    defaults = context.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError("defaults", "must be an object")
    overrides = environments[name]
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"environments.{name}", "must be an object")
    reader = _Reader(deep_merge(defaults, overrides), f"environments.{name}")

    production = reader.boolean("production")
    account = reader.optional_string("account", _ACCOUNT, "must be a 12-digit AWS account id")
    region = reader.optional_string("region")
    retain = reader.choice("removal_policy", _REMOVAL_POLICIES) == "retain"
    termination_protection = reader.boolean("termination_protection")
    config = EnvironmentConfig(
        name=name,
        production=production,
        account=account,
        region=region,
        resource_prefix=reader.string(
            "resource_prefix", _PREFIX, "must be 2-20 lowercase letters, digits or dashes"
        ),
        removal_policy="retain" if retain else "destroy",
        termination_protection=termination_protection,
        notification_emails=reader.string_list(
            "notification_emails", _EMAIL, "must be an email address"
        ),
        log_retention_days=_log_retention(reader),
        powertools_layer_version=reader.integer("powertools_layer_version", 1),
        quality_gate=_quality_gate(reader.child("quality_gate")),
        rekognition=_rekognition(reader.child("rekognition")),
        sagemaker=_sagemaker(reader.child("sagemaker")),
        lifecycle=_lifecycle(reader.child("lifecycle")),
    )
    reader.reject_unknown()
    _check_environment_rules(config)
    return config


def _log_retention(reader: _Reader) -> int:
    days = reader.integer("log_retention_days", 1)
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise ConfigError(
            reader.key("log_retention_days"),
            f"CloudWatch Logs accepts only {allowed}; got {days}",
        )
    return days


def _check_environment_rules(config: EnvironmentConfig) -> None:
    key = f"environments.{config.name}"
    if config.region is not None and config.region not in SUPPORTED_REGIONS:
        raise ConfigError(
            f"{key}.region",
            f"Rekognition Custom Labels is not available in {config.region!r}; "
            f"use one of {', '.join(sorted(SUPPORTED_REGIONS))}",
        )
    if (config.account is None) != (config.region is None):
        raise ConfigError(
            f"{key}.account" if config.account is None else f"{key}.region",
            "account and region must be set together (or both left out for an "
            "environment-agnostic development stack)",
        )
    if config.production:
        if config.account is None:
            raise ConfigError(f"{key}.account", "is required for a production environment")
        if not config.retain_data:
            raise ConfigError(f"{key}.removal_policy", "must be 'retain' in production")
        if not config.termination_protection:
            raise ConfigError(f"{key}.termination_protection", "must be true in production")
        if not config.notification_emails:
            raise ConfigError(
                f"{key}.notification_emails", "a production environment needs a recipient"
            )


def load_all(context: Mapping[str, Any]) -> list[EnvironmentConfig]:
    """Every configured environment, validated, in cdk.json order."""
    environments = context.get("environments")
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError("environments", "no environments are configured in cdk.json")
    return [load_environment(context, name) for name in environments]
