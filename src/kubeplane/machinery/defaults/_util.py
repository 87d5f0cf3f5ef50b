"""Small helpers for defaulting JSON dicts that may still be ill-typed.

Defaulting runs *before* validation, so a field may hold the wrong JSON type; these helpers
only step into values of the expected type and leave anything else for validation to report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

JSON = dict[str, Any]


def child(obj: JSON, key: str, create: bool = False) -> JSON | None:
    """``obj[key]`` when it is an object; with ``create``, an absent or null value becomes ``{}``."""
    value = obj.get(key)
    if value is None and create:
        value = obj[key] = {}
    return value if isinstance(value, dict) else None


def items(obj: JSON, key: str) -> Iterator[JSON]:
    """The object elements of the list ``obj[key]`` (non-objects are skipped)."""
    value = obj.get(key)
    if isinstance(value, list):
        for element in value:
            if isinstance(element, dict):
                yield element


def setdefault(obj: JSON, key: str, value: Any) -> None:
    """Set ``obj[key]`` when absent or null (Go's nil pointer / zero value)."""
    if obj.get(key) is None:
        obj[key] = value


def setdefault_if_empty(obj: JSON, key: str, value: Any) -> None:
    """Set ``obj[key]`` when absent, null or the empty string (a Go string field left at zero)."""
    if obj.get(key) in (None, ""):
        obj[key] = value


def minor_at_least(minor: str, wanted: tuple[int, int]) -> bool:
    """Whether ``minor`` ("1.35") is ``wanted`` or newer; unparsable minors count as newest."""
    major_s, _, minor_s = minor.partition(".")
    try:
        return (int(major_s), int(minor_s)) >= wanted
    except ValueError:
        return True
