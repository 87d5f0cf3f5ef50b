"""Defaulting of custom objects from ``default`` in their structural schema.

As upstream: a missing field whose schema has a default gets a copy of it, and a null in a field
that is not nullable is dropped first so the default can take its place. Defaults inside
defaults are applied too, because the walk continues into the value just set.
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]


def apply_defaults(obj: Any, schema: JSON) -> None:
    """Fill defaults into ``obj`` in place."""
    _walk(obj, schema)


def _walk(value: Any, node: Any) -> None:
    if not isinstance(node, dict):
        return
    if isinstance(value, dict):
        properties = node.get("properties") or {}
        for name, child in properties.items():
            if not isinstance(child, dict):
                continue
            if value.get(name, ...) is None and not child.get("nullable") and "default" in child:
                del value[name]
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                _walk(value[name], child)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            for key in [k for k in value if k not in properties]:
                _walk(value[key], extra)
    elif isinstance(value, list):
        items = node.get("items")
        for element in value:
            _walk(element, items)
