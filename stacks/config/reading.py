"""How values are read out of the merged context: ``deep_merge`` and the typed ``_Reader``.

Every read names the full key path (``environments.prod.rekognition.batch_size``), so each
mistake raises a :class:`ConfigError` in one line; ``reject_unknown`` turns a misspelt key into
"did you mean ...?" instead of a silently ignored setting. Also the value grammar more than one
section shares (S3 key prefixes).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from stacks.config.schedules import schedule_problem
from stacks.config.schema import ConfigError

#: An S3 key prefix as the sections write them (no leading '/', ending in '/').
_INPUT_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()=-]+(/[A-Za-z0-9!_.*'()=-]+)*/")
_PREFIX_HINT = "must be a key prefix of letters, digits and !_.*'()=- segments ending in '/'"
#: An S3 object key as the sections write them (no spaces, S3's 1,024-byte limit).
_S3_KEY = re.compile(r"[^\s]{1,1024}")


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

    def optional_value(self, name: str) -> Any:
        """The raw value of an optional setting (``None`` when absent or null)."""
        return self._get(name, required=False)

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

    def optional_object_key(self, name: str, example: str) -> str | None:
        """An optional object key of the data bucket, written as S3 keys are (no ``s3://``,
        bucket or leading ``/``); ``example`` shows the operator one in the error."""
        value = self.optional_value(name)
        if isinstance(value, str) and value.startswith(("s3://", "/")):
            raise ConfigError(
                self.key(name),
                f"give the key within the data bucket, such as {example!r} "
                f"(no s3:// scheme, bucket or leading '/'), got {value!r}",
            )
        key = self.optional_string(name, _S3_KEY, "must be an S3 object key without spaces")
        if key is not None and key.endswith("/"):
            raise ConfigError(self.key(name), f"must name an object, not a prefix, got {key!r}")
        return key

    def schedule(self, name: str) -> str:
        """An EventBridge schedule expression, checked as EventBridge checks it."""
        return self._check_schedule(name, self.string(name))

    def optional_schedule(self, name: str) -> str | None:
        expression = self.optional_string(name)
        return None if expression is None else self._check_schedule(name, expression)

    def _check_schedule(self, name: str, expression: str) -> str:
        problem = schedule_problem(expression)
        if problem:
            raise ConfigError(self.key(name), f"{problem}, got {expression!r}")
        return expression

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

    def number(self, name: str, above: float, maximum: float) -> float:
        """A number (int or float) greater than ``above`` and at most ``maximum``."""
        value = self._get(name, required=True)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(self.key(name), f"must be a number, got {value!r}")
        if not above < float(value) <= maximum:
            raise ConfigError(
                self.key(name), f"must be greater than {above} and at most {maximum}, got {value}"
            )
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
            close = difflib.get_close_matches(str(unknown[0]), sorted(self._read), n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"known: {', '.join(sorted(self._read))}"
            )
            raise ConfigError(self.key(unknown[0]), f"is not a known setting; {hint}")


def _required(value: float | None) -> float:
    assert value is not None  # fraction(required=True) never returns None
    return value
