"""metav1.Time on the wire (RFC 3339, whole seconds, UTC) to and from the clock's wall time."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
