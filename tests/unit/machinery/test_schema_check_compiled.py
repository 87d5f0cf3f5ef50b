"""The compiled schema check reports exactly what the interpreted walk it replaced reported
(kept below as the oracle): same type errors, missing fields and unknown fields, in the same order."""

from __future__ import annotations

import random
from typing import Any

import pytest
from create_path_corpus import KIND_OF, MINOR, corpus, damaged

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.schema import JSON, Schemas, schemas, type_names
from kubeplane.machinery.validation import field as f
from kubeplane.machinery.validation import quantity, schema_check


class _ReferenceWalk:
    """The schema walk as it was before compilation (schema dicts read on every value)."""

    def __init__(self, schemas_: Schemas) -> None:
        self.schemas = schemas_
        self.quantity = schemas_.defs.get(schema_check.QUANTITY)
        self.int_or_string = schemas_.defs.get(schema_check.INT_OR_STRING)
        self.type_errors: list[Cause] = []
        self.missing: list[Cause] = []
        self.unknown: list[str] = []

    def walk(self, value: Any, node: JSON | None, path: str, in_status: bool) -> None:
        node = self.schemas.resolve(node)
        if node is None or value is None:
            return
        if node is self.quantity:
            if not quantity.is_valid(value):
                self.type_errors.append(f.invalid(path, value, quantity.QUANTITY_FORMAT_MSG))
            return
        if node is self.int_or_string:
            if not (schema_check._matches(value, "integer") or isinstance(value, str)):
                self.type_errors.append(f.type_invalid(path, value, "must be an integer or a string"))
            return
        types = type_names(node)
        if types and not any(schema_check._matches(value, t) for t in types):
            self.type_errors.append(f.type_invalid(path, value, f"must be of type {' or '.join(sorted(types))}"))
            return
        if isinstance(value, dict):
            self._object(value, node, path, in_status)
        elif isinstance(value, list):
            for i, element in enumerate(value):
                self.walk(element, node.get("items"), f.index(path, i), in_status)

    def _object(self, value: JSON, node: JSON, path: str, in_status: bool) -> None:
        properties: JSON = node.get("properties") or {}
        extra = node.get("additionalProperties")
        if not properties and not isinstance(extra, dict):
            return
        keeps_unknown = bool(node.get("x-kubernetes-preserve-unknown-fields"))
        for name, element in value.items():
            child_path = f.child(path, name)
            if name in properties:
                self.walk(element, properties[name], child_path, in_status or child_path == "status")
            elif isinstance(extra, dict):
                self.walk(element, extra, f.key(path, name), in_status)
            elif not keeps_unknown:
                self.unknown.append(child_path)
        if in_status:
            return
        for name in node.get("required") or ():
            if value.get(name) is None:
                self.missing.append(f.required(f.child(path, name)))


def _reports(kind: str, obj: JSON) -> tuple[Any, Any]:
    kind_schemas = schemas(MINOR)
    group, version = KIND_OF[kind]
    definition = kind_schemas.for_kind(group, version, kind)
    reference = _ReferenceWalk(kind_schemas)
    reference.walk(obj, definition, "", False)
    compiled = schema_check.check(kind_schemas, definition, obj)
    return ((reference.type_errors, reference.missing, reference.unknown),
            (compiled.type_errors, compiled.missing, compiled.unknown))


@pytest.mark.parametrize("damage_seed", range(12))
def test_the_compiled_check_reports_what_the_walk_reported(damage_seed: int) -> None:
    rng = random.Random(damage_seed)
    checked = 0
    reported = 0
    for kind, obj in corpus(seed=damage_seed, random_pods=15):
        for candidate in (obj, damaged(obj, rng, edits=1), damaged(obj, rng, edits=4)):
            expected, got = _reports(kind, candidate)
            assert got == expected, (kind, candidate)
            checked += 1
            reported += bool(any(expected))
    # The damage must actually produce reports, or the comparison proves little.
    assert reported > checked // 4


def test_types_that_need_a_look_are_still_checked() -> None:
    pod: JSON = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": 1}},
                 "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": True}],
                                          "resources": {"limits": {"cpu": "lots"}}}],
                          "terminationGracePeriodSeconds": 1.5, "bogus": 1},
                 "status": {"conditions": [{"status": "True"}]}}
    report = schema_check.check(schemas(MINOR), schemas(MINOR).for_kind("", "v1", "Pod"), pod)
    assert [(c.field, c.message) for c in report.type_errors] == [
        ("metadata.labels[a]", "Invalid value: 1: must be of type string"),
        ("spec.containers[0].ports[0].containerPort", "Invalid value: true: must be of type integer"),
        ("spec.containers[0].resources.limits[cpu]", f'Invalid value: "lots": {quantity.QUANTITY_FORMAT_MSG}'),
        ("spec.terminationGracePeriodSeconds", "Invalid value: 1.5: must be of type integer"),
    ]
    assert report.unknown == ["spec.bogus"]
    # status.conditions[0].type is required by the schema but status is exempt.
    assert report.missing == []


# -- pruning -------------------------------------------------------------------------------------


def _reference_prune(schemas_: Schemas, node: JSON | None, obj: Any, path: str, removed: list[str]) -> None:
    """Pruning as it was before compilation: the interpreted walk, which CRD schemas still take."""
    from kubeplane.machinery import pruning

    pruning._prune(schemas_, schemas_.resolve(node), obj, path, removed)


@pytest.mark.parametrize("damage_seed", range(6))
def test_compiled_pruning_removes_and_reports_what_the_walk_did(damage_seed: int) -> None:
    import copy

    from kubeplane.machinery.pruning import prune_unknown_fields

    kind_schemas = schemas(MINOR)
    rng = random.Random(100 + damage_seed)
    pruned_something = 0
    for kind, obj in corpus(seed=damage_seed, random_pods=15):
        group, version = KIND_OF[kind]
        definition = kind_schemas.for_kind(group, version, kind)
        for candidate in (obj, damaged(obj, rng, edits=2), damaged(obj, rng, edits=5)):
            expected_obj = copy.deepcopy(candidate)
            expected: list[str] = []
            _reference_prune(kind_schemas, definition, expected_obj, "", expected)
            got_obj = copy.deepcopy(candidate)
            assert prune_unknown_fields(kind_schemas, definition, got_obj) == expected
            assert got_obj == expected_obj
            pruned_something += bool(expected)
    assert pruned_something > 5


def test_only_the_top_level_keeps_undeclared_type_meta() -> None:
    from kubeplane.machinery.pruning import prune_unknown_fields

    pod: JSON = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "kind": "x"},
                 "spec": {"containers": [{"name": "c", "apiVersion": "v1", "env": [{"name": "A", "x": 1}]}]}}
    removed = prune_unknown_fields(schemas(MINOR), schemas(MINOR).for_kind("", "v1", "Pod"), pod)
    assert removed == ["metadata.kind", "spec.containers[0].apiVersion", "spec.containers[0].env[0].x"]
    assert pod == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "c", "env": [{"name": "A"}]}]}}
