"""Custom objects against a CRD schema: validation, pruning, defaulting, printing."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.apiextensions import jsonpath
from kubeplane.apiserver.apiextensions.defaulting import apply_defaults
from kubeplane.apiserver.apiextensions.objectvalidation import validate_value
from kubeplane.apiserver.apiextensions.printing import printer_for_columns
from kubeplane.apiserver.apiextensions.schema_adapter import pruning_schema
from kubeplane.machinery.printers.duration import Ages
from kubeplane.machinery.pruning import prune_unknown_fields
from kubeplane.machinery.schema import schemas

SCHEMA: dict[str, Any] = {"type": "object", "properties": {"spec": {"type": "object", "required": ["size"],
                                                                    "properties": {
    "size": {"type": "integer", "minimum": 1, "maximum": 10, "multipleOf": 1},
    "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 1},
    "name": {"type": "string", "minLength": 2, "maxLength": 4, "nullable": True},
    "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
    "when": {"type": "string", "format": "date-time"},
    "items": {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {
        "key": {"type": "string"}, "value": {"type": "integer", "default": 7}}},
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["key"]},
    "port": {"x-kubernetes-int-or-string": True},
    "inner": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {
        "spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
}}}}


def _messages(obj: dict[str, Any]) -> set[str]:
    return {f"{c.field}: {c.message}" for c in validate_value(obj, SCHEMA)}


def test_valid_object() -> None:
    obj = {"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w"},
           "spec": {"size": 3, "name": None, "port": "http", "when": "2024-01-02T03:04:05Z",
                    "items": [{"key": "a"}, {"key": "b"}], "labels": {"a": "b"}}}
    assert _messages(obj) == set()


def test_value_violations_use_upstream_messages() -> None:
    obj = {"spec": {"size": 12, "ratio": 1, "name": "toolong", "mode": "c", "when": "soon", "port": True,
                    "items": [{"key": "a"}, {"key": "a"}, {"key": "c"}], "labels": {"a": 1},
                    "inner": {"kind": "Pod"}}}
    out = _messages(obj)
    assert out >= {
        "spec.size: Invalid value: 12: spec.size in body should be less than or equal to 10",
        "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1",
        "spec.name: Too long: may not be more than 4 bytes",
        'spec.mode: Unsupported value: "c": supported values: "a", "b"',
        'spec.when: Invalid value: "soon": spec.when in body must be of type date-time: "soon"',
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer: "boolean"',
        "spec.items: Too many: 3: must have at most 2 items",
        'spec.items[1]: Duplicate value: map[string]interface {}{"key":"a"}',
        'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
        "spec.inner.apiVersion: Required value: must not be empty",
    }, out


def test_required_and_null() -> None:
    assert _messages({"spec": {"mode": None}}) == {
        "spec.size: Required value",
        'spec.mode: Invalid value: "null": spec.mode in body must be of type string: "null"'}


def test_pruning_keeps_metadata_and_embedded_type_meta() -> None:
    obj = {"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w", "bogus": 1},
           "spec": {"size": 1, "extra": True, "inner": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                                       "spec": {"x": "y", "z": 1}}}, "top": 1}
    removed = prune_unknown_fields(schemas("1.35"), pruning_schema(SCHEMA), obj)
    assert removed == ["metadata.bogus", "spec.extra", "spec.inner.spec.z", "top"]
    assert obj["spec"]["inner"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": "y"}}


def test_defaults_fill_missing_and_non_nullable_nulls() -> None:
    obj: dict[str, Any] = {"spec": {"size": 1, "mode": None, "items": [{"key": "a"}, {"key": "b", "value": 1}]}}
    apply_defaults(obj, SCHEMA)
    assert obj["spec"]["mode"] == "a"
    assert obj["spec"]["items"] == [{"key": "a", "value": 7}, {"key": "b", "value": 1}]


def test_printer_columns_and_jsonpath() -> None:
    printer = printer_for_columns([{"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                                   {"name": "First", "type": "string", "jsonPath": ".spec.items[0].key"},
                                   {"name": "Missing", "type": "string", "jsonPath": ".status.phase"}])
    assert [c.name for c in printer.columns] == ["Name", "Size", "First", "Missing"]
    obj = {"metadata": {"name": "w"}, "spec": {"size": 3, "items": [{"key": "k"}]}}
    assert printer.cells(obj, Ages(None)) == ["w", 3, "k", None]
    default = printer_for_columns(None)
    assert [c.name for c in default.columns] == ["Name", "Age"]
    assert jsonpath.find({"a": {"b.c": [1, 2]}}, "{.a['b.c'][1]}") == (True, 2)
