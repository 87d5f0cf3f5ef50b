"""What strict decoding reports about a body beyond its values: duplicate JSON keys and unknown
fields, in document order, as upstream's decoder words them (``duplicate field "metadata.name"``,
``unknown field "spec.foo"``). ``fieldValidation=Strict`` turns them into a 400, ``Warn`` (the
default) into one Warning header each.

Duplicate keys vanish once a body is parsed into a dict (the last value wins, as in Go), so they
are found on the raw bytes: a cheap pass asks whether any object repeats a key (most bodies do not,
and stop there), and only then a second pass records where.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DuplicateFields:
    """Repeated keys as (position, path), and the first position of every path, positions counting
    object members in document order."""

    duplicates: list[tuple[int, str]]
    positions: dict[str, int]


class _Members(list[tuple[str, Any]]):
    """An object's members in order, repeats kept."""


def find_duplicate_fields(data: bytes) -> DuplicateFields | None:
    """The JSON body's repeated keys, or None when there are none (or it is not JSON)."""
    repeated = False

    def check(members: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        as_dict = dict(members)
        if len(as_dict) != len(members):
            repeated = True
        return as_dict

    try:
        json.loads(data, object_pairs_hook=check)
    except (ValueError, RecursionError):
        return None
    if not repeated:
        return None
    report = DuplicateFields([], {})
    try:
        _walk(json.loads(data, object_pairs_hook=_Members), "", report, itertools.count())
    except RecursionError:  # nested deeper than the walk can follow: report no repeats, never fail
        return None
    return report


def _walk(node: Any, path: str, report: DuplicateFields, counter: Iterator[int]) -> None:
    if isinstance(node, _Members):
        seen: set[str] = set()
        for key, value in node:
            child = f"{path}.{key}" if path else key
            position = next(counter)
            if key in seen:
                report.duplicates.append((position, child))
            else:
                seen.add(key)
                report.positions.setdefault(child, position)
            _walk(value, child, report, counter)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _walk(item, f"{path}[{index}]", report, counter)


def decoding_problems(unknown: list[str], duplicates: DuplicateFields | None) -> list[str]:
    """The problems strict decoding reports, in document order. A repeated key inside an unknown
    field is reported only as the unknown field, as upstream."""
    problems = [f'unknown field "{path}"' for path in unknown]
    if duplicates is None or not duplicates.duplicates:
        return problems
    last = len(duplicates.positions) + len(duplicates.duplicates)
    ordered = [(duplicates.positions.get(path, last), text) for path, text in zip(unknown, problems, strict=True)]
    for position, path in duplicates.duplicates:
        if not any(path == u or path.startswith((u + ".", u + "[")) for u in unknown):
            ordered.append((position, f'duplicate field "{path}"'))
    return [text for _, text in sorted(ordered, key=lambda item: item[0])]


def strict_decoding_message(kind: str, version: str, problems: list[str]) -> str:
    """The 400 message upstream sends for ``fieldValidation=Strict``."""
    return f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {", ".join(problems)}'
