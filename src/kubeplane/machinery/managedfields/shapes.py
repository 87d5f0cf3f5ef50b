"""How structured-merge-diff sees a schema node: scalar, struct/map (granular or atomic), or list
(atomic, associative by keys, or set), following kube-openapi's schemaconv rules:

- lists: ``x-kubernetes-list-type`` atomic / set / map (keys from ``x-kubernetes-list-map-keys``);
  without it, ``x-kubernetes-patch-strategy`` containing ``merge`` makes the list associative on
  ``x-kubernetes-patch-merge-key`` (a set when there is no key); anything else is atomic.
- objects: ``x-kubernetes-map-type: atomic`` (on the definition or on the referring property) makes
  them leaves; RawExtension is an atomic leaf.
- nodes without a usable type (``{}``, objects without properties) are "deduced" from the value:
  maps granular, lists atomic — as upstream does for untyped and preserve-unknown-fields data.

Shapes are computed once per schema node and cached on the Schemas instance they came from.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from kubeplane.machinery.schema import Schemas, type_names

JSON = dict[str, Any]

SCALAR = "scalar"
LEAF = "leaf"  # atomic struct/map/list, or an opaque value: owned as a whole
MAP = "map"  # struct or map whose entries are tracked one by one
KEYED_LIST = "keyed-list"
SET_LIST = "set-list"
DEDUCED = "deduced"  # shape follows the value

_RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"


class Shape:
    """One schema node as structured-merge-diff classifies it, with lazily resolved children."""

    __slots__ = ("_children", "_elem_raw", "_elem_shape", "_fields", "_typer", "created_wire", "keys", "kind")

    def __init__(self, typer: _Typer, kind: str, fields: JSON | None = None, elem_raw: JSON | None = None,
                 keys: tuple[str, ...] = ()) -> None:
        self._typer = typer
        self.kind = kind
        self.keys = keys
        self._fields = fields or {}
        self._elem_raw = elem_raw
        self._elem_shape: Shape | None = None
        self._children: dict[str, Shape] = {}
        # The compiled every-path writer of ``managedfields.create``, built on first use.
        self.created_wire: Callable[[Any], JSON] | None = None

    def child(self, name: str) -> Shape:
        """The shape of struct field / map entry ``name`` (deduced when the schema does not say)."""
        shape = self._children.get(name)
        if shape is None:
            raw = self._fields.get(name)
            shape = self._typer.shape(raw) if raw is not None else self.element()
            self._children[name] = shape
        return shape

    def element(self) -> Shape:
        """The shape of list elements or of undeclared map entries."""
        if self._elem_shape is None:
            self._elem_shape = self._typer.shape(self._elem_raw) if self._elem_raw is not None else self._typer.deduced
        return self._elem_shape

    def declares(self, name: str) -> bool:
        return name in self._fields

    def declares_any(self) -> bool:
        return bool(self._fields)


class _Typer:
    """Shape cache for one Schemas instance."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        self.deduced = Shape(self, DEDUCED)
        # id(raw node) -> (raw node, shape); holding the node keeps its id from being reused.
        self._cache: dict[int, tuple[JSON, Shape]] = {}
        self._raw_extension = schemas.defs.get(_RAW_EXTENSION)

    def shape(self, raw: JSON) -> Shape:
        hit = self._cache.get(id(raw))
        if hit is not None:
            return hit[1]
        shape = self._classify(raw)
        self._cache[id(raw)] = (raw, shape)
        return shape

    def _classify(self, raw: JSON) -> Shape:
        node = self.schemas.resolve(raw)
        if node is None:
            return self.deduced
        if node is self._raw_extension:
            return Shape(self, LEAF)
        if "oneOf" in node or "anyOf" in node or node.get("x-kubernetes-int-or-string"):
            return Shape(self, SCALAR)
        types = type_names(node)
        if "array" in types:
            return self._classify_list(node)
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if "object" in types or props or isinstance(extra, dict):
            if raw.get("x-kubernetes-map-type") == "atomic" or node.get("x-kubernetes-map-type") == "atomic":
                return Shape(self, LEAF)
            if not props and not isinstance(extra, dict):
                return self.deduced
            elem = extra if isinstance(extra, dict) else ({} if node.get("x-kubernetes-preserve-unknown-fields") else None)
            return Shape(self, MAP, fields=props, elem_raw=elem)
        if types:
            return Shape(self, SCALAR)
        return self.deduced

    def _classify_list(self, node: JSON) -> Shape:
        items = node.get("items")
        list_type = node.get("x-kubernetes-list-type")
        if list_type == "map":
            keys = tuple(node.get("x-kubernetes-list-map-keys") or ())
            return Shape(self, KEYED_LIST if keys else SET_LIST, elem_raw=items, keys=keys)
        if list_type == "set":
            return Shape(self, SET_LIST, elem_raw=items)
        if list_type is None and node.get("x-kubernetes-patch-strategy") in ("merge", "merge,retainKeys"):
            key = node.get("x-kubernetes-patch-merge-key")
            return Shape(self, KEYED_LIST if key else SET_LIST, elem_raw=items, keys=(key,) if key else ())
        return Shape(self, LEAF)


_typers: weakref.WeakKeyDictionary[Schemas, _Typer] = weakref.WeakKeyDictionary()


def shape_of(schemas: Schemas, node: JSON) -> Shape:
    """The shape of ``node`` (a definition, a property, or a CRD's openAPIV3Schema)."""
    typer = _typers.get(schemas)
    if typer is None:
        typer = _typers[schemas] = _Typer(schemas)
    return typer.shape(node)


def effective_kind(shape: Shape, value: Any) -> str:
    """The shape kind that applies to ``value``: deduced shapes follow the value's JSON type."""
    kind = shape.kind
    if kind == DEDUCED:
        return MAP if isinstance(value, dict) else LEAF
    return kind
