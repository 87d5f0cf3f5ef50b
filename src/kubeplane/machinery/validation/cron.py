"""CronJob schedules, checked like robfig/cron's standard parser (5 fields or @-descriptors)."""

from __future__ import annotations

import re
import zoneinfo

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (  # (name, low, high, names allowed)
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
    ("day of week", 0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
)
_EVERY_RE = re.compile(r"^@every ([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_TZ_CHARS = re.compile(r"^[A-Za-z.\-_0-9+/]+$")


def _value(token: str, low: int, high: int, named: dict[str, int]) -> int:
    if token.lower() in named:
        return named[token.lower()]
    if not token.isdigit():
        raise ValueError(f"failed to parse int from {token}")
    number = int(token)
    if number < low:
        raise ValueError(f"beginning of range ({number}) below minimum ({low}): {token}")
    if number > high:
        raise ValueError(f"end of range ({number}) above maximum ({high}): {token}")
    return number


def _field(expr: str, low: int, high: int, named: dict[str, int]) -> None:
    for part in expr.split(","):
        range_part, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"failed to parse int from {step}")
        if range_part in ("*", "?"):
            continue
        start, _, end = range_part.partition("-")
        first = _value(start, low, high, named)
        if end and _value(end, low, high, named) < first:
            raise ValueError(f"beginning of range ({first}) beyond end of range ({end}): {part}")


def schedule_error(schedule: str) -> str | None:
    """robfig/cron's error text for an invalid schedule, or None when it parses."""
    spec = schedule.strip()
    if not spec:
        return "empty spec string"
    if spec.startswith("@"):
        if spec in DESCRIPTORS or _EVERY_RE.match(spec):
            return None
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for expr, (_, low, high, named) in zip(fields, _FIELDS, strict=True):
        try:
            _field(expr, low, high, named)
        except ValueError as exc:
            return str(exc)
    return None


def time_zone_error(name: str) -> str | None:
    if not name:
        return "timeZone must be nil or non-empty string"
    if not _TZ_CHARS.match(name):
        return f"unknown time zone {name}"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name}"
    return None
