"""A create's managedFields written in one pass (``managedfields.create``) are byte-identical to the
general path's: compare against the kind's zero value, drop reset and stripped fields, serialise."""

from __future__ import annotations

import copy
import random

import orjson
import pytest
from create_path_corpus import KIND_OF, MINOR, corpus, damaged

from kubeplane.machinery.managedfields import update_managed_fields
from kubeplane.machinery.managedfields.entries import UPDATE, Entry
from kubeplane.machinery.managedfields.fieldset import FieldSet
from kubeplane.machinery.managedfields.shapes import shape_of
from kubeplane.machinery.managedfields.update import STRIPPED
from kubeplane.machinery.managedfields.walk import ShapeMismatch, compare
from kubeplane.machinery.managedfields.zero import zero_object
from kubeplane.machinery.schema import JSON, schemas

NOW = "2026-11-27T05:00:00Z"
RESETS: dict[str, list[tuple[str, ...]]] = {
    "none": [],
    "main endpoint with status": [("status",)],
    "status endpoint of pods": [("spec",), ("metadata", "deletionTimestamp"), ("metadata", "ownerReferences")],
    "labels": [("metadata", "labels")],
}


def _general_path(kind: str, obj: JSON, reset: list[tuple[str, ...]], subresource: str) -> bytes:
    """What update_managed_fields wrote for a create before the one-pass writer (its steps 3-5
    with no prior entries), as JSON bytes of metadata.managedFields (b"null" when none)."""
    kind_schemas = schemas(MINOR)
    group, version = KIND_OF[kind]
    node = kind_schemas.for_kind(group, version, kind)
    assert node is not None
    new = copy.deepcopy(obj)
    new.setdefault("metadata", {}).pop("managedFields", None)
    try:
        changes = compare(shape_of(kind_schemas, node), zero_object(kind_schemas, node), new)
    except ShapeMismatch:
        return b"null"
    changes = changes.exclude(FieldSet.from_paths(reset))
    owned = changes.modified.union(changes.added).difference(STRIPPED)
    if owned.empty():
        return b"null"
    api_version = f"{group}/{version}" if group else version
    return orjson.dumps([Entry("bench", UPDATE, api_version, subresource, NOW, owned).to_dict()])


def _one_pass(kind: str, obj: JSON, reset: list[tuple[str, ...]], subresource: str) -> bytes:
    kind_schemas = schemas(MINOR)
    group, version = KIND_OF[kind]
    node = kind_schemas.for_kind(group, version, kind)
    assert node is not None
    new = copy.deepcopy(obj)
    api_version = f"{group}/{version}" if group else version
    update_managed_fields(kind_schemas, node, new, None, "bench", api_version, subresource, now=NOW,
                          reset_paths=reset)
    return orjson.dumps(new["metadata"].get("managedFields"))


@pytest.mark.parametrize("reset_name", sorted(RESETS))
def test_created_managed_fields_are_byte_identical_to_the_general_path(reset_name: str) -> None:
    reset = RESETS[reset_name]
    rng = random.Random(reset_name)
    compared = with_fields = 0
    for kind, obj in corpus(seed=len(reset_name), random_pods=40):
        for candidate in (obj, damaged(obj, rng, edits=2)):
            if not isinstance(candidate.get("metadata"), dict):
                continue  # the handler refuses such bodies before any field tracking
            subresource = "status" if reset_name.startswith("status") else ""
            expected = _general_path(kind, candidate, reset, subresource)
            assert _one_pass(kind, candidate, reset, subresource) == expected, (kind, candidate)
            compared += 1
            with_fields += expected != b"null"
    assert with_fields > compared * 3 // 4


def test_shape_mismatches_leave_the_object_untracked_as_before() -> None:
    pod: JSON = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a", None]},
                 "spec": {"containers": [{"name": "c", "image": "x"}]}}
    assert _general_path("Pod", pod, [], "") == b"null"
    assert _one_pass("Pod", pod, [], "") == b"null"
    # Also when the mismatch is inside a reset (excluded) subtree: the general path compared it too.
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "x"}]}, "status": {"conditions": ["Ready"]}}
    assert _general_path("Pod", pod, [("status",)], "") == b"null"
    assert _one_pass("Pod", pod, [("status",)], "") == b"null"


def test_a_create_that_sends_entries_still_starts_from_them() -> None:
    """Prior entries in the body take the general path (the one-pass writer has none to merge)."""
    pod: JSON = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}, "managedFields": [
        {"manager": "other", "operation": "Apply", "apiVersion": "v1", "time": NOW, "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {"f:hostname": {}}}}]},
        "spec": {"containers": [{"name": "c", "image": "x"}]}}
    kind_schemas = schemas(MINOR)
    node = kind_schemas.for_kind("", "v1", "Pod")
    assert node is not None
    update_managed_fields(kind_schemas, node, pod, None, "bench", "v1", now=NOW)
    managers = [(e["manager"], e["operation"]) for e in pod["metadata"]["managedFields"]]
    assert managers == [("other", "Apply"), ("bench", "Update")]
    # The create takes f:labels.f:a from the other manager (an Update forces), which keeps the rest.
    assert pod["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {"f:hostname": {}}}
    assert "f:a" in pod["metadata"]["managedFields"][1]["fieldsV1"]["f:metadata"]["f:labels"]


def test_remembered_element_spellings_keep_json_types_apart() -> None:
    """true == 1 in Python: the element cache must still spell them as JSON does."""
    from kubeplane.machinery.managedfields.walk import list_element

    kind_schemas = schemas(MINOR)
    container = kind_schemas.resolve(kind_schemas.defs["io.k8s.api.core.v1.Container"])
    assert container is not None
    ports = shape_of(kind_schemas, container["properties"]["ports"])
    assert list_element(ports, {"containerPort": 1, "protocol": "TCP"}) == 'k:{"containerPort":1,"protocol":"TCP"}'
    assert list_element(ports, {"containerPort": True, "protocol": "TCP"}) == \
        'k:{"containerPort":true,"protocol":"TCP"}'
    assert list_element(ports, {"containerPort": 1.0, "protocol": "TCP"}) == \
        'k:{"containerPort":1.0,"protocol":"TCP"}'
    finalizers = shape_of(kind_schemas, kind_schemas.defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
                          ["properties"]["finalizers"])
    assert [list_element(finalizers, v) for v in (1, True, "a<b")] == ["v:1", "v:true", 'v:"a\\u003cb"']
