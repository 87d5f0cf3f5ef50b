"""Conversions between a served version and the storage version (HPA v1/v2, Events core/events.k8s.io)."""

from kubeplane.apiserver.registry.conversion.autoscaling import (
    BEHAVIOR,
    CONDITIONS,
    METRICS,
    v1_to_v2,
    v2_to_v1,
)
from kubeplane.apiserver.registry.conversion.events import core_to_events_v1, events_v1_to_core
from kubeplane.machinery.fields import compile_predicate, selectable_projection

CPU_70 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
PODS_QPS = {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}
HPA_V2 = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "ns", "annotations": {"team": "a"}},
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
             "minReplicas": 1, "maxReplicas": 5, "metrics": [CPU_70, PODS_QPS],
             "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
    "status": {"currentReplicas": 2, "desiredReplicas": 3,
               "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 55}}}],
               "conditions": [{"type": "AbleToScale", "status": "True"}]},
}


def test_hpa_v2_reads_as_v1_with_the_cpu_target_and_the_rest_in_annotations() -> None:
    v1 = v2_to_v1(HPA_V2)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 70
    assert "metrics" not in v1["spec"] and "behavior" not in v1["spec"]
    assert v1["status"]["currentCPUUtilizationPercentage"] == 55
    annotations = v1["metadata"]["annotations"]
    assert annotations["team"] == "a"
    assert METRICS in annotations and BEHAVIOR in annotations and CONDITIONS in annotations
    assert HPA_V2["metadata"]["annotations"] == {"team": "a"}  # the argument is not mutated


def test_hpa_round_trip_through_v1_loses_nothing() -> None:
    assert v1_to_v2(v2_to_v1(HPA_V2)) == HPA_V2


def test_hpa_v1_without_a_target_gets_v2s_default_cpu_metric() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 3}}
    v2 = v1_to_v2(v1)
    assert v2["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    assert "annotations" not in v2["metadata"]


CORE_EVENT = {
    "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "ns"},
    "involvedObject": {"kind": "Pod", "name": "web", "namespace": "ns"}, "reason": "Started",
    "message": "Started container", "source": {"component": "kubelet"}, "firstTimestamp": "2026-01-01T00:00:00Z",
    "lastTimestamp": "2026-01-01T00:00:01Z", "count": 2, "type": "Normal", "reportingComponent": "kubelet",
    "reportingInstance": "node-1",
}


def test_core_event_reads_as_events_v1_and_back() -> None:
    v1 = core_to_events_v1(CORE_EVENT)
    assert v1["apiVersion"] == "events.k8s.io/v1"
    assert v1["regarding"]["name"] == "web" and v1["note"] == "Started container"
    assert v1["deprecatedCount"] == 2 and v1["reportingController"] == "kubelet"
    assert v1["deprecatedSource"] == {"component": "kubelet"}
    assert events_v1_to_core(v1) == CORE_EVENT


def test_events_v1_selectors_work_on_converted_cache_projections() -> None:
    projection = selectable_projection("", "events")(CORE_EVENT)
    for selector in ("regarding.name=web", "involvedObject.name=web", "reportingController=kubelet", "type=Normal"):
        predicate = compile_predicate("events.k8s.io", "events", "", selector)
        assert predicate is not None and predicate(core_to_events_v1(projection)), selector
    miss = compile_predicate("events.k8s.io", "events", "", "regarding.name=db")
    assert miss is not None and not miss(core_to_events_v1(projection))
