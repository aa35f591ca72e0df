"""The ``network`` section: public endpoints, or isolated subnets behind VPC endpoints.

``{"mode": "public" | "isolated", "vpc_id": null, "subnet_ids": [], "availability_zones": [],
"endpoint_security_group_id": null, "s3_prefix_list_id": null}``. That the zones lie in the
environment's region is a rule across sections (``stacks.config.rules``).
"""

from __future__ import annotations

import re

from stacks.config.reading import _Reader
from stacks.config.schema import ConfigError, NetworkConfig

NETWORK_MODES: tuple[str, ...] = ("public", "isolated")
#: A private isolated subnet in fewer zones would stop the environment with one zone's outage.
MIN_AVAILABILITY_ZONES = 2
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8}([0-9a-f]{9})?")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8}([0-9a-f]{9})?")
_SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8}([0-9a-f]{9})?")
_PREFIX_LIST_ID = re.compile(r"pl-[0-9a-f]{8}([0-9a-f]{9})?")
_AVAILABILITY_ZONE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d[a-z]")
_PREFIX_LIST_HINT = (
    "must be the region's S3 prefix list id (pl-...; aws ec2 describe-prefix-lists "
    "--filters Name=prefix-list-name,Values=com.amazonaws.<region>.s3)"
)


def _network(reader: _Reader) -> NetworkConfig:
    mode = reader.choice("mode", NETWORK_MODES)
    vpc_id = reader.optional_string("vpc_id", _VPC_ID, "must be a VPC id (vpc- and 8 or 17 hex)")
    subnet_ids = reader.string_list(
        "subnet_ids", _SUBNET_ID, "must be a subnet id (subnet- and 8 or 17 hex digits)"
    )
    zones = reader.string_list(
        "availability_zones", _AVAILABILITY_ZONE, "must be an Availability Zone name (eu-west-1a)"
    )
    endpoint_group = reader.optional_string(
        "endpoint_security_group_id",
        _SECURITY_GROUP_ID,
        "must be a security group id (sg- and 8 or 17 hex digits)",
    )
    prefix_list = reader.optional_string("s3_prefix_list_id", _PREFIX_LIST_ID, _PREFIX_LIST_HINT)
    reader.reject_unknown()
    config = NetworkConfig(
        mode=mode,
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        availability_zones=zones,
        endpoint_security_group_id=endpoint_group,
        s3_prefix_list_id=prefix_list,
    )
    if not config.isolated:
        _check_public(reader, config)
    else:
        _check_isolated(reader, config)
    return config


def _check_public(reader: _Reader, config: NetworkConfig) -> None:
    """A public environment has no VPC: a setting that places it in one is a mistake."""
    for name, value in (
        ("vpc_id", config.vpc_id),
        ("subnet_ids", config.subnet_ids),
        ("availability_zones", config.availability_zones),
        ("endpoint_security_group_id", config.endpoint_security_group_id),
        ("s3_prefix_list_id", config.s3_prefix_list_id),
    ):
        if value:
            raise ConfigError(
                reader.key(name), 'applies only to mode "isolated"; leave it empty for "public"'
            )


def _check_isolated(reader: _Reader, config: NetworkConfig) -> None:
    zones = config.availability_zones
    if len(set(zones)) < MIN_AVAILABILITY_ZONES:
        raise ConfigError(
            reader.key("availability_zones"),
            f"isolated subnets need at least {MIN_AVAILABILITY_ZONES} distinct Availability "
            f"Zones, got {len(set(zones))}",
        )
    if config.s3_prefix_list_id is None:
        raise ConfigError(reader.key("s3_prefix_list_id"), f"is required: {_PREFIX_LIST_HINT}")
    if config.vpc_id is None:
        for name, value in (
            ("subnet_ids", config.subnet_ids),
            ("endpoint_security_group_id", config.endpoint_security_group_id),
        ):
            if value:
                raise ConfigError(
                    reader.key(name),
                    "applies only with vpc_id (an existing VPC); without it the app creates "
                    "the subnets and endpoints itself",
                )
        return
    if not config.subnet_ids:
        raise ConfigError(
            reader.key("subnet_ids"),
            "vpc_id is given without subnets: list the VPC's private subnets to run in",
        )
    if len(config.subnet_ids) != len(zones):
        raise ConfigError(
            reader.key("availability_zones"),
            f"must name the zone of each of the {len(config.subnet_ids)} subnet_ids, in the same "
            f"order; got {len(zones)} zones",
        )
    if config.endpoint_security_group_id is None:
        raise ConfigError(
            reader.key("endpoint_security_group_id"),
            "is required with vpc_id: the security group of the VPC's interface endpoints "
            "(the functions may send HTTPS to it and nowhere else)",
        )
