"""The ``network`` section and the new lifecycle expiries: every mistake is one readable line."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.config import ConfigError, load_all, load_environment

Context = dict[str, Any]

REUSE = {
    "mode": "isolated",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "availability_zones": ["eu-west-1a", "eu-west-1b"],
    "endpoint_security_group_id": "sg-0123456789abcdef0",
    "s3_prefix_list_id": "pl-6da54004",
}


def with_prod_network(context: Context, **network: Any) -> Context:
    changed = copy.deepcopy(context)
    changed["environments"]["prod"]["network"] = network
    return changed


def test_shipped_environments_dev_public_and_prod_isolated(context_copy: Context) -> None:
    configs = {c.name: c for c in load_all(context_copy)}
    assert configs["dev"].network.mode == "public"
    assert not configs["dev"].network.isolated
    prod = configs["prod"].network
    assert prod.isolated
    assert not prod.reuses_vpc
    assert len(set(prod.availability_zones)) >= 2
    assert "stack Network" in configs["prod"].physical_names()
    assert "stack Network" not in configs["dev"].physical_names()


def test_reusing_a_vpc_is_accepted(context_copy: Context) -> None:
    prod = load_environment(with_prod_network(context_copy, **REUSE), "prod").network
    assert prod.reuses_vpc
    assert prod.subnet_ids == tuple(REUSE["subnet_ids"])


def _reuse(**changes: Any) -> dict[str, Any]:
    return {**REUSE, **changes}


@pytest.mark.parametrize(
    ("network", "key", "message"),
    [
        pytest.param(_reuse(subnet_ids=[]), "network.subnet_ids",
                     "vpc_id is given without subnets", id="vpc-without-subnets"),
        pytest.param(_reuse(subnet_ids=["subnet-123", "subnet-0fedcba9876543210"]),
                     "network.subnet_ids[0]", "must be a subnet id", id="malformed-subnet"),
        pytest.param(_reuse(vpc_id="vpc-xyz"), "network.vpc_id", "must be a VPC id",
                     id="malformed-vpc"),
        pytest.param(_reuse(subnet_ids=REUSE["subnet_ids"][:1], availability_zones=["eu-west-1a"]),
                     "network.availability_zones", "at least 2 distinct Availability Zones",
                     id="reuse-one-zone"),
        pytest.param(_reuse(availability_zones=["eu-west-1a"]), "network.availability_zones",
                     "at least 2", id="fewer-zones-than-subnets"),
        pytest.param(_reuse(subnet_ids=[*REUSE["subnet_ids"], "subnet-0aaaaaaaaaaaaaaaa"]),
                     "network.availability_zones", "must name the zone of each of the 3 subnet_ids",
                     id="zone-per-subnet"),
        pytest.param(_reuse(endpoint_security_group_id=None), "network.endpoint_security_group_id",
                     "is required with vpc_id", id="reuse-without-endpoint-group"),
        pytest.param(_reuse(s3_prefix_list_id=None), "network.s3_prefix_list_id",
                     "is required", id="isolated-without-prefix-list"),
        pytest.param(_reuse(s3_prefix_list_id="pl-zz"), "network.s3_prefix_list_id",
                     "S3 prefix list id", id="malformed-prefix-list"),
        pytest.param(_reuse(availability_zones=["eu-west-1a", "us-east-1b"]),
                     "network.availability_zones[1]", "is not in the environment's region",
                     id="zone-of-another-region"),
        pytest.param({**REUSE, "vpc_id": None}, "network.subnet_ids",
                     "applies only with vpc_id", id="subnets-without-vpc"),
        pytest.param({"mode": "public", "vpc_id": "vpc-0123456789abcdef0"}, "network.vpc_id",
                     'applies only to mode "isolated"', id="public-with-vpc"),
        pytest.param({"mode": "private"}, "network.mode", "must be one of public, isolated",
                     id="unknown-mode"),
        pytest.param({"mode": "public", "nat": True}, "network.nat", "is not a known setting",
                     id="unknown-key"),
    ],
)  # fmt: skip
def test_network_mistakes_name_the_key(
    context_copy: Context, network: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_all(with_prod_network(context_copy, **network))
    error = raised.value
    assert error.key == f"environments.prod.{key}"
    assert message in error.problem
    assert "\n" not in str(error)


def test_isolated_without_a_region_is_refused(context_copy: Context) -> None:
    context_copy["environments"]["dev"]["network"] = {
        "mode": "isolated",
        "availability_zones": ["eu-west-1a", "eu-west-1b"],
        "s3_prefix_list_id": "pl-6da54004",
    }
    with pytest.raises(ConfigError) as raised:
        load_all(context_copy)
    assert raised.value.key == "environments.dev.network.mode"
    assert "needs the environment's account and region" in raised.value.problem


@pytest.mark.parametrize("setting", ["data_capture_expiration_days", "incoming_expiration_days"])
@pytest.mark.parametrize(("value", "problem"), [(0, "at least 1"), ("30", "whole number")])
def test_expiries_are_null_or_whole_days(
    context_copy: Context, setting: str, value: Any, problem: str
) -> None:
    context_copy["environments"]["dev"]["lifecycle"] = {setting: value}
    with pytest.raises(ConfigError) as raised:
        load_all(context_copy)
    assert raised.value.key == f"environments.dev.lifecycle.{setting}"
    assert problem in raised.value.problem


def test_expiries_default_to_keeping_the_objects(context_copy: Context) -> None:
    dev = load_environment(context_copy, "dev").lifecycle
    assert dev.data_capture_expiration_days is None
    assert dev.incoming_expiration_days is None
