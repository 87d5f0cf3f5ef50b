"""Access to the per-version OpenAPI-derived schemas shipped in PyPI ``kubernetes-validate``.

Each Kubernetes minor ships one ``_definitions.json`` whose ``$defs`` maps definition names
(``io.k8s.api.core.v1.Pod``) to JSON-schema nodes that keep upstream's ``x-kubernetes-*``
extensions (patch strategies and merge keys, list types and map keys, group-version-kind).
Nullable types appear as ``"type": ["string", "null"]``; references as ``{"$ref": "#/$defs/NAME"}``.

Everything that is driven by schemas (validation, defaulting of unknown fields, strategic merge
patch, OpenAPI documents) reaches them through this module.
"""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar

JSON = dict[str, Any]

_REF_PREFIX = "#/$defs/"


def _schema_dir() -> Any:
    return resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")


@functools.cache
def available_minors() -> tuple[str, ...]:
    """Minors whose schemas ship, e.g. ("1.25", ..., "1.37"), oldest first."""
    minors = []
    for entry in _schema_dir().iterdir():
        name = entry.name
        if name.startswith("v") and name.endswith("-local"):
            major, minor, _patch = name[1:-len("-local")].split(".")
            minors.append((int(major), int(minor)))
    return tuple(f"{a}.{b}" for a, b in sorted(minors))


@functools.cache
def definitions(minor: str) -> dict[str, JSON]:
    """All definitions for a minor ("1.35"), keyed by definition name. Cached; treat as read-only."""
    path = _schema_dir().joinpath(f"v{minor}.0-local").joinpath("_definitions.json")
    data: JSON = json.loads(path.read_text())
    defs: dict[str, JSON] = data["$defs"]
    return defs


class Schemas:
    """The schemas of one Kubernetes minor, with $ref resolution and lookups by GVK."""

    def __init__(self, minor: str) -> None:
        self.minor = minor
        self.defs = definitions(minor)
        self._by_gvk: dict[tuple[str, str, str], str] = {}
        for name, node in self.defs.items():
            for gvk in node.get("x-kubernetes-group-version-kind", ()):
                self._by_gvk.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)

    def resolve(self, node: JSON | None) -> JSON | None:
        """Follow ``$ref`` (possibly chained) to the referenced definition."""
        while node is not None and "$ref" in node:
            ref: str = node["$ref"]
            node = self.defs.get(ref[len(_REF_PREFIX):]) if ref.startswith(_REF_PREFIX) else None
        return node

    def definition_name_for(self, group: str, version: str, kind: str) -> str | None:
        return self._by_gvk.get((group, version, kind))

    def for_kind(self, group: str, version: str, kind: str) -> JSON | None:
        name = self.definition_name_for(group, version, kind)
        return self.defs[name] if name else None

    def property(self, node: JSON | None, name: str) -> JSON | None:
        """The resolved schema of ``node.properties[name]`` (or of additionalProperties)."""
        node = self.resolve(node)
        if node is None:
            return None
        props = node.get("properties")
        if props and name in props:
            return self.resolve(props[name])
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return self.resolve(extra)
        return None

    def items(self, node: JSON | None) -> JSON | None:
        """The resolved schema of an array's elements."""
        node = self.resolve(node)
        if node is None:
            return None
        return self.resolve(node.get("items"))


@functools.cache
def schemas(minor: str) -> Schemas:
    return Schemas(minor)


def type_names(node: JSON) -> set[str]:
    """The JSON types a node admits, without "null" (``["string","null"]`` -> {"string"})."""
    t = node.get("type")
    if t is None:
        return set()
    if isinstance(t, str):
        return {t}
    return {x for x in t if x != "null"}


_Compiled = TypeVar("_Compiled")


def per_schemas(build: Callable[[Schemas], _Compiled]) -> Callable[[Schemas], _Compiled]:
    """Memoise ``build`` per Schemas instance, weakly: compiled walkers live as long as the
    schemas they were compiled from (CRD schemas come and go with their CRDs)."""
    built: weakref.WeakKeyDictionary[Schemas, _Compiled] = weakref.WeakKeyDictionary()

    def cached(schemas: Schemas) -> _Compiled:
        value = built.get(schemas)
        if value is None:
            value = built[schemas] = build(schemas)
        return value

    return cached
