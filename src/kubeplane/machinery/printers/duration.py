"""Human-readable ages, as kubectl shows them in AGE / LAST SEEN / DURATION columns.

Mirrors apimachinery's ``duration.HumanDuration`` (about two significant figures) and the
printers' ``translateTimestampSince``: a missing timestamp prints ``<unknown>``, one more than a
second in the future prints ``<invalid>`` (clock skew of up to a second is tolerated as "0s").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_YEAR = 365 * _DAY

UNKNOWN = "<unknown>"


def human_duration(seconds: float) -> str:
    """Format a duration the way upstream's ``duration.HumanDuration`` does."""
    # Go converts with int(d.Seconds()), which truncates toward zero.
    whole = math.trunc(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 2 * _MINUTE:
        return f"{whole}s"
    minutes = whole // _MINUTE
    if minutes < 10:
        rest = whole % _MINUTE
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = whole // _HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    days = hours // 24
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{days // 365}y{rest}d" if rest else f"{days // 365}y"
    return f"{days // 365}y"


def parse_timestamp(value: object) -> datetime | None:
    """An RFC 3339 timestamp (``metav1.Time`` or ``MicroTime``) as an aware datetime; None if unset."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_zero(moment: datetime | None) -> bool:
    """Go's zero ``time.Time`` (0001-01-01T00:00:00Z) counts as unset, like ``IsZero()``."""
    return moment is None or moment == datetime.min.replace(tzinfo=UTC)


class Ages:
    """Turns timestamps into ages relative to one fixed ``now`` (one per table, so rows agree)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now if now is not None else datetime.now(UTC)

    def since(self, timestamp: object) -> str:
        moment = parse_timestamp(timestamp)
        if moment is None or is_zero(moment):
            return UNKNOWN
        return human_duration((self.now - moment).total_seconds())

    def of(self, obj: Mapping[str, Any]) -> str:
        """The AGE cell: time since the object's creationTimestamp."""
        metadata = obj.get("metadata")
        return self.since(metadata.get("creationTimestamp") if isinstance(metadata, Mapping) else None)

    @staticmethod
    def between(start: datetime, end: datetime) -> str:
        return human_duration((end - start).total_seconds())
