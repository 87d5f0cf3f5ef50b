"""Strategic merge patch directives ($patch, $setElementOrder, $retainKeys,
$deleteFromPrimitiveList) through the real API server, and JSON and strategic patches of every
served resource (the CRUD life-cycle test covers only merge patches)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from test_apiserver_resources import KINDS, Kind, create, expect

pytestmark = pytest.mark.integration

JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON = dict[str, Any]


# The namespace strategy always sets this label (upstream since 1.21): it is not the patch's doing.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def patched_labels(obj: JSON) -> JSON:
    return {k: v for k, v in obj["metadata"].get("labels", {}).items() if k != NAMESPACE_NAME_LABEL}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def pod_spec(obj: JSON) -> JSON:
    spec: JSON = obj["spec"]["template"]["spec"]
    return spec


@pytest.fixture
def two_containers(apiserver: Any, namespace: str) -> str:
    """Path of a Deployment with containers a and b (b has env X and Y), RollingUpdate strategy."""
    name = unique("sm")
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name,
                                                                                               "keep": "no"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                         {"name": "a", "image": "busybox:1.35"},
                         {"name": "b", "image": "busybox:1.35", "env": [{"name": "X", "value": "1"},
                                                                        {"name": "Y", "value": "2"}]}]}}}}
    expect(apiserver.request("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", body), 201)
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


def test_patch_delete_directive_removes_a_keyed_list_element(apiserver: Any, two_containers: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}}
    obj = expect(apiserver.request("PATCH", two_containers, patch, STRATEGIC), 200)
    assert [c["name"] for c in pod_spec(obj)["containers"]] == ["b"]


def test_patch_replace_directive_on_a_list_and_a_map(apiserver: Any, two_containers: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "busybox:1.36"}, {"$patch": "replace"}]}}}}
    obj = expect(apiserver.request("PATCH", two_containers, patch, STRATEGIC), 200)
    assert [(c["name"], c["image"]) for c in pod_spec(obj)["containers"]] == [("only", "busybox:1.36")]
    app = obj["metadata"]["labels"]["app"]
    obj = expect(apiserver.request("PATCH", two_containers,
                                   {"metadata": {"labels": {"$patch": "replace", "app": app}}}, STRATEGIC), 200)
    assert obj["metadata"]["labels"] == {"app": app}


def test_set_element_order_reorders_a_merged_list(apiserver: Any, two_containers: str) -> None:
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                                            "containers": [{"name": "a", "image": "busybox:1.36"}]}}}}
    obj = expect(apiserver.request("PATCH", two_containers, patch, STRATEGIC), 200)
    containers = pod_spec(obj)["containers"]
    assert [c["name"] for c in containers] == ["b", "a"]
    assert containers[1]["image"] == "busybox:1.36"
    assert [e["name"] for e in containers[0]["env"]] == ["X", "Y"]


def test_retain_keys_drops_the_unlisted_fields(apiserver: Any, two_containers: str) -> None:
    """Deployment.spec.strategy is a retainKeys struct: switching to Recreate with $retainKeys clears
    the defaulted rollingUpdate, which validation would otherwise refuse beside type Recreate."""
    before = expect(apiserver.request("GET", two_containers), 200)
    assert before["spec"]["strategy"]["rollingUpdate"]
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    obj = expect(apiserver.request("PATCH", two_containers, patch, STRATEGIC), 200)
    assert obj["spec"]["strategy"] == {"type": "Recreate"}


def test_recreate_without_retain_keys_is_invalid(apiserver: Any, two_containers: str) -> None:
    status = expect(apiserver.request("PATCH", two_containers, {"spec": {"strategy": {"type": "Recreate"}}},
                                      STRATEGIC), 422)
    assert status["reason"] == "Invalid"
    assert "spec.strategy.rollingUpdate" in [cause["field"] for cause in status["details"]["causes"]]


def test_delete_from_primitive_list_and_primitive_merge(apiserver: Any, namespace: str) -> None:
    name = unique("fin")
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "finalizers": ["example.com/a", "example.com/b"]}}
    path = f"/api/v1/namespaces/{namespace}/configmaps/{name}"
    expect(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body), 201)
    # finalizers is a merge-strategy list of strings: a patch adds to it instead of replacing it.
    merged = expect(apiserver.request("PATCH", path, {"metadata": {"finalizers": ["example.com/c"]}}, STRATEGIC), 200)
    assert sorted(merged["metadata"]["finalizers"]) == ["example.com/a", "example.com/b", "example.com/c"]
    pruned = expect(apiserver.request("PATCH", path, {"metadata": {
        "$deleteFromPrimitiveList/finalizers": ["example.com/a", "example.com/c"]}}, STRATEGIC), 200)
    assert pruned["metadata"]["finalizers"] == ["example.com/b"]
    expect(apiserver.request("PATCH", path, {"metadata": {"finalizers": None}}, STRATEGIC), 200)


def test_unknown_patch_directive_fails_without_a_write(apiserver: Any, two_containers: str) -> None:
    """Upstream's interpretStrategicMergePatchError passes ErrBadPatchType through unmapped, so the
    client gets a 500 Status naming the directive; no traceback, nothing written."""
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "explode"}]}}}}
    code, body, _ = apiserver.request("PATCH", two_containers, patch, STRATEGIC)
    assert code == 500 and body["kind"] == "Status" and body["code"] == 500, body
    assert "unknown patch type: explode in map" in body["message"]
    assert "Traceback" not in body["message"]
    after = expect(apiserver.request("GET", two_containers), 200)
    assert [c["name"] for c in pod_spec(after)["containers"]] == ["a", "b"]


# -- JSON and strategic patches of every served resource ------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_json_and_strategic_patch_of_every_resource(apiserver: Any, namespace: str, kind: Kind) -> None:
    name = unique(kind.resource[:10])
    created = create(apiserver, kind, namespace, name)
    path = kind.item(namespace, name)
    json_patched = expect(apiserver.request("PATCH", path, [
        {"op": "add", "path": "/metadata/labels", "value": {"via": "json"}},
        {"op": "test", "path": "/metadata/uid", "value": created["metadata"]["uid"]}], JSON_PATCH), 200)
    assert patched_labels(json_patched) == {"via": "json"}
    assert int(json_patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    strategic = expect(apiserver.request("PATCH", path, {"metadata": {"labels": {"via": None, "smp": "yes"},
                                                                        "annotations": {"n": "1"}}}, STRATEGIC), 200)
    assert patched_labels(strategic) == {"smp": "yes"} and strategic["metadata"]["annotations"] == {"n": "1"}
    failed = expect(apiserver.request("PATCH", path, [{"op": "test", "path": "/metadata/name", "value": "other"}],
                                      JSON_PATCH), 422)
    assert failed["reason"] == "Invalid" and failed["kind"] == "Status"
    expect(apiserver.request("DELETE", path, {"propagationPolicy": "Background"}), 200)
    if kind.resource == "namespaces":
        remaining = expect(apiserver.request("GET", path), 200)
        remaining["spec"]["finalizers"] = []
        expect(apiserver.request("PUT", f"{path}/finalize", remaining), 200)
