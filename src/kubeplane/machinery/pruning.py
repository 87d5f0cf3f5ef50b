"""Drop fields an object's schema does not declare, reporting them.

Upstream decodes bodies into typed structs, so unknown fields silently vanish (or, with
``fieldValidation=Strict``, fail the request). Our objects are dicts, so the schema walk here does
the same job: it removes what a typed decode would drop and names each path the way the API
server's strict decoding error does (``spec.containers[0].foo``).
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.schema import JSON, Schemas

_PRESERVE = "x-kubernetes-preserve-unknown-fields"


def prune_unknown_fields(schemas: Schemas, node: JSON | None, obj: Any, path: str = "") -> list[str]:
    """Remove undeclared fields from ``obj`` in place; return their paths in document order."""
    removed: list[str] = []
    _prune(schemas, schemas.resolve(node), obj, path, removed)
    return removed


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prune(schemas: Schemas, node: JSON | None, obj: Any, path: str, removed: list[str]) -> None:
    if node is None or node.get(_PRESERVE):
        return
    if isinstance(obj, dict):
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if props is None:
            # A map (additionalProperties) or an opaque object (RawExtension): walk values only.
            if isinstance(extra, dict):
                value_node = schemas.resolve(extra)
                for key, value in obj.items():
                    _prune(schemas, value_node, value, _join(path, key), removed)
            return
        for key in list(obj):
            child = props.get(key)
            if child is None:
                if key in ("apiVersion", "kind") and not path:
                    continue
                removed.append(_join(path, key))
                del obj[key]
                continue
            _prune(schemas, schemas.resolve(child), obj[key], _join(path, key), removed)
    elif isinstance(obj, list):
        item_node = schemas.resolve(node.get("items"))
        for index, item in enumerate(obj):
            _prune(schemas, item_node, item, f"{path}[{index}]", removed)
