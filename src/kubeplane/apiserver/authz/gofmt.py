"""Go's ``%q`` formatting, which upstream's RBAC messages use for names and string lists."""

from __future__ import annotations

from collections.abc import Iterable


def go_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def go_quote_list(values: Iterable[str]) -> str:
    """``%q`` of a []string: ``["a" "b"]`` (space separated)."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def aggregate_messages(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several de-duplicated in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
