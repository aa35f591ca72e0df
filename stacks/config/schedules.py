"""The EventBridge schedule expression grammar (``rate(...)``, ``cron(...)``), checked at synth.

EventBridge only refuses a bad expression at deploy time, and a valid-looking one can still never
fire (``cron`` without exactly one ``?``); :func:`schedule_problem` says what is wrong in one
line so the training trigger's schedule fails ``cdk synth`` instead.
"""

from __future__ import annotations

import re

_RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>[a-z]+)\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: EventBridge cron fields: (name, lowest, highest, names, special characters besides , - * /).
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...], str], ...] = (
    ("minutes", 0, 59, (), ""),
    ("hours", 0, 23, (), ""),
    ("day-of-month", 1, 31, (), "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _WEEKDAYS, "?L#"),
    ("year", 1970, 2199, (), ""),
)


def schedule_problem(expression: str) -> str | None:
    """What is wrong with an EventBridge schedule expression, or None (EventBridge User Guide,
    "Schedule expressions": ``rate(value unit)``, ``cron(6 fields)``)."""
    rate = _RATE.fullmatch(expression)
    if rate is not None:
        value, unit = int(rate["value"]), rate["unit"]
        if value < 1:
            return f"a rate must be a positive whole number, got {value}"
        singular = unit.rstrip("s") if unit.endswith("s") else unit
        if singular not in ("minute", "hour", "day"):
            return f"the rate unit must be minute(s), hour(s) or day(s), got {unit!r}"
        wanted = singular if value == 1 else f"{singular}s"
        if unit != wanted:
            return f"write rate({value} {wanted}): the unit is singular for 1 and plural otherwise"
        return None
    cron = _CRON.fullmatch(expression)
    if cron is None:
        return "must be rate(<value> <unit>) or cron(<6 fields>)"
    fields = cron["fields"].split()
    if len(fields) != len(_CRON_FIELDS):
        return (
            f"cron takes 6 fields (minutes hours day-of-month month day-of-week year), got "
            f"{len(fields)}: {cron['fields']!r}"
        )
    for text, (name, low, high, names, special) in zip(fields, _CRON_FIELDS, strict=True):
        problem = _cron_field_problem(text, low, high, names, special)
        if problem:
            return f"cron {name} field {text!r}: {problem}"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return "cron needs '?' in exactly one of day-of-month and day-of-week"
    return None


def _cron_field_problem(
    text: str, low: int, high: int, names: tuple[str, ...], special: str
) -> str:
    """What is wrong with one cron field (``,`` lists, ``-`` ranges, ``/`` increments, ``*``;
    ``?``, ``L``, ``W`` and ``#`` where the field takes them), or ``""``."""
    if text == "?":
        return "" if "?" in special else "'?' is only for day-of-month and day-of-week"
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not step.isdigit():
            return f"the increment {step!r} must be a number"
        if base == "*":
            continue
        if "#" in base:  # the nth weekday of the month: 2#3 is the third Monday
            base, _, nth = base.partition("#")
            if "#" not in special or not nth.isdigit() or not 1 <= int(nth) <= 5:
                return f"{part!r}: '#' takes a weekday and 1-5, in day-of-week only"
        for bound in base.split("-"):
            value = bound
            if value[-1:] in ("L", "W") and value[-1] in special:
                value = value[:-1]  # L: the last (day, or weekday); W: the nearest weekday
                if not value:
                    continue
            if value.upper() in names:
                continue
            if not value.isdigit():
                return f"{bound!r} is not a value of this field"
            if not low <= int(value) <= high:
                return f"{value} is outside {low}-{high}"
    return ""
