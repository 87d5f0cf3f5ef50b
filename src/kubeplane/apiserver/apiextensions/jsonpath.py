"""The simple JSONPath subset printer columns and scale paths use: ``.a.b``, ``.a[0]``, ``.a['x.y']``,
``.a[*].b`` (first match), optionally wrapped in ``{}`` as kubectl writes templates."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"""\.([^.\[\]]+)|\[(\d+|\*)\]|\[['"]([^'"]+)['"]\]""")
_MISSING = object()


class JSONPathError(ValueError):
    pass


def parse(path: str) -> list[str | int]:
    """Steps of a path: names (str), indices (int) and ``"*"`` for every element."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    steps: list[str | int] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise JSONPathError(f"unrecognized character in path at {position}: {text!r}")
        name, index, quoted = match.groups()
        if name is not None:
            steps.append(name)
        elif quoted is not None:
            steps.append(quoted)
        elif index == "*":
            steps.append("*")
        else:
            steps.append(int(index))
        position = match.end()
    return steps


def find(obj: Any, path: str) -> tuple[bool, Any]:
    """(found, value) of the first match of ``path`` in ``obj``."""
    try:
        steps = parse(path)
    except JSONPathError:
        return False, None
    value = _walk(obj, steps)
    return (False, None) if value is _MISSING else (True, value)


def _walk(value: Any, steps: list[str | int]) -> Any:
    for position, step in enumerate(steps):
        if step == "*":
            if not isinstance(value, list):
                return _MISSING
            for element in value:
                found = _walk(element, steps[position + 1:])
                if found is not _MISSING:
                    return found
            return _MISSING
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return _MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return _MISSING
            value = value[step]
    return value


def set_value(obj: dict[str, Any], path: str, new: Any) -> None:
    """Set a plain ``.a.b.c`` path, creating objects on the way (scale's specReplicasPath)."""
    steps = parse(path)
    target: Any = obj
    for step in steps[:-1]:
        if not isinstance(step, str) or not isinstance(target, dict):
            raise JSONPathError(f"cannot set {path}")
        target = target.setdefault(step, {})
    last = steps[-1]
    if not isinstance(last, str) or not isinstance(target, dict):
        raise JSONPathError(f"cannot set {path}")
    target[last] = new
