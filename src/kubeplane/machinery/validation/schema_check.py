"""Schema-driven checks of a whole object: JSON types, required fields and unknown fields.

Walks the object alongside its OpenAPI definition (``kubeplane.machinery.schema``). Upstream does
the type part while decoding (a wrong type fails the request); here every mismatch becomes a field
cause so a bad body is reported, never crashes a validator. Unknown fields are collected for
``fieldValidation=Strict|Warn``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.schema import JSON, Schemas, type_names

from . import field as f
from . import quantity

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass
class SchemaReport:
    type_errors: list[Cause] = field(default_factory=list)
    missing: list[Cause] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _matches(value: Any, type_name: str) -> bool:
    if isinstance(value, bool) and type_name in ("integer", "number"):
        return False
    return isinstance(value, _PY_TYPES.get(type_name, (object,)))


# Per schema node (definitions are loaded once and never freed, so ids are stable): the JSON types it
# admits, the Python types that match them, and whether a bool would be mistaken for a number.
_NodeTypes = tuple[frozenset[str], tuple[type, ...], bool]
_TYPES_BY_NODE: dict[int, _NodeTypes] = {}


def _node_types(node: JSON) -> _NodeTypes:
    cached = _TYPES_BY_NODE.get(id(node))
    if cached is None:
        types = frozenset(type_names(node))
        python_types = tuple({t for name in types for t in _PY_TYPES.get(name, (object,))})
        cached = (types, python_types, "boolean" not in types)
        _TYPES_BY_NODE[id(node)] = cached
    return cached


class _Walker:
    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        self.quantity = schemas.defs.get(QUANTITY)
        self.int_or_string = schemas.defs.get(INT_OR_STRING)
        self.report = SchemaReport()

    def walk(self, value: Any, node: JSON | None, path: str, in_status: bool) -> None:
        node = self.schemas.resolve(node)
        if node is None or value is None:
            # No schema (free-form) or JSON null, which decodes to the zero value upstream.
            return
        if node is self.quantity:
            if not quantity.is_valid(value):
                self.report.type_errors.append(f.invalid(path, value, quantity.QUANTITY_FORMAT_MSG))
            return
        if node is self.int_or_string:
            if not (_matches(value, "integer") or isinstance(value, str)):
                self.report.type_errors.append(f.type_invalid(path, value, "must be an integer or a string"))
            return
        types, python_types, rejects_bool = _node_types(node)
        if types and (not isinstance(value, python_types) or (rejects_bool and isinstance(value, bool))):
            expected = " or ".join(sorted(types))
            self.report.type_errors.append(f.type_invalid(path, value, f"must be of type {expected}"))
            return
        if isinstance(value, dict):
            self._object(value, node, path, in_status)
        elif isinstance(value, list):
            items = node.get("items")
            for i, element in enumerate(value):
                self.walk(element, items, f.index(path, i), in_status)

    def _object(self, value: JSON, node: JSON, path: str, in_status: bool) -> None:
        properties: JSON = node.get("properties") or {}
        extra = node.get("additionalProperties")
        if not properties and not isinstance(extra, dict):
            return  # free-form object (RawExtension, JSON): anything goes
        keeps_unknown = bool(node.get("x-kubernetes-preserve-unknown-fields"))
        for name, element in value.items():
            child_path = f.child(path, name)
            if name in properties:
                self.walk(element, properties[name], child_path, in_status or child_path == "status")
            elif isinstance(extra, dict):
                # Map entries print as path[key], as upstream does.
                self.walk(element, extra, f.key(path, name), in_status)
            elif not keeps_unknown:
                self.report.unknown.append(child_path)
        if in_status:
            return  # status is written by controllers; upstream does not require its fields
        for name in node.get("required") or ():
            if value.get(name) is None:
                self.report.missing.append(f.required(f.child(path, name)))


def check(schemas: Schemas, definition: JSON | None, obj: JSON) -> SchemaReport:
    walker = _Walker(schemas)
    if definition is not None:
        walker.walk(obj, definition, "", False)
    return walker.report
