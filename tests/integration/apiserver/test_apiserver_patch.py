"""PATCH through the real API server: json, merge and strategic patches over raw HTTPS and through
kubectl, their error cases, and client-side `kubectl apply` merging list changes."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expect(response: tuple[int, Any, dict[str, str]], status: int) -> Any:
    code, body, _ = response
    assert code == status, f"expected {status}, got {code}: {str(body)[:600]}"
    return body


def deployment(name: str, containers: list[dict[str, Any]], volumes: list[dict[str, Any]] | None = None) -> dict[
        str, Any]:
    spec: dict[str, Any] = {"containers": containers}
    if volumes is not None:
        spec["volumes"] = volumes
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def containers_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


@pytest.fixture
def configmap(apiserver: Any, namespace: str) -> str:
    """Path of a fresh ConfigMap with data {a: 1, b: 2}."""
    name = unique("cm")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1", "b": "2"}}
    expect(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body), 201)
    return f"/api/v1/namespaces/{namespace}/configmaps/{name}"


@pytest.fixture
def web(apiserver: Any, namespace: str) -> str:
    """Path of a fresh Deployment with one container `app` (env A, port 8080)."""
    name = unique("web")
    body = deployment(name, [{"name": "app", "image": "busybox:1.35", "env": [{"name": "A", "value": "1"}],
                              "ports": [{"containerPort": 8080}]}])
    expect(apiserver.request("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", body), 201)
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


# -- the three patch types over raw HTTPS -----------------------------------------------------------

def test_merge_patch_sets_and_removes_keys(apiserver: Any, configmap: str) -> None:
    patched = expect(apiserver.request("PATCH", configmap, {"data": {"a": None, "c": "3"},
                                                            "metadata": {"labels": {"x": "y"}}}, MERGE_PATCH), 200)
    assert patched["data"] == {"b": "2", "c": "3"}
    assert patched["metadata"]["labels"] == {"x": "y"}


def test_merge_patch_replaces_lists_whole(apiserver: Any, web: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "other", "image": "busybox:1.36"}]}}}}
    patched = expect(apiserver.request("PATCH", web, patch, MERGE_PATCH), 200)
    assert [c["name"] for c in containers_of(patched)] == ["other"]
    assert "env" not in containers_of(patched)[0]


def test_json_patch_operations(apiserver: Any, configmap: str, web: str) -> None:
    ops = [{"op": "test", "path": "/data/a", "value": "1"},
           {"op": "add", "path": "/data/c", "value": "3"},
           {"op": "replace", "path": "/data/b", "value": "two"},
           {"op": "remove", "path": "/data/a"},
           {"op": "copy", "from": "/data/c", "path": "/data/d"},
           {"op": "move", "from": "/data/d", "path": "/data/e"}]
    patched = expect(apiserver.request("PATCH", configmap, ops, JSON_PATCH), 200)
    assert patched["data"] == {"b": "two", "c": "3", "e": "3"}

    deployment_ops: list[dict[str, Any]] = [
        {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "B", "value": "2"}},
        {"op": "replace", "path": "/spec/replicas", "value": 3}]
    patched = expect(apiserver.request("PATCH", web, deployment_ops, JSON_PATCH), 200)
    assert containers_of(patched)[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert patched["spec"]["replicas"] == 3
    assert patched["metadata"]["generation"] == 2


def test_strategic_patch_merges_lists_by_key(apiserver: Any, web: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "env": [{"name": "B", "value": "2"}], "ports": [{"containerPort": 9090}]},
        {"name": "sidecar", "image": "busybox:1.36"}]}}}}
    patched = expect(apiserver.request("PATCH", web, patch, STRATEGIC_PATCH), 200)
    containers = containers_of(patched)
    assert [c["name"] for c in containers] == ["app", "sidecar"]
    assert containers[0]["image"] == "busybox:1.35"
    assert containers[0]["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]
    assert [p["containerPort"] for p in containers[0]["ports"]] == [9090, 8080]

    delete = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    patched = expect(apiserver.request("PATCH", web, delete, STRATEGIC_PATCH), 200)
    assert [c["name"] for c in containers_of(patched)] == ["app"]


def test_strategic_patch_on_configmap_behaves_as_merge(apiserver: Any, configmap: str) -> None:
    patched = expect(apiserver.request("PATCH", configmap, {"data": {"a": None, "z": "26"}}, STRATEGIC_PATCH), 200)
    assert patched["data"] == {"b": "2", "z": "26"}


def test_patch_keeps_optimistic_concurrency(apiserver: Any, configmap: str) -> None:
    current = expect(apiserver.request("GET", configmap), 200)
    rv = current["metadata"]["resourceVersion"]
    expect(apiserver.request("PATCH", configmap, {"metadata": {"resourceVersion": rv}, "data": {"a": "x"}},
                             MERGE_PATCH), 200)
    stale = expect(apiserver.request("PATCH", configmap, {"metadata": {"resourceVersion": rv}, "data": {"a": "y"}},
                                     MERGE_PATCH), 409)
    assert stale["reason"] == "Conflict"


# -- error cases ---------------------------------------------------------------------------------------

def test_json_patch_test_failure_is_unprocessable(apiserver: Any, configmap: str) -> None:
    failed = expect(apiserver.request("PATCH", configmap, [{"op": "test", "path": "/data/a", "value": "nope"},
                                                           {"op": "remove", "path": "/data/b"}], JSON_PATCH), 422)
    assert failed["kind"] == "Status" and failed["code"] == 422 and failed["reason"] == "Invalid"
    assert expect(apiserver.request("GET", configmap), 200)["data"] == {"a": "1", "b": "2"}


def test_json_patch_of_a_missing_path_is_unprocessable(apiserver: Any, configmap: str) -> None:
    failed = expect(apiserver.request("PATCH", configmap, [{"op": "remove", "path": "/data/missing"}], JSON_PATCH),
                    422)
    assert failed["reason"] == "Invalid"


@pytest.mark.parametrize("content_type, body", [
    (JSON_PATCH, b"[{not json"),
    (JSON_PATCH, b'{"op": "add", "path": "/data/x", "value": "1"}'),
    (MERGE_PATCH, b"{not json"),
    (STRATEGIC_PATCH, b"{not json"),
], ids=["json-malformed", "json-not-a-list", "merge-malformed", "strategic-malformed"])
def test_invalid_patch_body_is_bad_request(apiserver: Any, configmap: str, content_type: str, body: bytes) -> None:
    failed = expect(apiserver.request("PATCH", configmap, body, content_type), 400)
    assert failed["kind"] == "Status" and failed["reason"] == "BadRequest"


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "application/xml"])
def test_unsupported_patch_content_type(apiserver: Any, configmap: str, content_type: str) -> None:
    failed = expect(apiserver.request("PATCH", configmap, {"data": {"a": "x"}}, content_type), 415)
    assert failed["kind"] == "Status" and failed["reason"] == "UnsupportedMediaType"
    assert expect(apiserver.request("GET", configmap), 200)["data"]["a"] == "1"


def test_patch_of_a_missing_object_is_not_found(apiserver: Any, namespace: str) -> None:
    missing = expect(apiserver.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/absent",
                                       {"data": {"a": "b"}}, MERGE_PATCH), 404)
    assert missing["message"] == 'configmaps "absent" not found'


def test_patch_cannot_rename(apiserver: Any, configmap: str) -> None:
    expect(apiserver.request("PATCH", configmap, {"metadata": {"name": "renamed"}}, MERGE_PATCH), 400)


# -- kubectl patch -------------------------------------------------------------------------------------

def kubectl_json(apiserver: Any, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(apiserver.kubectl(*args, "-o", "json").stdout)
    return result


def test_kubectl_patch_types(apiserver: Any, namespace: str, web: str) -> None:
    name = web.rsplit("/", 1)[1]
    target = ("deployment", name, "-n", namespace)
    add_env = {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}}
    apiserver.kubectl("patch", *target, "--type=strategic", "-p", json.dumps(add_env))
    obj = kubectl_json(apiserver, "get", *target)
    assert [e["name"] for e in containers_of(obj)[0]["env"]] == ["B", "A"]

    apiserver.kubectl("patch", *target, "--type=merge", "-p", '{"spec":{"replicas":4},"metadata":{"labels":{"t":"m"}}}')
    obj = kubectl_json(apiserver, "get", *target)
    assert obj["spec"]["replicas"] == 4 and obj["metadata"]["labels"]["t"] == "m"

    apiserver.kubectl("patch", *target, "--type=json",
                      "-p", '[{"op":"remove","path":"/spec/template/spec/containers/0/env/0"}]')
    obj = kubectl_json(apiserver, "get", *target)
    assert containers_of(obj)[0]["env"] == [{"name": "A", "value": "1"}]

    failed = apiserver.kubectl("patch", *target, "--type=json", "-p", '[{"op":"test","path":"/spec/replicas",'
                                                                       '"value":99}]', check=False)
    assert failed.returncode != 0
    unchanged = apiserver.kubectl("patch", *target, "--type=merge", "-p", '{"spec":{"replicas":4}}').stdout
    assert f"deployment.apps/{name} patched (no change)" in unchanged


# -- kubectl apply (client-side, three-way strategic merge) --------------------------------------------

def apply(apiserver: Any, namespace: str, obj: dict[str, Any]) -> str:
    out: str = apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(obj)).stdout
    return out


def test_kubectl_apply_merges_list_changes_exactly(apiserver: Any, namespace: str) -> None:
    name = unique("app")
    first = deployment(name, [
        {"name": "app", "image": "busybox:1.35", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
         "ports": [{"containerPort": 8080, "name": "http"}],
         "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        {"name": "sidecar", "image": "busybox:1.35"},
    ], volumes=[{"name": "data", "emptyDir": {}}])
    assert f"deployment.apps/{name} created" in apply(apiserver, namespace, first)
    assert f"deployment.apps/{name} unchanged" in apply(apiserver, namespace, first)
    target = ("deployment", name, "-n", namespace)
    assert kubectl_json(apiserver, "get", *target)["metadata"]["generation"] == 1

    # A change made outside the manifest (another manager) must survive the next apply.
    apiserver.kubectl("patch", *target, "--type=strategic", "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "LIVE", "value": "x"}]}]}}}}))

    second = deployment(name, [
        {"name": "app", "image": "busybox:1.36", "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}],
         "ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "name": "metrics"}],
         "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]},
        {"name": "helper", "image": "busybox:1.36"},
    ], volumes=[{"name": "config", "configMap": {"name": "settings"}}])
    assert f"deployment.apps/{name} configured" in apply(apiserver, namespace, second)

    obj = kubectl_json(apiserver, "get", *target)
    pod_spec = obj["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod_spec["containers"]}
    assert sorted(containers) == ["app", "helper"]
    app = containers["app"]
    assert app["image"] == "busybox:1.36"
    assert sorted((e["name"], e["value"]) for e in app["env"]) == [("A", "1"), ("C", "3"), ("LIVE", "x")]
    assert app["ports"] == [{"containerPort": 8080, "name": "http", "protocol": "TCP"},
                            {"containerPort": 9090, "name": "metrics", "protocol": "TCP"}]
    assert app["volumeMounts"] == [{"name": "config", "mountPath": "/etc/app"}]
    assert pod_spec["volumes"] == [{"name": "config", "configMap": {"name": "settings", "defaultMode": 420}}]
    assert obj["metadata"]["generation"] == 3  # the outside patch and this apply both changed the spec

    # Dropping a whole field from the manifest sends `field: null`: the live-only env entry goes too.
    third = deployment(name, [{"name": "app", "image": "busybox:1.36"}])
    assert f"deployment.apps/{name} configured" in apply(apiserver, namespace, third)
    obj = kubectl_json(apiserver, "get", *target)
    pod_spec = obj["spec"]["template"]["spec"]
    assert [c["name"] for c in pod_spec["containers"]] == ["app"]
    app = pod_spec["containers"][0]
    assert "env" not in app and "ports" not in app and "volumeMounts" not in app and "volumes" not in pod_spec
    assert f"deployment.apps/{name} unchanged" in apply(apiserver, namespace, third)


def test_kubectl_apply_service_ports_and_configmap_data(apiserver: Any, namespace: str) -> None:
    name = unique("svc")
    service: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    apply(apiserver, namespace, service)
    service["spec"]["ports"].append({"name": "https", "port": 443, "targetPort": 8443})
    apply(apiserver, namespace, service)
    ports = kubectl_json(apiserver, "get", "service", name, "-n", namespace)["spec"]["ports"]
    assert ports == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                     {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]
    service["spec"]["ports"] = service["spec"]["ports"][1:]
    apply(apiserver, namespace, service)
    ports = kubectl_json(apiserver, "get", "service", name, "-n", namespace)["spec"]["ports"]
    assert ports == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]

    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1", "b": "2"}}
    apply(apiserver, namespace, config)
    config["data"] = {"b": "20", "c": "3"}
    apply(apiserver, namespace, config)
    assert kubectl_json(apiserver, "get", "configmap", name, "-n", namespace)["data"] == {"b": "20", "c": "3"}
