"""The 400 a kube-apiserver sends when a built-in object's body does not fit its Go types.

Upstream decodes a create or update body into the kind's typed structs before anything else, so a
value of the wrong JSON type is a decoding error worded by Go's encoding/json, not a validation
error: ``Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal
string into Go struct field DeploymentSpec.spec.replicas of type int32``. The struct is the
innermost one holding the field, the field path lists struct fields from the top (no list indexes,
no map keys), the type is the field's Go type (a list element's or map value's when the mismatch is
inside one). Types with their own JSON decoding word it their way: Quantity, IntOrString, Time.
Custom resources are unstructured upstream and keep their 422 (not handled here).
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.schema import Schemas, type_names

JSON = dict[str, Any]
Segments = list[tuple[str | int, bool]]

_REF_PREFIX = "#/$defs/"
QUANTITY_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
# Definitions whose Go type decodes JSON itself, and what a wrongly typed value gives there.
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_SELF_DECODED_AS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int32",  # a non-string is read as int32
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "string",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "string",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Duration": "string",
}
_INTEGER_FORMATS = {"int32": "int32", "int64": "int64"}


def message(schemas: Schemas, kind: str, version: str, root: str, segments: Segments, value: Any) -> str | None:
    """The 400 message for ``value`` at ``segments`` in an object of definition ``root``; None when
    the path cannot be followed in the schema (the caller keeps its 422)."""
    detail = _detail(schemas, root, segments, value)
    if detail is None:
        return None
    return f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}'


def _detail(schemas: Schemas, root: str, segments: Segments, value: Any) -> str | None:
    node: JSON | None = {"$ref": _REF_PREFIX + root}
    struct, fields = "", []
    for segment, bracketed in segments:
        resolved = schemas.resolve(node)
        if resolved is None:
            return None
        if bracketed:  # a list element or a map value
            node = resolved.get("items") if "array" in type_names(resolved) else resolved.get("additionalProperties")
        else:
            struct = _short_name(_definition_of(node)) or struct
            fields.append(str(segment))
            node = (resolved.get("properties") or {}).get(str(segment))
        if not isinstance(node, dict):
            return None
    if node is None or not fields:
        return None  # the root object itself: a body that is not an object is refused earlier
    definition = _definition_of(node)
    if definition == _QUANTITY:
        return QUANTITY_FORMAT
    if definition in _SELF_DECODED_AS:
        return f"json: cannot unmarshal {_json_kind(value)} into Go value of type {_SELF_DECODED_AS[definition]}"
    go_type = _go_type(schemas, node)
    if go_type is None:
        return None
    found = _json_kind(value)
    if go_type in ("int32", "int64") and isinstance(value, float):
        found = f"number {value!r}"  # Go names a number it could not read as an integer
    return f"json: cannot unmarshal {found} into Go struct field {struct}.{'.'.join(fields)} of type {go_type}"


def _definition_of(node: JSON | None) -> str:
    ref = (node or {}).get("$ref", "")
    return ref[len(_REF_PREFIX):] if isinstance(ref, str) and ref.startswith(_REF_PREFIX) else ""


def _short_name(definition: str) -> str:
    return definition.rsplit(".", 1)[-1] if definition else ""


def _go_type(schemas: Schemas, node: JSON) -> str | None:
    """``int32``, ``[]v1.Container``, ``map[string]string``, ``v1.PodSpec`` ... as Go prints it."""
    definition = _definition_of(node)
    if definition:
        package, _, name = definition.rpartition(".")
        return f"{package.rsplit('.', 1)[-1]}.{name}"
    types = type_names(node)
    if "array" in types:
        inner = _go_type(schemas, node.get("items") or {})
        return None if inner is None else f"[]{inner}"
    if "object" in types:
        extra = node.get("additionalProperties")
        inner = _go_type(schemas, extra) if isinstance(extra, dict) else None
        return None if inner is None else f"map[string]{inner}"
    if "string" in types:
        return "[]uint8" if node.get("format") == "byte" else "string"
    if "integer" in types:
        return _INTEGER_FORMATS.get(str(node.get("format")), "int64")
    if "number" in types:
        return "float64"
    if "boolean" in types:
        return "bool"
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
