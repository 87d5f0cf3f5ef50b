"""Standard cron schedules as upstream parses them (robfig/cron ``ParseStandard``): five fields
``minute hour day-of-month month day-of-week`` with ``*``, ``?``, lists, ranges, steps and
month/day names, plus ``@yearly``/``@annually``/``@monthly``/``@weekly``/``@daily``/``@midnight``/
``@hourly``. Day of month and day of week are OR-ed when both are restricted, AND-ed when either
is ``*`` or ``?`` (cron's rule). Times are matched on the wall clock of the given time zone.

Written here rather than taken from PyPI: the semantics must be robfig's (e.g. ``7`` is not a
valid weekday, ``a/n`` means ``a-max/n``), which the Python cron libraries differ on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
WEEKDAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
               "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
SEARCH_YEARS = 5  # no match within this long: the schedule never fires (e.g. Feb 30)


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (_Bounds(0, 59, {}), _Bounds(0, 23, {}), _Bounds(1, 31, {}), _Bounds(1, 12, MONTHS),
           _Bounds(0, 6, WEEKDAYS))


def _number(text: str, bounds: _Bounds) -> int:
    value = bounds.names.get(text.lower())
    if value is not None:
        return value
    try:
        return int(text)
    except ValueError:
        raise ScheduleError(f"failed to parse int from {text}") from None


def _parse_field(text: str, bounds: _Bounds) -> tuple[frozenset[int], bool]:
    """The values a field allows, and whether it was a bare ``*``/``?`` (matters for days)."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        range_text, _, step_text = part.partition("/")
        step = 1
        if step_text:
            step = _number(step_text, _Bounds(0, 0, {}))
            if step <= 0:
                raise ScheduleError(f"step of range should be a positive number: {part}")
        if range_text in ("*", "?"):
            low, high = bounds.low, bounds.high
            star = star or not step_text
        else:
            first, dash, last = range_text.partition("-")
            low = _number(first, bounds)
            high = _number(last, bounds) if dash else (bounds.high if step_text else low)
        if low < bounds.low:
            raise ScheduleError(f"beginning of range ({low}) below minimum ({bounds.low}): {part}")
        if high > bounds.high:
            raise ScheduleError(f"end of range ({high}) above maximum ({bounds.high}): {part}")
        if low > high:
            raise ScheduleError(f"beginning of range ({low}) beyond end of range ({high}): {part}")
        values.update(range(low, high + 1, step))
    return frozenset(values), star


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool
    zone: tzinfo

    def _day_matches(self, moment: datetime) -> bool:
        dom = moment.day in self.days
        dow = (moment.isoweekday() % 7) in self.weekdays  # Sunday is 0
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def next_after(self, after: datetime) -> datetime | None:
        """The first scheduled time strictly after ``after`` (aware), in UTC; None if never."""
        local = after.astimezone(self.zone).replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        limit = local + timedelta(days=366 * SEARCH_YEARS)
        while local < limit:
            if local.month not in self.months:
                local = (local.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(local):
                local = local.replace(hour=0, minute=0) + timedelta(days=1)
            elif local.hour not in self.hours:
                local = local.replace(minute=0) + timedelta(hours=1)
            elif local.minute not in self.minutes:
                local += timedelta(minutes=1)
            else:
                found = local.replace(tzinfo=self.zone).astimezone(UTC)
                if found > after:
                    return found
                local += timedelta(minutes=1)  # a wall time repeated when clocks went back
        return None


def parse_schedule(text: str, time_zone: str | None = None) -> Schedule:
    spec = " ".join(text.split())
    if spec.startswith(("TZ=", "CRON_TZ=")):
        raise ScheduleError("CRON_TZ or TZ used in schedule is not supported; use spec.timeZone")
    spec = DESCRIPTORS.get(spec.lower(), spec)
    if spec.startswith("@"):
        raise ScheduleError(f"unrecognized descriptor: {spec}")
    fields = spec.split(" ")
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {text}")
    parsed = [_parse_field(field, bounds) for field, bounds in zip(fields, _FIELDS, strict=True)]
    return Schedule(parsed[0][0], parsed[1][0], parsed[2][0], parsed[3][0], parsed[4][0],
                    parsed[2][1], parsed[4][1], zone_for(time_zone))


def zone_for(name: str | None) -> tzinfo:
    """The IANA zone ``name``; none means the controller manager's (UTC, as ours runs)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name}") from None
