"""The server-side apply engine on small schemas: merge, ownership, pruning, conflicts, force."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.machinery.apply import ApplyConflict, ApplyRequest, apply
from kubeplane.machinery.managedfields import update_managed_fields
from kubeplane.machinery.schema import schemas

S = schemas("1.35")
T0, T1 = "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z"
GV = "example.com/v1"

# A CRD-style schema: containers keyed by name, ports by containerPort+protocol, a set of finalizer-
# like strings, an atomic list of args, a granular labels map and an atomic selector map.
WIDGET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
        "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "args": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                         "additionalProperties": {"type": "string"}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "containers": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                           "items": {"type": "object", "properties": {
                               "name": {"type": "string"}, "image": {"type": "string"},
                               "ports": {"type": "array", "x-kubernetes-list-type": "map",
                                         "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                                         "items": {"type": "object", "properties": {
                                             "containerPort": {"type": "integer"},
                                             "protocol": {"type": "string"}}}}}}},
        }},
    },
}


def _widget(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": GV, "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def _apply(live: dict[str, Any] | None, spec: dict[str, Any], manager: str, *, force: bool = False,
           now: str = T0) -> dict[str, Any]:
    return apply(S, WIDGET, live, _widget(spec), ApplyRequest(manager, GV, force=force, now=now))


def _entries(obj: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def test_create_records_an_apply_entry_with_the_config_field_set() -> None:
    obj = _apply(None, {"replicas": 1, "containers": [{"name": "app", "image": "a:1"}]}, "alice")
    assert obj["spec"] == {"replicas": 1, "containers": [{"name": "app", "image": "a:1"}]}
    [entry] = obj["metadata"]["managedFields"]
    assert entry == {"manager": "alice", "operation": "Apply", "apiVersion": GV, "time": T0, "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:spec": {"f:containers": {'k:{"name":"app"}': {
                         ".": {}, "f:image": {}, "f:name": {}}}, "f:replicas": {}}}}


def test_associative_list_merges_by_key_and_keeps_other_elements() -> None:
    live = _apply(None, {"containers": [{"name": "app", "image": "a:1"}]}, "alice")
    both = _apply(live, {"containers": [{"name": "sidecar", "image": "s:1"}]}, "bob")
    assert [c["name"] for c in both["spec"]["containers"]] == ["app", "sidecar"]
    assert set(_entries(both)) == {("alice", "Apply"), ("bob", "Apply")}


def test_multi_key_list_elements_are_distinct_per_key_tuple() -> None:
    ports = [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 80, "protocol": "UDP"}]
    obj = _apply(None, {"containers": [{"name": "app", "ports": ports}]}, "alice")
    fields = _entries(obj)[("alice", "Apply")]["f:spec"]["f:containers"]['k:{"name":"app"}']["f:ports"]
    assert set(fields) == {'k:{"containerPort":80,"protocol":"TCP"}', 'k:{"containerPort":80,"protocol":"UDP"}'}


def test_set_list_merges_values_and_atomic_list_is_replaced() -> None:
    live = _apply(None, {"tags": ["a"], "args": ["x", "y"]}, "alice")
    obj = _apply(live, {"tags": ["b"], "args": ["z"]}, "bob", force=True)
    assert obj["spec"]["tags"] == ["a", "b"]
    assert obj["spec"]["args"] == ["z"]  # atomic: the whole list moved to bob
    assert "f:args" not in _entries(obj)[("alice", "Apply")]["f:spec"]


def test_atomic_map_is_one_field_and_granular_map_per_key() -> None:
    live = _apply(None, {"selector": {"a": "1"}, "labels": {"a": "1"}}, "alice")
    obj = _apply(live, {"selector": {"b": "2"}, "labels": {"b": "2"}}, "bob", force=True)
    assert obj["spec"]["selector"] == {"b": "2"}
    assert obj["spec"]["labels"] == {"a": "1", "b": "2"}


def test_fields_no_longer_applied_are_removed() -> None:
    live = _apply(None, {"replicas": 1, "labels": {"a": "1", "b": "2"},
                         "containers": [{"name": "app"}, {"name": "old"}]}, "alice")
    obj = _apply(live, {"labels": {"a": "1"}, "containers": [{"name": "app"}]}, "alice", now=T1)
    assert obj["spec"] == {"labels": {"a": "1"}, "containers": [{"name": "app"}]}
    assert obj["metadata"]["managedFields"][0]["time"] == T1


def test_field_still_owned_by_another_manager_is_kept_when_unapplied() -> None:
    live = _apply(None, {"replicas": 3, "labels": {"a": "1"}}, "alice")
    shared = _apply(live, {"replicas": 3}, "bob")  # same value: shared ownership, no conflict
    assert "f:replicas" in _entries(shared)[("alice", "Apply")]["f:spec"]
    assert "f:replicas" in _entries(shared)[("bob", "Apply")]["f:spec"]
    obj = _apply(shared, {"labels": {"a": "1"}}, "alice")
    assert obj["spec"]["replicas"] == 3
    assert set(_entries(obj)[("alice", "Apply")]["f:spec"]) == {"f:labels"}


def test_fields_owned_by_an_updater_are_not_pruned() -> None:
    live = _apply(None, {"replicas": 1, "labels": {"a": "1"}}, "alice")
    edited = {**live, "spec": {**live["spec"], "labels": {"a": "1", "b": "2"}}}
    update_managed_fields(S, WIDGET, edited, live, "kubectl-edit", GV, now=T1)
    obj = _apply(edited, {"replicas": 1}, "alice")
    assert obj["spec"] == {"replicas": 1, "labels": {"b": "2"}}


def test_conflict_names_manager_and_field_and_force_takes_ownership() -> None:
    live = _apply(None, {"replicas": 1, "containers": [{"name": "app", "image": "a:1"}]}, "alice")
    config = {"replicas": 2, "containers": [{"name": "app", "image": "a:2"}]}
    with pytest.raises(ApplyConflict) as caught:
        _apply(live, config, "bob")
    status = caught.value.to_status()
    assert status.code == 409 and status.reason == "Conflict"
    assert status.message == ('Apply failed with 2 conflicts: conflicts with "alice":\n'
                              '- .spec.containers[name="app"].image\n- .spec.replicas')
    assert [(c.type, c.message, c.field) for c in status.causes] == [
        ("FieldManagerConflict", 'conflict with "alice"', '.spec.containers[name="app"].image'),
        ("FieldManagerConflict", 'conflict with "alice"', ".spec.replicas")]
    forced = _apply(live, config, "bob", force=True)
    assert forced["spec"]["replicas"] == 2
    alice = _entries(forced)[("alice", "Apply")]["f:spec"]
    assert "f:replicas" not in alice and "f:image" not in alice["f:containers"]['k:{"name":"app"}']


def test_conflict_with_an_updater_says_using_version() -> None:
    live = _apply(None, {"replicas": 1}, "alice")
    scaled = {**live, "spec": {"replicas": 5}}
    update_managed_fields(S, WIDGET, scaled, live, "kubectl-scale", GV, now=T1)
    with pytest.raises(ApplyConflict) as caught:
        _apply(scaled, {"replicas": 2}, "alice")
    assert str(caught.value) == f'Apply failed with 1 conflict: conflict with "kubectl-scale" using {GV}: .spec.replicas'


def test_untracked_object_is_owned_by_before_first_apply() -> None:
    live = _widget({"replicas": 1})
    with pytest.raises(ApplyConflict) as caught:
        apply(S, WIDGET, live, _widget({"replicas": 2}), ApplyRequest("alice", GV, now=T0))
    assert '"before-first-apply" using example.com/v1' in str(caught.value)


def test_status_is_ignored_on_the_main_endpoint() -> None:
    node = {**WIDGET, "properties": {**WIDGET["properties"], "status": {"type": "object", "properties": {
        "ready": {"type": "boolean"}}}}}
    config = {**_widget({"replicas": 1}), "status": {"ready": True}}
    obj = apply(S, node, None, config, ApplyRequest("alice", GV, reset_paths=[("status",)], now=T0))
    assert "f:status" not in obj["metadata"]["managedFields"][0]["fieldsV1"]


def test_deployment_containers_merge_by_name_in_config_order() -> None:
    node = S.for_kind("apps", "v1", "Deployment")
    assert node is not None

    def deployment(containers: list[dict[str, Any]]) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": containers}}}}

    live = apply(S, node, None, deployment([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]),
                 ApplyRequest("alice", "apps/v1", now=T0))
    other = apply(S, node, live, deployment([{"name": "c", "image": "c"}]), ApplyRequest("bob", "apps/v1", now=T0))
    reordered = apply(S, node, other, deployment([{"name": "b", "image": "b"}, {"name": "a", "image": "a"}]),
                      ApplyRequest("alice", "apps/v1", now=T0))
    names = [c["name"] for c in reordered["spec"]["template"]["spec"]["containers"]]
    assert names == ["b", "c", "a"]  # upstream: live-only "c" stays before the moved "a"
