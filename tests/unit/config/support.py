"""What the configuration tests share: context mutations, loading as app.py does, one check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stacks.config import (
    ConfigError,
    EnvironmentConfig,
    load_all,
    load_environment,
)

ROOT = Path(__file__).resolve().parents[3]

Context = dict[str, Any]
Mutation = Callable[[Context], None]


def set_key(path: str, value: Any) -> Mutation:
    """A mutation that sets the dotted ``path`` (creating intermediate objects) to ``value``."""

    def mutate(context: Context) -> None:
        *parents, leaf = path.split(".")
        node = context
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    return mutate


def delete_key(path: str) -> Mutation:
    def mutate(context: Context) -> None:
        *parents, leaf = path.split(".")
        node = context
        for part in parents:
            node = node[part]
        del node[leaf]

    return mutate


def all_of(*mutations: Mutation) -> Mutation:
    def mutate(context: Context) -> None:
        for mutation in mutations:
            mutation(context)

    return mutate


def load_selected(context: Context, env: str | None) -> list[EnvironmentConfig]:
    """What app.py does: every environment, or only ``env`` when one is selected."""
    return load_all(context) if env is None else [load_environment(context, env)]


def by_name(configs: list[EnvironmentConfig]) -> dict[str, EnvironmentConfig]:
    return {config.name: config for config in configs}


def no_change(context: Context) -> None:
    pass


def assert_config_error(
    context: Context, mutation: Mutation, env: str | None, key: str, fragment: str
) -> None:
    """The mutated context stops loading with one line naming ``key``, containing ``fragment``."""
    mutation(context)

    with pytest.raises(ConfigError) as caught:
        load_selected(context, env)

    error = caught.value
    assert error.key == key
    assert fragment in error.problem
    assert str(error) == f"{key}: {error.problem}"
    assert "\n" not in error.problem  # one line on the terminal
