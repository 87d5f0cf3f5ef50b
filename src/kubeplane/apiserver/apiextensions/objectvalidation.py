"""Validation of custom objects against their CRD's structural schema.

Each failure becomes a field cause the way apiextensions turns kube-openapi's results into field
errors: ``Required``, ``Unsupported`` (enum), ``Too long`` / ``Too many``, a type mismatch as
``Invalid value: "<actual type>": <path> in body must be of type <type>: "<actual type>"``, and
every other check as ``Invalid value: <value>: <path> in body should ...``. Then the rules that
are not value checks: list sets and maps without duplicates, embedded resources' TypeMeta and
ObjectMeta.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f
from kubeplane.machinery.validation import meta
from kubeplane.machinery.validation import names as name_checks

from . import formats

JSON = dict[str, Any]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_type(value: Any, wanted: str) -> bool:
    actual = json_type(value)
    if wanted == "number":
        return actual in ("integer", "number")
    if wanted == "integer" and isinstance(value, float):
        return value.is_integer()
    return actual == wanted


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Validator:
    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def fail(self, path: str, value: Any, detail: str) -> None:
        self.causes.append(f.invalid(path, value, f"{path} in body {detail}"))

    def walk(self, value: Any, node: JSON, path: str) -> None:
        if value is None:
            if not node.get("nullable") and node.get("type"):
                self.causes.append(f.type_invalid(path, "null", f'{path} in body must be of type {node["type"]}: "null"'))
            return
        if node.get("x-kubernetes-int-or-string") and not (_is_type(value, "integer") or isinstance(value, str)):
            actual = json_type(value)
            for wanted in ("integer", "string"):
                self.causes.append(f.type_invalid(path, actual, f'{path} in body must be of type {wanted}: "{actual}"'))
            return
        wanted = str(node.get("type") or "")
        if wanted and not _is_type(value, wanted):
            actual = json_type(value)
            self.causes.append(f.type_invalid(path, actual, f'{path} in body must be of type {wanted}: "{actual}"'))
            return
        self._enum(value, node, path)
        self._junctors(value, node, path)
        if isinstance(value, str):
            self._string(value, node, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number(value, node, path)
        elif isinstance(value, list):
            self._array(value, node, path)
        elif isinstance(value, dict):
            self._object(value, node, path)

    def _enum(self, value: Any, node: JSON, path: str) -> None:
        allowed = node.get("enum")
        if isinstance(allowed, list) and value not in allowed:
            shown = [a if isinstance(a, str) else json.dumps(a) for a in allowed]
            self.causes.append(f.not_supported(path, value, shown))

    def _junctors(self, value: Any, node: JSON, path: str) -> None:
        for branch in node.get("allOf") or ():
            self.walk(value, branch, path)
        any_of = node.get("anyOf")
        if any_of and not any(_passes(value, b, path) for b in any_of):
            self.fail(path, value, "must validate at least one schema (anyOf)")
            self.causes.extend(_run(value, any_of[0], path))
        one_of = node.get("oneOf")
        if one_of and sum(1 for b in one_of if _passes(value, b, path)) != 1:
            self.fail(path, value, "must validate one and only one schema (oneOf)")
        negated = node.get("not")
        if isinstance(negated, dict) and _passes(value, negated, path):
            self.fail(path, value, "must not validate the schema (not)")

    def _string(self, value: str, node: JSON, path: str) -> None:
        max_length = node.get("maxLength")
        if isinstance(max_length, int) and len(value) > max_length:
            self.causes.append(f.too_long(path, max_length))
        min_length = node.get("minLength")
        if isinstance(min_length, int) and len(value) < min_length:
            self.fail(path, value, f"should be at least {min_length} chars long")
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            try:
                if re.search(pattern, value) is None:
                    self.fail(path, value, f"should match '{pattern}'")
            except re.error:
                pass  # the CRD's validation reports bad patterns
        format_name = node.get("format")
        if isinstance(format_name, str) and not formats.conforms(format_name, value):
            self.fail(path, value, f'must be of type {format_name}: "{value}"')

    def _number(self, value: float, node: JSON, path: str) -> None:
        maximum = node.get("maximum")
        if isinstance(maximum, int | float):
            if node.get("exclusiveMaximum") and value >= maximum:
                self.fail(path, value, f"should be less than {_number(maximum)}")
            elif value > maximum:
                self.fail(path, value, f"should be less than or equal to {_number(maximum)}")
        minimum = node.get("minimum")
        if isinstance(minimum, int | float):
            if node.get("exclusiveMinimum") and value <= minimum:
                self.fail(path, value, f"should be greater than {_number(minimum)}")
            elif value < minimum:
                self.fail(path, value, f"should be greater than or equal to {_number(minimum)}")
        multiple = node.get("multipleOf")
        if isinstance(multiple, int | float) and multiple > 0:
            ratio = value / multiple
            if not math.isclose(ratio, round(ratio)):
                self.fail(path, value, f"should be a multiple of {_number(multiple)}")

    def _array(self, value: list[Any], node: JSON, path: str) -> None:
        max_items = node.get("maxItems")
        if isinstance(max_items, int) and len(value) > max_items:
            self.causes.append(f.too_many(path, len(value), max_items))
        min_items = node.get("minItems")
        if isinstance(min_items, int) and len(value) < min_items:
            self.fail(path, len(value), f"should have at least {min_items} items")
        items = node.get("items")
        if isinstance(items, dict):
            for i, element in enumerate(value):
                self.walk(element, items, f.index(path, i))
        self._list_type(value, node, path)

    def _list_type(self, value: list[Any], node: JSON, path: str) -> None:
        list_type = node.get("x-kubernetes-list-type")
        if list_type == "set":
            seen: list[Any] = []
            for i, element in enumerate(value):
                if element in seen:
                    self.causes.append(f.duplicate(f.index(path, i), element))
                else:
                    seen.append(element)
        elif list_type == "map":
            keys = list(node.get("x-kubernetes-list-map-keys") or ())
            seen_keys: list[JSON] = []
            for i, element in enumerate(value):
                if not isinstance(element, dict):
                    continue
                key = {k: element.get(k) for k in keys if k in element}
                if key in seen_keys:
                    rendered = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in key.items())
                    self.causes.append(f.duplicate(f.index(path, i),
                                                   f.Rendered(f"map[string]interface {{}}{{{rendered}}}")))
                else:
                    seen_keys.append(key)

    def _object(self, value: JSON, node: JSON, path: str) -> None:
        properties: JSON = node.get("properties") or {}
        for name in node.get("required") or ():
            if name not in value:
                self.causes.append(f.required(f.child(path, name)))
        max_properties = node.get("maxProperties")
        if isinstance(max_properties, int) and len(value) > max_properties:
            self.causes.append(f.too_many(path, len(value), max_properties))
        min_properties = node.get("minProperties")
        if isinstance(min_properties, int) and len(value) < min_properties:
            self.fail(path, len(value), f"should have at least {min_properties} properties")
        extra = node.get("additionalProperties")
        for name, element in value.items():
            child = properties.get(name)
            if isinstance(child, dict):
                self.walk(element, child, f.child(path, name))
            elif isinstance(extra, dict):
                self.walk(element, extra, f.child(path, name))
        if node.get("x-kubernetes-embedded-resource") and value:
            self.causes.extend(_embedded(value, path))


def _run(value: Any, node: JSON, path: str) -> list[Cause]:
    validator = _Validator()
    validator.walk(value, node, path)
    return validator.causes


def _passes(value: Any, node: JSON, path: str) -> bool:
    return not _run(value, node, path)


def _embedded(value: JSON, path: str) -> list[Cause]:
    causes: list[Cause] = []
    api_version = value.get("apiVersion")
    if not api_version:
        causes.append(f.required(f.child(path, "apiVersion"), "must not be empty"))
    kind = value.get("kind")
    if not kind:
        causes.append(f.required(f.child(path, "kind"), "must not be empty"))
    elif isinstance(kind, str):
        errs = name_checks.dns1035_label(kind.lower())
        if errs:
            causes.append(f.invalid(f.child(path, "kind"), kind,
                                    "may have mixed case, but should otherwise match: " + ",".join(errs)))
    metadata = value.get("metadata")
    if isinstance(metadata, dict) and metadata:
        # An embedded object's name is optional (templates), so only its format is checked.
        with_name = {"metadata": {**metadata, "name": metadata.get("name") or "x"}}
        for cause in meta.validate(with_name, name_checks.dns1123_subdomain, None):
            causes.append(Cause(cause.type, cause.message, f"{path}.{cause.field}"))
    return causes


def validate_value(obj: JSON, schema: JSON) -> list[Cause]:
    """Causes for every violation of ``schema`` by ``obj`` (the whole custom object)."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    node = {k: v for k, v in schema.items() if k != "required"}
    node["required"] = [r for r in schema.get("required") or () if r not in ("apiVersion", "kind", "metadata")]
    node["properties"] = {k: v for k, v in (schema.get("properties") or {}).items()
                          if k not in ("apiVersion", "kind", "metadata")}
    return _run(body, node, "")
