"""Server-side apply over raw HTTPS and the official Python client: option checks, dryRun,
fieldValidation, the status subresource, and custom resources with list types from their CRD."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import yaml
from apiserver_process import kube_client

pytestmark = pytest.mark.integration

APPLY = "application/apply-patch+yaml"


def _cm(name: str, data: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data, **extra}


def _path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps/{name}"


def test_apply_requires_a_field_manager_and_force_only_for_apply(apiserver: Any, namespace: str) -> None:
    name = f"cm-{uuid.uuid4().hex[:6]}"
    code, body, _ = apiserver.request("PATCH", _path(namespace, name), _cm(name, {"a": "1"}), APPLY)
    assert code == 422, body
    assert body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                               "is required for apply patch")
    code, body, _ = apiserver.request("PATCH", _path(namespace, name) + "?fieldManager=m",
                                      yaml.safe_dump(_cm(name, {"a": "1"})).encode(), APPLY)
    assert code == 201, body  # YAML body; apply creates
    code, body, _ = apiserver.request("PATCH", _path(namespace, name) + "?force=true", {"data": {"a": "2"}},
                                      "application/merge-patch+json")
    assert code == 422 and "force: Forbidden: may not be specified for non-apply patch" in body["message"]
    code, body, _ = apiserver.request("PATCH", _path(namespace, name) + "?fieldManager=m",
                                      {**_cm(name, {}), "apiVersion": "v2"}, APPLY)
    assert code == 400 and body["message"].startswith("Incorrect version specified in apply patch")


def test_apply_dry_run_and_strict_field_validation(apiserver: Any, namespace: str) -> None:
    name = f"cm-{uuid.uuid4().hex[:6]}"
    code, body, _ = apiserver.request("PATCH", _path(namespace, name) + "?fieldManager=m&dryRun=All",
                                      _cm(name, {"a": "1"}), APPLY)
    assert code == 201 and body["metadata"]["managedFields"][0]["operation"] == "Apply"
    assert apiserver.request("GET", _path(namespace, name))[0] == 404
    code, body, _ = apiserver.request("PATCH", _path(namespace, name) + "?fieldManager=m&fieldValidation=Strict",
                                      _cm(name, {"a": "1"}, bogus=1), APPLY)
    assert code == 400 and 'unknown field "bogus"' in body["message"]
    assert apiserver.request("GET", _path(namespace, name))[0] == 404


def test_apply_to_status_subresource(apiserver: Any, namespace: str) -> None:
    name = f"dep-{uuid.uuid4().hex[:6]}"
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
           "status": {"replicas": 9}}
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    code, body, _ = apiserver.request("PATCH", path + "?fieldManager=app", dep, APPLY)
    assert code == 201, body
    assert (body.get("status") or {}).get("replicas") is None  # the main endpoint ignores status
    status = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
              "status": {"replicas": 2, "observedGeneration": 1}}
    code, body, _ = apiserver.request("PATCH", path + "/status?fieldManager=ctrl", status, APPLY)
    assert code == 200, body
    assert body["status"]["replicas"] == 2
    entry = next(e for e in body["metadata"]["managedFields"] if e["manager"] == "ctrl")
    assert entry["operation"] == "Apply" and entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:observedGeneration": {}, "f:replicas": {}}}


def test_python_client_applies_a_config_map(apiserver: Any, namespace: str) -> None:
    client, api = kube_client(apiserver)
    core = client.CoreV1Api(api)
    name = f"cm-{uuid.uuid4().hex[:6]}"
    body = _cm(name, {"k": "v"})
    created = core.patch_namespaced_config_map(name, namespace, body, field_manager="py",
                                               _content_type=APPLY)
    assert created.data == {"k": "v"}
    core.patch_namespaced_config_map(name, namespace, _cm(name, {"k": "w"}), field_manager="py",
                                     _content_type=APPLY)
    from kubernetes.client.rest import ApiException

    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(name, namespace, _cm(name, {"k": "x"}), field_manager="other",
                                         _content_type=APPLY)
    assert caught.value.status == 409
    status = json.loads(caught.value.body or "{}")
    assert status["reason"] == "Conflict"
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "py"', "field": ".data.k"}]
    forced = core.patch_namespaced_config_map(name, namespace, _cm(name, {"k": "x"}), field_manager="other",
                                              force=True, _content_type=APPLY)
    assert forced.data == {"k": "x"}
    api.close()


def _crd(group: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "size": {"type": "integer"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["port", "protocol"],
                  "items": {"type": "object", "required": ["port", "protocol"], "properties": {
                      "port": {"type": "integer"}, "protocol": {"type": "string"},
                      "name": {"type": "string"}}}},
        "args": {"type": "array", "items": {"type": "string"}}}}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"gadgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


def test_custom_resource_apply_uses_the_crd_list_types(apiserver: Any, namespace: str) -> None:
    group = f"g{uuid.uuid4().hex[:6]}.example.com"
    crd = _crd(group)
    apiserver.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(crd))
    path = f"/apis/{group}/v1/namespaces/{namespace}/gadgets/g1"

    def gadget(spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": spec}

    deadline = time.monotonic() + 20
    while True:
        code, body, _ = apiserver.request("PATCH", path + "?fieldManager=a",
                                          gadget({"size": 1, "ports": [{"port": 80, "protocol": "TCP"}],
                                                  "args": ["x"]}), APPLY)
        if code != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert code == 201, body
    code, body, _ = apiserver.request("PATCH", path + "?fieldManager=b",
                                      gadget({"ports": [{"port": 80, "protocol": "UDP"}]}), APPLY)
    assert code == 200, body
    assert body["spec"]["ports"] == [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}]
    code, body, _ = apiserver.request("PATCH", path + "?fieldManager=b", gadget({"args": ["y"]}), APPLY)
    assert code == 409 and body["message"] == 'Apply failed with 1 conflict: conflict with "a": .spec.args'
    # b stopped applying its port: removed; a's port stays.
    code, body, _ = apiserver.request("PATCH", path + "?fieldManager=b&force=true", gadget({"args": ["y"]}), APPLY)
    assert code == 200, body
    assert body["spec"]["ports"] == [{"port": 80, "protocol": "TCP"}] and body["spec"]["args"] == ["y"]
    apiserver.kubectl("delete", "crd", f"gadgets.{group}", "--wait=false")
