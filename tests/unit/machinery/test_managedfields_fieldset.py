"""FieldSet algebra, FieldsV1 round trips, field_set (ToFieldSet) and manager names."""

from __future__ import annotations

import pytest

from kubeplane.machinery.managedfields import (
    FieldSet,
    FieldsV1Error,
    field_manager_errors,
    field_set,
    manager_from_user_agent,
    request_manager,
)
from kubeplane.machinery.schema import schemas

S = schemas("1.35")


def fs(doc: dict) -> FieldSet:
    return FieldSet.from_fields_v1(doc)


def test_round_trip_and_canonical_key_spelling() -> None:
    doc = {"f:spec": {"f:ports": {".": {}, 'k:{"protocol": "TCP", "port": 80}': {".": {}, "f:port": {}}}}}
    assert fs(doc).to_fields_v1() == {
        "f:spec": {"f:ports": {".": {}, 'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}}}}
    with pytest.raises(FieldsV1Error):
        fs({"x:bad": {}})
    with pytest.raises(FieldsV1Error):
        fs({".": {}})


def test_union_difference_intersection() -> None:
    a = fs({"f:data": {".": {}, "f:a": {}, "f:b": {}}})
    b = fs({"f:data": {"f:b": {}, "f:c": {}}})
    assert a.union(b).to_fields_v1() == {"f:data": {".": {}, "f:a": {}, "f:b": {}, "f:c": {}}}
    assert a.difference(b).to_fields_v1() == {"f:data": {".": {}, "f:a": {}}}
    assert a.intersection(b).to_fields_v1() == {"f:data": {"f:b": {}}}
    # Difference is not recursive: removing the map member keeps its children.
    assert a.difference(fs({"f:data": {}})).to_fields_v1() == {"f:data": {"f:a": {}, "f:b": {}}}
    # Recursive difference removes everything below a member.
    assert a.recursive_difference(fs({"f:data": {}})).empty()
    assert ("f:data", "f:a") in a and ("f:data", "f:c") not in a
    assert sorted(a.paths()) == [("f:data",), ("f:data", "f:a"), ("f:data", "f:b")]


def test_field_set_of_an_apply_configuration() -> None:
    node = S.for_kind("apps", "v1", "Deployment")
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}}, "strategy": {},
                    "template": {"spec": {"containers": [{"name": "c", "image": "i",
                                                          "args": ["x"], "ports": [{"containerPort": 80}]}]}}}}
    assert field_set(S, node, obj).to_fields_v1() == {
        "f:apiVersion": {}, "f:kind": {},
        "f:metadata": {"f:labels": {"f:a": {}}, "f:name": {}},
        "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {"f:spec": {"f:containers": {
            'k:{"name":"c"}': {".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                               "f:ports": {'k:{"containerPort":80}': {".": {}, "f:containerPort": {}}}}}}}}}


def test_set_lists_use_values() -> None:
    node = S.for_kind("", "v1", "ConfigMap")
    obj = {"metadata": {"finalizers": ["b.io/x", "a.io/y"]}}
    assert field_set(S, node, obj).to_fields_v1() == {
        "f:metadata": {"f:finalizers": {'v:"a.io/y"': {}, 'v:"b.io/x"': {}}}}


def test_manager_from_user_agent() -> None:
    assert manager_from_user_agent("kubectl-edit/v1.37.1 (linux/amd64) kubernetes/abcdef") == "kubectl-edit"
    assert manager_from_user_agent("Go-http-client/2.0") == "Go-http-client"
    assert manager_from_user_agent("OpenAPI-Generator/33.1.0/python") == "OpenAPI-Generator"
    assert manager_from_user_agent("bad\x00agent") == "badagent"
    assert len(manager_from_user_agent("x" * 300)) == 128
    assert request_manager("my-controller", "kubectl/v1.37") == "my-controller"
    assert request_manager(None, "kubectl/v1.37") == "kubectl"
    assert field_manager_errors("ok") == []
    assert [c.type for c in field_manager_errors("a\tb")] == ["FieldValueInvalid"]
