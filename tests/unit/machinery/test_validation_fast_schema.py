"""The schema check's type shortcut: a value whose exact JSON type a node accepts skips the
isinstance test; for every node of the Pod and Deployment schemas and every JSON value type, the
shortcut must decide as the isinstance test does (bool is no integer, untyped nodes take anything)."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.machinery.schema import schemas
from kubeplane.machinery.validation import schema_check

MINOR = "1.35"
SAMPLES: tuple[Any, ...] = ({}, [], "s", 1, 1.5, True)


def _passes_type_check(node: schema_check._NodeCheck, value: Any) -> bool:
    """The general test ``_NodeCheck.check`` falls back to."""
    return not node.types or (isinstance(value, node.python_types)
                              and not (node.rejects_bool and isinstance(value, bool)))


def _nodes(kind: str, group: str) -> list[schema_check._NodeCheck]:
    kind_schemas = schemas(MINOR)
    compiler = schema_check._compiler_for(kind_schemas)
    root = compiler.compile(kind_schemas.for_kind(group, "v1", kind), False, is_root=True)
    seen: dict[int, schema_check._NodeCheck] = {}
    pending: list[schema_check._Check | None] = [root]
    while pending:
        node = pending.pop()
        if not isinstance(node, schema_check._NodeCheck) or id(node) in seen:
            continue
        seen[id(node)] = node
        if not node._ready:
            node._children()
        pending += [*node._props.values(), node.extra, node._items]
    return list(seen.values())


@pytest.mark.parametrize(("kind", "group"), [("Pod", ""), ("Deployment", "apps")])
def test_the_exact_type_shortcut_decides_as_isinstance_does(kind: str, group: str) -> None:
    nodes = _nodes(kind, group)
    assert len(nodes) > 50  # the walk reached the nested nodes, not only the root
    typed = 0
    for node in nodes:
        typed += bool(node.types)
        for value in SAMPLES:
            # In the shortcut: accepted without a look. Outside: the general test runs and rejects.
            assert (type(value) in node.accepted_exact) == _passes_type_check(node, value), (node.types, value)
    assert typed > 50


def test_subclasses_of_json_types_still_take_the_general_test() -> None:
    class Text(str):
        pass

    kind_schemas = schemas(MINOR)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": Text("p")},
           "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": Text("80")}]}]}}
    report = schema_check.check(kind_schemas, kind_schemas.for_kind("", "v1", "Pod"), pod)
    assert [(c.field, c.message) for c in report.type_errors] == [
        ("spec.containers[0].ports[0].containerPort", 'Invalid value: "80": must be of type integer')]


def test_paths_are_spelled_as_upstream_spells_them_when_reported() -> None:
    kind_schemas = schemas(MINOR)
    pod = {"apiVersion": "v1", "kind": "Pod", "bogus": 1,
           "metadata": {"name": "p", "annotations": {"a.b/c": ["x"]}},
           "spec": {"containers": [{"name": "c", "image": "x"},
                                   {"image": "y", "extra": True, "env": [{"value": "v"}],
                                    "resources": {"requests": {"cpu": "much"}}}]}}
    report = schema_check.check(kind_schemas, kind_schemas.for_kind("", "v1", "Pod"), pod)
    assert [c.field for c in report.type_errors] == [
        "metadata.annotations[a.b/c]", "spec.containers[1].resources.requests[cpu]"]
    assert report.unknown == ["bogus", "spec.containers[1].extra"]
    assert [c.field for c in report.missing] == ["spec.containers[1].env[0].name", "spec.containers[1].name"]
    assert schema_check.render("") == ""
    assert schema_check.render((("", "spec", False), 0, True)) == "spec[0]"
