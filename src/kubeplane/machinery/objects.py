"""Copying JSON objects.

A round trip through orjson copies a typical pod about 8x faster than ``copy.deepcopy`` (measured:
2.5 µs against 20 µs for a 1 KB pod), and copies are on every write path. Values orjson cannot encode
(integers beyond 64 bits or non-string keys from a YAML body) fall back to deepcopy.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


def clone(value: T) -> T:
    try:
        copied: Any = orjson.loads(orjson.dumps(value))
    except (orjson.JSONEncodeError, orjson.JSONDecodeError, TypeError):
        return copy.deepcopy(value)
    return copied
