"""Structural-schema rules for a CRD version's ``openAPIV3Schema`` (upstream's ValidateStructural
plus the extension rules apiextensions checks beside it).

A schema is structural when every specified field has a type outside of value validations
(``allOf``/``anyOf``/``oneOf``/``not``), root metadata restricts at most name and generateName,
and the ``x-kubernetes-*`` extensions are used where they make sense. Paths and messages are
upstream's, so a rejected CRD reads the same as on a real cluster.
"""

from __future__ import annotations

import re
from typing import Any

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f

JSON = dict[str, Any]

ROOT, ITEM, FIELD = "root", "item", "field"
_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_LIST_TYPES = ("atomic", "set", "map")
_MAP_TYPES = ("granular", "atomic")
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]
# Fields of a schema that describe structure; under a junctor they would contradict it.
_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
)


def props_path(path: str, name: str) -> str:
    return f"{path}.properties[{name}]"


def validate_schema(schema: Any, path: str) -> list[Cause]:
    """All structural and extension violations of a version's openAPIV3Schema at ``path``."""
    if not isinstance(schema, dict):
        return [f.required(path, "")]
    causes = _node(schema, ROOT, path)
    # Upstream sorts by the rendered error so the list is stable.
    return sorted(f.dedupe(causes), key=lambda c: f"{c.field}: {c.message}")


def _truthy(node: JSON, key: str) -> bool:
    return bool(node.get(key))


def _node(node: JSON, level: str, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if "$ref" in node:
        causes.append(f.forbidden(f"{path}.$ref", "$ref is not supported"))
    node_type = node.get("type") or ""
    if node_type and node_type not in _TYPES:
        causes.append(f.not_supported(f"{path}.type", node_type, _TYPES))
    items = node.get("items")
    if node_type == "array" and items is None:
        causes.append(f.required(f"{path}.items", "must be specified"))
    if isinstance(items, dict):
        causes += _node(items, ITEM, f"{path}.items")
    elif isinstance(items, list):
        causes.append(f.forbidden(f"{path}.items", "items must be a schema object and not an array"))
    properties = node.get("properties") or {}
    for name, child in properties.items():
        if isinstance(child, dict):
            causes += _node(child, FIELD, props_path(path, name))
    extra = node.get("additionalProperties")
    if extra is not None:
        if level == ROOT:
            causes.append(f.forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if properties:
            causes.append(f.forbidden(f"{path}.additionalProperties",
                                      "additionalProperties and properties are mutual exclusive"))
        if extra is False:
            causes.append(f.forbidden(f"{path}.additionalProperties", "must not be false"))
        elif isinstance(extra, dict):
            causes += _node(extra, FIELD, f"{path}.additionalProperties")
    causes += _extensions(node, path)
    causes += _value_validation(node, level, path)
    causes += _types_and_metadata(node, level, path)
    if node.get("uniqueItems") is True:
        causes.append(f.forbidden(f"{path}.uniqueItems",
                                  "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            causes.append(f.invalid(f"{path}.pattern", pattern,
                                    f"must be a valid regular expression, but isn't: {exc}"))
    return causes


def _extensions(node: JSON, path: str) -> list[Cause]:
    causes: list[Cause] = []
    int_or_string = _truthy(node, "x-kubernetes-int-or-string")
    if int_or_string and _truthy(node, "x-kubernetes-preserve-unknown-fields"):
        causes.append(f.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True,
                                "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and _truthy(node, "x-kubernetes-embedded-resource"):
        causes.append(f.invalid(f"{path}.x-kubernetes-embedded-resource", True,
                                "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and node.get("type"):
        causes.append(f.invalid(f"{path}.type", node["type"], "must be empty if x-kubernetes-int-or-string is true"))
    if node.get("x-kubernetes-preserve-unknown-fields") is False:
        causes.append(f.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    node_type = node.get("type") or ""
    if _truthy(node, "x-kubernetes-preserve-unknown-fields") and node_type and node_type != "object":
        causes.append(f.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True,
                                "must be false if type is not object"))
    causes += _list_extensions(node, path, node_type)
    map_type = node.get("x-kubernetes-map-type")
    if map_type is not None:
        if map_type not in _MAP_TYPES:
            causes.append(f.not_supported(f"{path}.x-kubernetes-map-type", map_type, _MAP_TYPES))
        elif node_type != "object":
            causes.append(f.invalid(f"{path}.type", node_type,
                                    "must be object if x-kubernetes-map-type is specified"))
    return causes


def _list_extensions(node: JSON, path: str, node_type: str) -> list[Cause]:
    causes: list[Cause] = []
    list_type = node.get("x-kubernetes-list-type")
    map_keys = node.get("x-kubernetes-list-map-keys")
    if list_type is not None and list_type not in _LIST_TYPES:
        causes.append(f.not_supported(f"{path}.x-kubernetes-list-type", list_type, _LIST_TYPES))
        return causes
    if list_type is not None and node_type != "array":
        causes.append(f.invalid(f"{path}.type", node_type, "must be array if x-kubernetes-list-type is specified"))
        return causes
    raw_items = node.get("items")
    items: JSON = raw_items if isinstance(raw_items, dict) else {}
    if list_type == "set" and items.get("type") not in (None, "string", "integer", "number", "boolean"):
        if items.get("type") == "object" and items.get("x-kubernetes-map-type") == "atomic":
            pass
        else:
            causes.append(f.invalid(f"{path}.items.x-kubernetes-map-type", items.get("x-kubernetes-map-type"),
                                    "must be atomic as item of a list with x-kubernetes-list-type=set"))
    if list_type == "map":
        if not map_keys:
            causes.append(f.required(f"{path}.x-kubernetes-list-map-keys",
                                     "must not be empty if x-kubernetes-list-type is map"))
        if items.get("type") != "object":
            causes.append(f.invalid(f"{path}.items.type", items.get("type") or "",
                                    "must be object when x-kubernetes-list-type is map"))
        else:
            item_props = items.get("properties") or {}
            for key in map_keys or ():
                prop = item_props.get(key)
                if prop is None:
                    causes.append(f.required(f"{path}.items.properties[{key}]",
                                             "entries with x-kubernetes-list-map-keys must have this property"))
                elif prop.get("type") not in ("string", "integer", "number", "boolean"):
                    causes.append(f.invalid(f"{path}.items.properties[{key}].type", prop.get("type") or "",
                                            "must be a scalar type if used as list map key"))
    elif map_keys:
        causes.append(f.forbidden(f"{path}.x-kubernetes-list-map-keys",
                                  "must be empty if x-kubernetes-list-type is not map"))
    return causes


def _types_and_metadata(node: JSON, level: str, path: str) -> list[Cause]:
    causes: list[Cause] = []
    node_type = node.get("type") or ""
    embedded = _truthy(node, "x-kubernetes-embedded-resource")
    if embedded and node_type != "object":
        if node_type:
            causes.append(f.invalid(f"{path}.type", node_type, "must be object if x-kubernetes-embedded-resource is true"))
        else:
            causes.append(f.required(f"{path}.type", "must be object if x-kubernetes-embedded-resource is true"))
    elif not node_type and not _truthy(node, "x-kubernetes-int-or-string") and \
            not _truthy(node, "x-kubernetes-preserve-unknown-fields"):
        detail = {ROOT: "must not be empty at the root", ITEM: "must not be empty for specified array items",
                  FIELD: "must not be empty for specified object fields"}[level]
        causes.append(f.required(f"{path}.type", detail))
    if embedded and node.get("additionalProperties") is not None:
        causes.append(f.forbidden(f"{path}.additionalProperties",
                                  "must not be used if x-kubernetes-embedded-resource is set"))
    if level == ROOT and node_type and node_type != "object":
        causes.append(f.invalid(f"{path}.type", node_type, "must be object at the root"))
    properties = node.get("properties") or {}
    if level == ROOT or embedded:
        for name, wanted in (("kind", "string"), ("apiVersion", "string"), ("metadata", "object")):
            prop = properties.get(name)
            if isinstance(prop, dict) and prop.get("type", "") != wanted:
                causes.append(f.invalid(f"{props_path(path, name)}.type", prop.get("type", ""), f"must be {wanted}"))
    metadata = properties.get("metadata")
    if level == ROOT and isinstance(metadata, dict) and not _only_names(metadata):
        causes.append(f.forbidden(props_path(path, "metadata"),
                                  "must not specify anything other than name and generateName, but metadata is "
                                  "implicitly specified"))
    if embedded and not _truthy(node, "x-kubernetes-preserve-unknown-fields") and not properties:
        causes.append(f.required(f"{path}.properties", "must not be empty if x-kubernetes-embedded-resource is "
                                                       "true without x-kubernetes-preserve-unknown-fields"))
    return causes


def _only_names(metadata: JSON) -> bool:
    """Root metadata may say it is an object and restrict name/generateName, nothing else."""
    rest = {k: v for k, v in metadata.items() if k not in ("type", "properties", "description")}
    props = metadata.get("properties") or {}
    return not rest and set(props) <= {"name", "generateName"}


def _value_validation(node: JSON, level: str, path: str, skip_any_of: bool = False) -> list[Cause]:
    causes: list[Cause] = []
    int_or_string_any_of = node.get("anyOf") == _INT_OR_STRING_ANY_OF
    for junctor in _JUNCTORS:
        branches = node.get(junctor)
        if not isinstance(branches, list):
            continue
        for i, branch in enumerate(branches):
            if not isinstance(branch, dict):
                continue
            if junctor == "anyOf" and (int_or_string_any_of or skip_any_of):
                continue
            skip_first = junctor == "allOf" and i == 0 and branch.get("anyOf") == _INT_OR_STRING_ANY_OF
            causes += _nested(branch, level, f"{path}.{junctor}[{i}]", skip_first)
    negated = node.get("not")
    if isinstance(negated, dict):
        causes += _nested(negated, level, f"{path}.not", False)
    return causes


def _nested(node: JSON, level: str, path: str, skip_any_of: bool) -> list[Cause]:
    """A schema under a junctor may only restrict values, never add structure."""
    causes = _value_validation(node, level, path, skip_any_of)
    items = node.get("items")
    if isinstance(items, dict):
        causes += _nested(items, level, f"{path}.items", False)
    for name, child in (node.get("properties") or {}).items():
        if isinstance(child, dict):
            causes += _nested(child, FIELD, props_path(path, name), False)
    for key, message in _NESTED_FORBIDDEN:
        if node.get(key) not in (None, False, "", []) or (key == "default" and "default" in node):
            causes.append(f.forbidden(f"{path}.{key}", message))
    if "metadata" in (node.get("properties") or {}):
        causes.append(f.forbidden(props_path(path, "metadata"), "must not be specified in a nested context"))
    return causes
