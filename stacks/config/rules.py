"""Rules across sections and across environments, checked on the parsed configuration.

Within one environment: production needs an account, retained data, termination protection and
a recipient; names stay within AWS's lengths; each bucket prefix has one meaning. Across
environments: two that could share an account and region never give one name to two resources
(:func:`check_isolation`), so a dev run cannot replace prod's datasets or delete its endpoint.
"""

from __future__ import annotations

from contracts.s3_layout import RESERVED_ARTIFACT_PREFIXES
from stacks.config.limits import _MAX_NAME_PREFIX, SUPPORTED_REGIONS
from stacks.config.schema import ConfigError, EnvironmentConfig

#: What happens to a new object under each configurable prefix of the data bucket.
_DATA_PREFIX_EFFECTS = {
    "rekognition.input_prefix": (
        "classified by Rekognition (which starts a model billed about $4 an hour)"
    ),
    "sagemaker.input_prefix": "read as a SageMaker inference input",
    "sagemaker.training.data_prefix": "read as SageMaker training data",
    "rekognition_training.triggers.manifest_prefix": "taken as a manifest that starts training",
}


def _overlap(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _check_prefixes(config: EnvironmentConfig) -> None:
    """Each prefix of each bucket has one meaning: no two may overlap (an object under both
    would be handled twice: a SageMaker training image classified by Rekognition, a manifest
    recorded as a bad image, a review record overwritten by results)."""
    key = f"environments.{config.name}"
    data = {
        "rekognition.input_prefix": config.rekognition.input_prefix,
        "sagemaker.input_prefix": config.sagemaker.input_prefix,
        "sagemaker.training.data_prefix": config.sagemaker.training.data_prefix,
        "rekognition_training.triggers.manifest_prefix": (
            config.rekognition_training.trigger_manifest_prefix
        ),
    }
    named = [(name, prefix) for name, prefix in data.items() if prefix]
    for index, (name, prefix) in enumerate(named):
        for other, other_prefix in named[:index]:
            if _overlap(prefix, other_prefix):
                raise ConfigError(
                    f"{key}.{name}",
                    f"{prefix!r} overlaps {other} ({other_prefix!r}): an object there would be "
                    f"{_DATA_PREFIX_EFFECTS[name]} and {_DATA_PREFIX_EFFECTS[other]}; the data "
                    "bucket's prefixes must be disjoint",
                )
    manifest = config.rekognition_training.scheduled_manifest_key
    for name, prefix in named:
        if (
            manifest
            and name != "rekognition_training.triggers.manifest_prefix"
            and (manifest.startswith(prefix))
        ):
            raise ConfigError(
                f"{key}.rekognition_training.triggers.scheduled_manifest_key",
                f"{manifest!r} lies under {name} ({prefix!r}), so it would be "
                f"{_DATA_PREFIX_EFFECTS[name]}; keep manifests elsewhere",
            )
    _check_relabel_prefix(config, named)
    review = config.sagemaker.review_prefix
    for reserved, purpose in RESERVED_ARTIFACT_PREFIXES.items():
        if _overlap(review, reserved):
            raise ConfigError(
                f"{key}.sagemaker.review_prefix",
                f"{review!r} overlaps {reserved!r} of the artifacts bucket, where the app "
                f"writes {purpose}; choose a prefix outside "
                f"{', '.join(RESERVED_ARTIFACT_PREFIXES)}",
            )


def _check_relabel_prefix(config: EnvironmentConfig, named: list[tuple[str, str]]) -> None:
    """Relabeled manifests land in the data bucket: under the training trigger's prefix (so the
    trigger starts a training) or apart from every other prefix (the workflow starts it)."""
    prefix = config.relabel.manifest_prefix
    trigger = config.rekognition_training.trigger_manifest_prefix
    for name, other in named:
        if name == "rekognition_training.triggers.manifest_prefix" and prefix.startswith(other):
            continue
        if _overlap(prefix, other):
            raise ConfigError(
                f"environments.{config.name}.relabel.manifest_prefix",
                f"{prefix!r} overlaps {name} ({other!r}): a relabeled manifest there would be "
                f"{_DATA_PREFIX_EFFECTS[name]}"
                + (f"; put it under {trigger!r} or apart from it" if trigger else ""),
            )


def _check_environment_rules(config: EnvironmentConfig) -> None:
    key = f"environments.{config.name}"
    if len(config.resource_name_prefix) > _MAX_NAME_PREFIX:
        raise ConfigError(
            f"{key}.resource_prefix",
            f"'<resource_prefix>-<environment>' may be at most {_MAX_NAME_PREFIX} characters "
            f"(bucket names end in -artifacts-<account>-<region>, 63 at most); "
            f"{config.resource_name_prefix!r} has {len(config.resource_name_prefix)}",
        )
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
    if config.drift.start_retraining and config.relabel.workteam_arn is None:
        raise ConfigError(
            f"{key}.drift.start_retraining",
            "a drift alarm would start the relabel workflow, which needs relabel.workteam_arn "
            "(a private workteam) to send the images to",
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


def _check_network_region(config: EnvironmentConfig) -> None:
    """An isolated environment's zones and S3 prefix list are regional: it needs its region."""
    network = config.network
    if not network.isolated:
        return
    key = f"environments.{config.name}.network"
    if config.region is None:
        raise ConfigError(
            f"{key}.mode",
            '"isolated" needs the environment\'s account and region (its Availability Zones '
            "and S3 prefix list are regional)",
        )
    for index, zone in enumerate(network.availability_zones):
        if zone[:-1] != config.region:
            raise ConfigError(
                f"{key}.availability_zones[{index}]",
                f"{zone!r} is not in the environment's region {config.region}",
            )


def could_share_account_and_region(a: EnvironmentConfig, b: EnvironmentConfig) -> bool:
    """Whether two environments may deploy into one account and region: the same ones, or one
    without an account (it deploys wherever the credentials point)."""
    return (a.account is None or b.account is None or a.account == b.account) and (
        a.region is None or b.region is None or a.region == b.region
    )


def check_isolation(configs: list[EnvironmentConfig]) -> None:
    """No two environments that could share an account and region give one name to two resources
    of a kind (or one falls under the other's IAM prefix): a dev training run must never replace
    prod's datasets, overwrite its parameter or delete its endpoint."""
    for index, config in enumerate(configs):
        for other in configs[:index]:
            if not could_share_account_and_region(config, other):
                continue
            theirs = other.physical_names()
            for what, name in config.physical_names().items():
                # (Kinds only one of them has, like an isolated environment's network stack,
                # cannot clash by kind.)
                if what in theirs and _names_clash(name, theirs[what]):
                    raise ConfigError(
                        f"environments.{config.name}",
                        f"its {what} {name!r} clashes with environment {other.name}'s "
                        f"{theirs[what]!r}, and the two could share an account and region "
                        "(give each its own account and region, or another resource_prefix)",
                    )


def _names_clash(a: str, b: str) -> bool:
    """Equal names, or a name that a ``*`` prefix of the other covers."""
    if a.endswith("*") or b.endswith("*"):
        return a.rstrip("*").startswith(b.rstrip("*")) or b.rstrip("*").startswith(a.rstrip("*"))
    return a == b
