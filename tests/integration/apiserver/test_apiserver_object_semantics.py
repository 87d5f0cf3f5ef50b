"""Pod binding and object semantics against the real server: generateName, graceful deletion,
delete preconditions, immutable fields, selector/template rules, what a pod spec update may change."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
MERGE = "application/merge-patch+json"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expect(response: tuple[int, Any, dict[str, str]], status: int) -> Any:
    code, body, _ = response
    assert code == status, f"expected {status}, got {code}: {str(body)[:600]}"
    return body


def pods(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


def make_pod(apiserver: Any, namespace: str, labels: dict[str, str] | None = None) -> JSON:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": unique("pod"), "labels": labels or {}},
            "spec": {"containers": [{"name": "app", "image": "busybox:1.35"}]}}
    created: JSON = expect(apiserver.request("POST", pods(namespace), body), 201)
    return created


def bind(apiserver: Any, namespace: str, name: str, node: str) -> tuple[int, Any, dict[str, str]]:
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    result: tuple[int, Any, dict[str, str]] = apiserver.request("POST", f"{pods(namespace)}/{name}/binding", binding)
    return result


# -- binding ---------------------------------------------------------------------------------------------

def test_binding_sets_the_node_once(apiserver: Any, namespace: str) -> None:
    pod = make_pod(apiserver, namespace)
    name = pod["metadata"]["name"]
    expect(bind(apiserver, namespace, name, "node-1"), 201)
    bound = expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 200)
    assert bound["spec"]["nodeName"] == "node-1"
    scheduled = [c for c in bound["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    assert [c["status"] for c in scheduled] == ["True"]
    again = expect(bind(apiserver, namespace, name, "node-2"), 409)
    assert again["reason"] == "Conflict"
    assert f'pod {name} is already assigned to node "node-1"' in again["message"]
    assert expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 200)["spec"]["nodeName"] == "node-1"


def test_binding_a_missing_pod_is_not_found(apiserver: Any, namespace: str) -> None:
    expect(bind(apiserver, namespace, "no-such-pod", "node-1"), 404)


# -- names and deletion --------------------------------------------------------------------------------

def test_generate_name(apiserver: Any, namespace: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}
    first = expect(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body), 201)
    second = expect(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body), 201)
    for created in (first, second):
        name = created["metadata"]["name"]
        assert name.startswith("gen-") and len(name) == len("gen-") + 5, name
        assert created["metadata"]["generateName"] == "gen-"
    assert first["metadata"]["name"] != second["metadata"]["name"]


def test_graceful_deletion_of_a_scheduled_pod(apiserver: Any, namespace: str) -> None:
    name = make_pod(apiserver, namespace)["metadata"]["name"]
    expect(bind(apiserver, namespace, name, "node-1"), 201)
    path = f"{pods(namespace)}/{name}"
    marked = expect(apiserver.request("DELETE", path), 200)
    assert marked["kind"] == "Pod"
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 30
    still = expect(apiserver.request("GET", path), 200)
    assert still["metadata"]["deletionGracePeriodSeconds"] == 30
    shortened = expect(apiserver.request("DELETE", path, {"gracePeriodSeconds": 5}), 200)
    assert shortened["metadata"]["deletionGracePeriodSeconds"] == 5
    expect(apiserver.request("DELETE", path, {"gracePeriodSeconds": 0}), 200)
    expect(apiserver.request("GET", path), 404)


def test_an_unscheduled_pod_is_deleted_at_once(apiserver: Any, namespace: str) -> None:
    name = make_pod(apiserver, namespace)["metadata"]["name"]
    expect(apiserver.request("DELETE", f"{pods(namespace)}/{name}"), 200)
    expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 404)


def test_delete_preconditions(apiserver: Any, namespace: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pre"}, "data": {"a": "1"}}
    created = expect(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body), 201)
    path = f"/api/v1/namespaces/{namespace}/configmaps/pre"
    wrong_uid = expect(apiserver.request("DELETE", path, {"preconditions": {"uid": "not-the-uid"}}), 409)
    assert wrong_uid["reason"] == "Conflict"
    assert "Precondition failed: UID in precondition: not-the-uid, UID in object meta: " \
        + created["metadata"]["uid"] in wrong_uid["message"]
    stale_rv = expect(apiserver.request("DELETE", path, {"preconditions": {"resourceVersion": "1"}}), 409)
    assert stale_rv["reason"] == "Conflict"
    assert "Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: " \
        + created["metadata"]["resourceVersion"] in stale_rv["message"]
    expect(apiserver.request("GET", path), 200)
    expect(apiserver.request("DELETE", path, {"preconditions": {
        "uid": created["metadata"]["uid"], "resourceVersion": created["metadata"]["resourceVersion"]}}), 200)
    expect(apiserver.request("GET", path), 404)


# -- immutable fields ------------------------------------------------------------------------------------

def invalid_fields(status: JSON) -> list[str]:
    assert status["kind"] == "Status" and status["reason"] == "Invalid", status
    return [cause["field"] for cause in status["details"]["causes"]]


def test_immutable_configmap_refuses_data_changes(apiserver: Any, namespace: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen"}, "data": {"a": "1"},
            "immutable": True}
    expect(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body), 201)
    path = f"/api/v1/namespaces/{namespace}/configmaps/frozen"
    refused = expect(apiserver.request("PATCH", path, {"data": {"a": "2"}}, MERGE), 422)
    assert "data" in invalid_fields(refused)
    # Metadata may still change.
    expect(apiserver.request("PATCH", path, {"metadata": {"labels": {"x": "y"}}}, MERGE), 200)
    assert expect(apiserver.request("GET", path), 200)["data"] == {"a": "1"}


def test_deployment_selector_is_immutable(apiserver: Any, namespace: str) -> None:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sel"},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "a", "b": "c"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox:1.35"}]}}}}
    created = expect(apiserver.request("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", body), 201)
    changed = copy.deepcopy(created)
    changed["spec"]["selector"] = {"matchLabels": {"app": "a", "b": "c"}}
    refused = expect(apiserver.request("PUT", f"/apis/apps/v1/namespaces/{namespace}/deployments/sel", changed), 422)
    assert "spec.selector" in invalid_fields(refused)


def test_selector_must_match_the_template(apiserver: Any, namespace: str) -> None:
    body = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "mismatch"},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox:1.35"}]}}}}
    refused = expect(apiserver.request("POST", f"/apis/apps/v1/namespaces/{namespace}/replicasets", body), 422)
    assert "spec.template.metadata.labels" in invalid_fields(refused)


def test_pod_spec_updates_are_restricted(apiserver: Any, namespace: str) -> None:
    pod = make_pod(apiserver, namespace)
    path = f"{pods(namespace)}/{pod['metadata']['name']}"
    image = expect(apiserver.request("PATCH", path, {"spec": {"containers": [
        {"name": "app", "image": "busybox:1.36"}]}}, "application/strategic-merge-patch+json"), 200)
    assert image["spec"]["containers"][0]["image"] == "busybox:1.36"
    refused = expect(apiserver.request("PATCH", path, {"spec": {"restartPolicy": "Never"}}, MERGE), 422)
    assert "spec" in invalid_fields(refused)
    assert "pod updates may not change fields other than" in refused["message"]


def test_service_cluster_ip_is_immutable(apiserver: Any, namespace: str) -> None:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fixed"},
            "spec": {"ports": [{"port": 80}]}}
    created = expect(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/services", body), 201)
    ip = created["spec"]["clusterIP"]
    other = ip.rsplit(".", 1)[0] + (".251" if not ip.endswith(".251") else ".252")
    changed = copy.deepcopy(created)
    changed["spec"]["clusterIP"] = other
    changed["spec"]["clusterIPs"] = [other]
    refused = expect(apiserver.request("PUT", f"/api/v1/namespaces/{namespace}/services/fixed", changed), 422)
    assert "spec.clusterIPs[0]" in invalid_fields(refused) or "spec.clusterIP" in invalid_fields(refused)
