"""Loading: an environment from the ``cdk.json`` context, and every environment together.

``defaults`` deep-merged with the environment's overrides, read section by section, then the
cross-field rules of that environment; :func:`load_all` adds the isolation check across
environments, which :func:`load_environment` runs too (one environment is only valid beside the
others).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts.naming import ENVIRONMENT_NAME
from stacks.config.limits import LOG_RETENTION_DAYS
from stacks.config.reading import _Reader, deep_merge
from stacks.config.rules import (
    _check_environment_rules,
    _check_network_region,
    _check_prefixes,
    check_isolation,
)
from stacks.config.schema import ConfigError, EnvironmentConfig
from stacks.config.sections.drift import _drift
from stacks.config.sections.lifecycle import _lifecycle
from stacks.config.sections.network import _network
from stacks.config.sections.operations import _operations
from stacks.config.sections.promotion import _promotion, resolve_promotions
from stacks.config.sections.quality_gate import _quality_gate
from stacks.config.sections.rekognition import _rekognition
from stacks.config.sections.rekognition_training import _rekognition_training
from stacks.config.sections.relabel import _relabel
from stacks.config.sections.sagemaker import _sagemaker

_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_REMOVAL_POLICIES = ("destroy", "retain")


def load_environment(context: Mapping[str, Any], name: str) -> EnvironmentConfig:
    """Build and validate the configuration of environment ``name`` from the app context.

    Every other environment is validated too: whether two environments can hurt each other is
    a property of the whole configuration (see :func:`check_isolation`).
    """
    environments = _environments(context)
    if name not in environments:
        raise ConfigError(
            f"environments.{name}",
            f"is not configured; choose one of: {', '.join(sorted(environments))}",
        )
    (config,) = [c for c in load_all(context) if c.name == name]
    return config


def _environments(context: Mapping[str, Any]) -> Mapping[str, Any]:
    environments = context.get("environments")
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError("environments", "no environments are configured in cdk.json")
    return environments


def _load_one(context: Mapping[str, Any], name: str) -> EnvironmentConfig:
    environments = _environments(context)
    if not ENVIRONMENT_NAME.fullmatch(name):
        raise ConfigError(
            f"environments.{name}", "environment names are 1-16 lowercase letters or digits"
        )
    defaults = context.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError("defaults", "must be an object")
    overrides = environments[name]
    if not isinstance(overrides, Mapping):
        raise ConfigError(
            f"environments.{name}",
            f"must be an object of settings ({{}} to take every default), got "
            f"{'null' if overrides is None else type(overrides).__name__}",
        )
    reader = _Reader(deep_merge(defaults, overrides), f"environments.{name}")

    production = reader.boolean("production")
    account = reader.optional_string("account", _ACCOUNT, "must be a 12-digit AWS account id")
    region = reader.optional_string("region")
    retain = reader.choice("removal_policy", _REMOVAL_POLICIES) == "retain"
    termination_protection = reader.boolean("termination_protection")
    resource_prefix = reader.string(
        "resource_prefix", _PREFIX, "must be 2-20 lowercase letters, digits or dashes"
    )
    rekognition = _rekognition(reader.child("rekognition"), f"{resource_prefix}-{name}")
    sagemaker = _sagemaker(reader.child("sagemaker"))
    config = EnvironmentConfig(
        name=name,
        production=production,
        account=account,
        region=region,
        resource_prefix=resource_prefix,
        removal_policy="retain" if retain else "destroy",
        termination_protection=termination_protection,
        notification_emails=reader.string_list(
            "notification_emails", _EMAIL, "must be an email address"
        ),
        log_retention_days=_log_retention(reader),
        powertools_layer_version=reader.integer("powertools_layer_version", 1),
        quality_gate=_quality_gate(reader.child("quality_gate")),
        rekognition=rekognition,
        rekognition_training=_rekognition_training(reader.child("rekognition_training")),
        sagemaker=sagemaker,
        relabel=_relabel(reader.child("relabel"), sagemaker.class_names),
        lifecycle=_lifecycle(reader.child("lifecycle")),
        operations=_operations(reader.child("operations"), rekognition),
        network=_network(reader.child("network")),
        promotion=_promotion(reader.child("promotion")),
        drift=_drift(reader.child("drift")),
    )
    reader.reject_unknown()
    _check_environment_rules(config)
    _check_network_region(config)
    _check_prefixes(config)
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


def load_all(context: Mapping[str, Any]) -> list[EnvironmentConfig]:
    """Every configured environment, validated and checked for isolation, in cdk.json order."""
    configs = resolve_promotions([_load_one(context, name) for name in _environments(context)])
    check_isolation(configs)
    return configs
