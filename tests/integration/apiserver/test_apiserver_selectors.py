"""LIST details against the real server: an expired continue token
(410), every label-selector operator, and the per-type field selectors upstream supports beyond
pods' spec.nodeName and status.phase."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
MERGE = "application/merge-patch+json"


def expect(response: tuple[int, Any, dict[str, str]], status: int) -> Any:
    code, body, _ = response
    assert code == status, f"expected {status}, got {code}: {str(body)[:600]}"
    return body


def names(apiserver: Any, collection: str, **query: str) -> set[str]:
    listed = expect(apiserver.request("GET", f"{collection}?{urllib.parse.urlencode(query)}"), 200)
    return {item["metadata"]["name"] for item in listed["items"]}


def test_expired_continue_token_is_gone(apiserver: Any, namespace: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/configmaps"
    for index in range(3):
        expect(apiserver.request("POST", collection, {"apiVersion": "v1", "kind": "ConfigMap",
                                                     "metadata": {"name": f"page-{index}"}}), 201)
    first = expect(apiserver.request("GET", f"{collection}?limit=1"), 200)
    token = first["metadata"]["continue"]
    # A later write, then compaction past the snapshot the token reads from.
    expect(apiserver.request("POST", collection, {"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": "zz-later"}}), 201)
    apiserver.compact_etcd()
    gone = expect(apiserver.request("GET", f"{collection}?limit=1&continue={urllib.parse.quote(token)}"), 410)
    assert gone["kind"] == "Status" and gone["reason"] == "Expired" and gone["code"] == 410
    assert gone["message"].startswith("The provided continue parameter is too old to display a consistent list "
                                      "result.")
    # Upstream hands back a token that continues inconsistently from the same key: at the latest
    # revision, so the object created after the first page shows up.
    assert gone["metadata"].get("continue")
    rest = expect(apiserver.request("GET", f"{collection}?limit=10&continue="
                                           f"{urllib.parse.quote(gone['metadata']['continue'])}"), 200)
    assert [i["metadata"]["name"] for i in rest["items"]] == ["page-1", "page-2", "zz-later"]


def test_every_label_selector_operator(apiserver: Any, namespace: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/configmaps"
    labelled = {"a": {"tier": "front", "env": "prod"}, "b": {"tier": "back", "env": "dev"}, "c": {"env": "prod"}}
    for name, labels in labelled.items():
        expect(apiserver.request("POST", collection, {"apiVersion": "v1", "kind": "ConfigMap",
                                                     "metadata": {"name": name, "labels": labels}}), 201)
    cases = {
        "tier=front": {"a"}, "tier==front": {"a"}, "tier!=front": {"b", "c"},
        "tier in (front,back)": {"a", "b"}, "tier notin (front)": {"b", "c"}, "tier": {"a", "b"}, "!tier": {"c"},
        "env=prod,tier": {"a"}, "env in (prod),!tier": {"c"}, "tier notin (front,back),env": {"c"},
    }
    for selector, expected in cases.items():
        for rv in ({}, {"resourceVersion": "0"}):  # from etcd and from the watch cache
            assert names(apiserver, collection, labelSelector=selector, **rv) == expected, (selector, rv)
    bad = expect(apiserver.request("GET", f"{collection}?labelSelector={urllib.parse.quote('tier in front')}"), 400)
    assert bad["reason"] == "BadRequest"


def test_field_selectors_per_type(apiserver: Any, namespace: str) -> None:
    core = f"/api/v1/namespaces/{namespace}"
    # secrets: type
    for name, secret_type in (("opaque", "Opaque"), ("tls-ish", "example.com/custom")):
        expect(apiserver.request("POST", f"{core}/secrets", {"apiVersion": "v1", "kind": "Secret",
                                                             "metadata": {"name": name}, "type": secret_type}), 201)
    assert names(apiserver, f"{core}/secrets", fieldSelector="type=example.com/custom") == {"tls-ish"}

    # events: involvedObject.*, reason, type, source
    for name, kind, reason, event_type in (("e1", "Pod", "Started", "Normal"), ("e2", "Node", "Failed", "Warning")):
        expect(apiserver.request("POST", f"{core}/events", {
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": kind, "name": "thing", "namespace": namespace, "uid": f"uid-{name}"},
            "reason": reason, "type": event_type, "message": "m", "source": {"component": "tests"}}), 201)
    events = f"{core}/events"
    assert names(apiserver, events, fieldSelector="involvedObject.kind=Node") == {"e2"}
    assert names(apiserver, events, fieldSelector="involvedObject.uid=uid-e1") == {"e1"}
    assert names(apiserver, events, fieldSelector="reason=Started,type=Normal") == {"e1"}
    assert names(apiserver, events, fieldSelector="type!=Normal") == {"e2"}
    assert names(apiserver, events, fieldSelector="source=tests") == {"e1", "e2"}

    # pods: spec.restartPolicy, spec.schedulerName, spec.serviceAccountName, status.podIP
    # (No ServiceAccount admission runs here, so only p2's account is set, explicitly.)
    for name, policy, extra in (("p1", "Always", {}), ("p2", "Never", {"serviceAccountName": "robot"})):
        expect(apiserver.request("POST", f"{core}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": "busybox:1.35"}], **extra}}),
            201)
    expect(apiserver.request("PATCH", f"{core}/pods/p2/status", {"status": {"podIP": "10.9.8.7",
                                                                         "podIPs": [{"ip": "10.9.8.7"}]}}, MERGE), 200)
    assert names(apiserver, f"{core}/pods", fieldSelector="spec.restartPolicy=Never") == {"p2"}
    assert names(apiserver, f"{core}/pods", fieldSelector="spec.schedulerName=default-scheduler") == {"p1", "p2"}
    assert names(apiserver, f"{core}/pods", fieldSelector="spec.serviceAccountName=robot") == {"p2"}
    assert names(apiserver, f"{core}/pods", fieldSelector="status.podIP=10.9.8.7") == {"p2"}

    # replicasets: status.replicas; jobs: status.successful
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
          "spec": {"replicas": 0, "selector": {"matchLabels": {"a": "b"}},
                   "template": {"metadata": {"labels": {"a": "b"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox:1.35"}]}}}}
    expect(apiserver.request("POST", f"/apis/apps/v1/namespaces/{namespace}/replicasets", rs), 201)
    assert names(apiserver, f"/apis/apps/v1/namespaces/{namespace}/replicasets",
                 fieldSelector="status.replicas=0") == {"rs"}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "job"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox:1.35"}]}}}}
    jobs = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    expect(apiserver.request("POST", jobs, job), 201)
    expect(apiserver.request("PATCH", f"{jobs}/job/status", {"status": {"succeeded": 1}}, MERGE), 200)
    assert names(apiserver, jobs, fieldSelector="status.successful=1") == {"job"}


def test_cluster_scoped_field_selectors(apiserver: Any) -> None:
    suffix = uuid.uuid4().hex[:6]
    node = f"cordoned-{suffix}"
    expect(apiserver.request("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
                                                       "spec": {"unschedulable": True}}), 201)
    assert node in names(apiserver, "/api/v1/nodes", fieldSelector="spec.unschedulable=true")
    assert node not in names(apiserver, "/api/v1/nodes", fieldSelector="spec.unschedulable=false")
    assert "default" in names(apiserver, "/api/v1/namespaces", fieldSelector="status.phase=Active")
    unsupported = expect(apiserver.request("GET", "/api/v1/nodes?fieldSelector=spec.podCIDR%3Dx"), 400)
    assert unsupported["message"] == 'field label not supported: spec.podCIDR'
