"""Typed accessors for validators: read a field as the type it must have, or a safe empty value.

Validators run after the schema type check, but they still must never crash on odd input (for
example when the schema allows null), so every read goes through one of these.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def obj(parent: Any, key: str) -> JSON:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def lst(parent: Any, key: str) -> list[Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, list) else []


def objs(parent: Any, key: str) -> list[tuple[int, JSON]]:
    """The object elements of a list with their indexes (indexes appear in field paths)."""
    return [(i, v) for i, v in enumerate(lst(parent, key)) if isinstance(v, dict)]


def text(parent: Any, key: str) -> str:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, str) else ""


def integer(parent: Any, key: str) -> int | None:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_map(parent: Any, key: str) -> dict[str, str]:
    return {k: v for k, v in obj(parent, key).items() if isinstance(v, str)}
