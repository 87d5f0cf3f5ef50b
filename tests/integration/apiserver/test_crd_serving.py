"""CustomResourceDefinitions served by a real API server: kubectl, the dynamic client and raw HTTPS."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration


def _crd(group: str, *, plural: str = "widgets", kind: str = "Widget", short: str = "wdg") -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "replicas": {"type": "integer", "default": 1},
                    "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                    "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                    "port": {"x-kubernetes-int-or-string": True},
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                                 "x-kubernetes-preserve-unknown-fields": True},
                    "deep": {"type": "object", "properties": {"a": {"type": "object", "properties": {
                        "b": {"type": "array", "items": {"type": "object", "properties": {
                            "c": {"type": "string", "format": "date-time"}}}}}}}},
                },
            },
            "status": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                        "selector": {"type": "string"}}},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "shortNames": [short],
                      "categories": ["all"]},
            "versions": [{
                "name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema},
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                        "statusReplicasPath": ".status.replicas",
                                                        "labelSelectorPath": ".status.selector"}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                ],
            }],
        },
    }


def _wait(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


@pytest.fixture
def crd(apiserver: Any) -> Iterator[dict[str, Any]]:
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    body = _crd(group, short=f"w{uuid.uuid4().hex[:5]}")
    apiserver.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))
    name = body["metadata"]["name"]

    def established() -> bool:
        _, obj, _ = apiserver.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conditions = {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}
        return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"

    _wait(established)
    # Every replica serves it once its watch saw it; this one answers as soon as it is Established.
    _wait(lambda: apiserver.request("GET", f"/apis/{group}/v1/widgets")[0] == 200)
    yield body
    apiserver.kubectl("delete", "crd", name, "--ignore-not-found", "--wait=false")


def _widget(object_name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "", "kind": "Widget", "metadata": {"name": object_name}, "spec": {"size": 3, **spec}}


def test_crd_status_finalizer_and_discovery(apiserver: Any, crd: dict[str, Any]) -> None:
    group = crd["spec"]["group"]
    _, obj, _ = apiserver.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                                         f"{crd['metadata']['name']}")
    assert obj["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    assert obj["status"]["acceptedNames"]["kind"] == "Widget"
    assert obj["status"]["storedVersions"] == ["v1"]
    status, doc, _ = apiserver.request("GET", f"/apis/{group}/v1")
    assert status == 200
    entry = next(r for r in doc["resources"] if r["name"] == "widgets")
    assert entry["kind"] == "Widget" and entry["namespaced"] is True
    assert entry["shortNames"] == crd["spec"]["names"]["shortNames"] and entry["categories"] == ["all"]
    assert {"widgets/status", "widgets/scale"} <= {r["name"] for r in doc["resources"]}
    _, groups, _ = apiserver.request("GET", "/apis")
    assert group in [g["name"] for g in groups["groups"]]
    resources = apiserver.kubectl("api-resources", f"--api-group={group}", "-o", "name").stdout.split()
    assert resources == [f"widgets.{group}"]


def test_kubectl_create_get_patch_delete(apiserver: Any, crd: dict[str, Any], namespace: str) -> None:
    group = crd["spec"]["group"]
    short = crd["spec"]["names"]["shortNames"][0]
    widget = _widget("one", tags=["a", "b"], extra="dropped")
    widget["apiVersion"] = f"{group}/v1"
    out = apiserver.kubectl("-n", namespace, "apply", "--validate=warn", "-f", "-", input=yaml.safe_dump(widget))
    assert 'unknown field "spec.extra"' in out.stderr
    stored = json.loads(apiserver.kubectl("-n", namespace, "get", short, "one", "-o", "json").stdout)
    # Defaults applied, unknown fields pruned, generation starts at 1.
    assert stored["spec"] == {"size": 3, "tags": ["a", "b"], "replicas": 1, "color": "red"}
    assert stored["metadata"]["generation"] == 1
    table = apiserver.kubectl("-n", namespace, "get", f"widgets.{group}").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "COLOR"]
    assert table[1].split() == ["one", "3", "red"]
    apiserver.kubectl("-n", namespace, "patch", short, "one", "--type=merge", "-p", '{"spec":{"size":5}}')
    apiserver.kubectl("-n", namespace, "patch", short, "one", "--type=json",
                      "-p", '[{"op":"replace","path":"/spec/color","value":"blue"}]')
    stored = json.loads(apiserver.kubectl("-n", namespace, "get", short, "one", "-o", "json").stdout)
    assert (stored["spec"]["size"], stored["spec"]["color"], stored["metadata"]["generation"]) == (5, "blue", 3)
    strategic = apiserver.kubectl("-n", namespace, "patch", short, "one", "--type=strategic",
                                  "-p", '{"spec":{"size":6}}', check=False)
    assert (strategic.returncode != 0 and "UnsupportedMediaType" in strategic.stderr) or \
        "unknown format" in strategic.stderr
    assert "one" in apiserver.kubectl("-n", namespace, "get", "all", "-o", "name").stdout
    apiserver.kubectl("-n", namespace, "delete", short, "one")
    status, _, _ = apiserver.request("GET", f"/apis/{group}/v1/namespaces/{namespace}/widgets/one")
    assert status == 404


def test_invalid_objects_get_422_with_causes(apiserver: Any, crd: dict[str, Any],
                                              namespace: str) -> None:
    group = crd["spec"]["group"]
    path = f"/apis/{group}/v1/namespaces/{namespace}/widgets"
    bad = _widget("bad", size=11, color="green", name="ABC", port=True, tags=["a", "a"],
                  template={"metadata": {"name": "x"}}, deep={"a": {"b": [{"c": "yesterday"}]}})
    bad["apiVersion"] = f"{group}/v1"
    del bad["spec"]["size"]
    bad["spec"]["size"] = "big"
    status, body, _ = apiserver.request("POST", path, bad)
    assert status == 422, body
    causes = {(c["field"], c["message"]) for c in body["details"]["causes"]}
    assert ("spec.size", 'Invalid value: "string": spec.size in body must be of type integer: "string"') in causes
    assert ("spec.color", 'Unsupported value: "green": supported values: "red", "blue"') in causes
    assert ("spec.name", "Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'") in causes
    assert ("spec.tags[1]", 'Duplicate value: "a"') in causes
    assert ("spec.template.apiVersion", "Required value: must not be empty") in causes
    assert ("spec.deep.a.b[0].c", 'Invalid value: "yesterday": spec.deep.a.b[0].c in body must be of type '
                                  'date-time: "yesterday"') in causes
    assert body["message"].startswith(f'Widget.{group} "bad" is invalid: [')
    too_big = _widget("big", size=11)
    too_big["apiVersion"] = f"{group}/v1"
    status, body, _ = apiserver.request("POST", path, too_big)
    assert status == 422
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.size", "message":
                                          "Invalid value: 11: spec.size in body should be less than or equal to 10"}]
    missing = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "m"}, "spec": {}}
    status, body, _ = apiserver.request("POST", path, missing)
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.size"
    status, listed, _ = apiserver.request("GET", path)
    assert listed["items"] == []


def test_status_and_scale_subresources(apiserver: Any, crd: dict[str, Any], namespace: str) -> None:
    group = crd["spec"]["group"]
    base = f"/apis/{group}/v1/namespaces/{namespace}/widgets"
    widget = _widget("s1")
    widget["apiVersion"] = f"{group}/v1"
    widget["status"] = {"replicas": 9}
    status, created, _ = apiserver.request("POST", base, widget)
    assert status == 201 and "status" not in created  # the main endpoint may not set status
    status, updated, _ = apiserver.request("PATCH", f"{base}/s1/status",
                                           {"status": {"replicas": 2, "selector": "app=x"}, "spec": {"size": 9}},
                                           content_type="application/merge-patch+json")
    assert status == 200 and updated["status"]["replicas"] == 2 and updated["spec"]["size"] == 3
    assert updated["metadata"]["generation"] == 1  # status changes are not a new generation
    status, scale, _ = apiserver.request("GET", f"{base}/s1/scale")
    assert status == 200
    assert (scale["kind"], scale["spec"]["replicas"], scale["status"]) == (
        "Scale", 1, {"replicas": 2, "selector": "app=x"})
    apiserver.kubectl("-n", namespace, "scale", f"widgets.{group}/s1", "--replicas=4")
    _, obj, _ = apiserver.request("GET", f"{base}/s1")
    assert obj["spec"]["replicas"] == 4 and obj["metadata"]["generation"] == 2


def test_dynamic_client_and_watch(apiserver: Any, crd: dict[str, Any], namespace: str) -> None:
    from kubernetes import config, dynamic, watch

    group = crd["spec"]["group"]
    api_client = config.new_client_from_config(str(apiserver.kubeconfig))
    client = dynamic.DynamicClient(api_client)
    widgets = client.resources.get(api_version=f"{group}/v1", kind="Widget")
    body = _widget("d1", size=2)
    body["apiVersion"] = f"{group}/v1"
    created = widgets.create(body=body, namespace=namespace)
    assert created.spec.color == "red"
    listed = widgets.get(namespace=namespace)
    rv = listed.metadata.resourceVersion
    assert [w.metadata.name for w in listed.items] == ["d1"]
    widgets.patch(name="d1", namespace=namespace, body={"spec": {"size": 7}},
                  content_type="application/merge-patch+json")
    events = []
    for event in widgets.watch(namespace=namespace, resource_version=rv, timeout=10, watcher=watch.Watch()):
        events.append((event["type"], event["object"].spec.size))
        if len(events) == 1:
            break
    assert events == [("MODIFIED", 7)]
    widgets.delete(name="d1", namespace=namespace)
    assert widgets.get(namespace=namespace).items == []


def test_kubectl_explain(apiserver: Any, crd: dict[str, Any]) -> None:
    group = crd["spec"]["group"]
    out = apiserver.kubectl("explain", "widgets.spec", f"--api-version={group}/v1").stdout
    assert "size" in out and "<integer>" in out and "template" in out


def test_invalid_crds_rejected(apiserver: Any) -> None:
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    body = _crd(group)
    body["metadata"]["name"] = f"gadgets.{group}"
    body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["loose"] = {}
    body["spec"]["versions"].append({**body["spec"]["versions"][0], "name": "v2"})
    status, out, _ = apiserver.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
    assert status == 422, out
    causes = {(c["field"], c["message"]) for c in out["details"]["causes"]}
    assert ("metadata.name", 'Invalid value: "gadgets.' + group + '": must be spec.names.plural+"."+spec.group') \
        in causes
    assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[loose].type",
            "Required value: must not be empty for specified object fields") in causes
    assert any(f == "spec.versions" and m.endswith("must have exactly one version marked as storage version")
               for f, m in causes)
    status, _, _ = apiserver.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{group}")
    assert status == 404


def test_scope_is_immutable(apiserver: Any, crd: dict[str, Any]) -> None:
    name = crd["metadata"]["name"]
    status, out, _ = apiserver.request(
        "PATCH", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}", {"spec": {"scope": "Cluster"}},
        content_type="application/merge-patch+json")
    assert status == 422
    assert {"reason": "FieldValueInvalid", "field": "spec.scope",
            "message": 'Invalid value: "Cluster": field is immutable'} in out["details"]["causes"]


def test_name_conflict_reported(apiserver: Any, crd: dict[str, Any]) -> None:
    group = crd["spec"]["group"]
    other = _crd(group, plural="gizmos", kind="Widget", short="gz")
    other["spec"]["names"]["singular"] = "gizmo"
    apiserver.kubectl("apply", "-f", "-", input=yaml.safe_dump(other))
    url = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.{group}"

    def names_condition() -> dict[str, Any] | None:
        _, obj, _ = apiserver.request("GET", url)
        return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "NamesAccepted"), None)

    condition = _wait(names_condition)
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False", "KindConflict", '"Widget" is already in use')
    assert apiserver.request("GET", f"/apis/{group}/v1/gizmos")[0] == 404
    apiserver.kubectl("delete", "crd", f"gizmos.{group}")


def test_deleting_crd_removes_objects_and_resource(apiserver: Any, crd: dict[str, Any],
                                                   namespace: str) -> None:
    group = crd["spec"]["group"]
    for name in ("x1", "x2"):
        body = _widget(name)
        body["apiVersion"] = f"{group}/v1"
        assert apiserver.request("POST", f"/apis/{group}/v1/namespaces/{namespace}/widgets", body)[0] == 201
    apiserver.kubectl("delete", "crd", crd["metadata"]["name"], "--timeout=30s")
    status, _, _ = apiserver.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                                            f"{crd['metadata']['name']}")
    assert status == 404
    _wait(lambda: apiserver.request("GET", f"/apis/{group}/v1/widgets")[0] == 404)
    _, groups, _ = apiserver.request("GET", "/apis")
    assert group not in [g["name"] for g in groups["groups"]]
    # Re-creating the CRD serves an empty collection: the objects were deleted, not hidden.
    apiserver.kubectl("apply", "-f", "-", input=yaml.safe_dump(_crd(group, short=crd["spec"]["names"]["shortNames"][0])))
    listed = _wait(lambda: (lambda r: r[1] if r[0] == 200 else None)(
        apiserver.request("GET", f"/apis/{group}/v1/widgets")))
    assert listed["items"] == []


def test_updates_of_custom_objects_track_field_managers(apiserver: Any, crd: dict[str, Any],
                                                        namespace: str) -> None:
    group = crd["spec"]["group"]
    path = f"/apis/{group}/v1/namespaces/{namespace}/widgets"
    widget = _widget("owned")
    widget["apiVersion"] = f"{group}/v1"
    status, _, _ = apiserver.request("POST", f"{path}?fieldManager=creator", widget)
    assert status == 201
    status, patched, _ = apiserver.request("PATCH", f"{path}/owned?fieldManager=resizer", {"spec": {"size": 7}},
                                           content_type="application/merge-patch+json")
    assert status == 200, patched
    managers = {entry["manager"]: entry for entry in patched["metadata"]["managedFields"]}
    assert managers["creator"]["operation"] == "Update"
    assert "f:size" in managers["resizer"]["fieldsV1"]["f:spec"]
    assert "f:size" not in managers["creator"]["fieldsV1"].get("f:spec", {})  # moved to the resizer
