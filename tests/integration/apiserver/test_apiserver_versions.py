"""One stored object served in several versions: HPA autoscaling/v1 and v2, Events core and events.k8s.io."""

import pytest

pytestmark = pytest.mark.integration

HPA = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 4,
             "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                    "averageUtilization": 60}}}],
             "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}}},
}


def test_an_hpa_made_in_v2_is_served_and_updated_in_v1(apiserver, namespace):
    v2 = f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers"
    v1 = f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers"
    status, created, _ = apiserver.request("POST", v2, HPA)
    assert status == 201, created
    status, old, _ = apiserver.request("GET", f"{v1}/web")
    assert status == 200 and old["apiVersion"] == "autoscaling/v1"
    assert old["spec"]["targetCPUUtilizationPercentage"] == 60
    assert old["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    old["spec"]["maxReplicas"] = 9
    old["spec"]["targetCPUUtilizationPercentage"] = 75
    status, updated, _ = apiserver.request("PUT", f"{v1}/web", old)
    assert status == 200, updated
    _, now, _ = apiserver.request("GET", f"{v2}/web")
    assert now["spec"]["maxReplicas"] == 9
    assert now["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 75
    assert now["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 30  # kept across v1
    assert "annotations" not in now["metadata"]
    names = apiserver.kubectl("get", "horizontalpodautoscalers.v1.autoscaling", "-n", namespace,
                              "-o", "jsonpath={.items[*].spec.targetCPUUtilizationPercentage}").stdout
    assert names == "75"


def test_an_hpa_made_in_v1_has_v2_defaults(apiserver, namespace):
    body = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "api"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "maxReplicas": 2}}
    status, created, _ = apiserver.request(
        "POST", f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers", body)
    assert status == 201, created
    assert created["spec"]["minReplicas"] == 1
    _, v2, _ = apiserver.request("GET", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/api")
    assert v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    assert "behavior" not in v2["spec"]  # as upstream: v2 fills in a behavior only if one is given


def test_core_and_events_k8s_io_events_are_one_store(apiserver, namespace):
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "started"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": namespace},
            "reason": "Started", "message": "Started container app", "type": "Normal",
            "source": {"component": "kubelet"}, "count": 1,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}
    status, created, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/events", core)
    assert status == 201, created
    path = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
    _, listed, _ = apiserver.request("GET", f"{path}?fieldSelector=regarding.name%3Dweb")
    assert [(e["note"], e["regarding"]["name"], e["deprecatedCount"]) for e in listed["items"]] == \
        [("Started container app", "web", 1)]
    _, none, _ = apiserver.request("GET", f"{path}?fieldSelector=regarding.name%3Ddb&resourceVersion=0")
    assert none["items"] == []

    new = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "pulled"},
           "eventTime": "2026-01-01T00:00:02.000000Z", "reportingController": "kubelet",
           "reportingInstance": "node-1", "action": "Pull", "reason": "Pulled", "type": "Normal",
           "note": "Pulled image", "regarding": {"kind": "Pod", "name": "web", "namespace": namespace}}
    status, created, _ = apiserver.request("POST", path, new)
    assert status == 201, created
    _, described, _ = apiserver.request(
        "GET", f"/api/v1/namespaces/{namespace}/events?fieldSelector=involvedObject.name%3Dweb")
    assert sorted(e["message"] for e in described["items"]) == ["Pulled image", "Started container app"]
