"""matchPolicy: Exact matches only the versions a rule names; Equivalent also catches requests made
through an equivalent resource, converted to the version the webhook registered for."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.admission.attributes import Attributes, User
from kubeplane.apiserver.admission.webhook.client import review_request
from kubeplane.apiserver.admission.webhook.equivalence import GVR, convert, equivalents
from kubeplane.apiserver.admission.webhook.matching import invocation
from kubeplane.catalog import Catalog

CATALOG = Catalog.for_version("1.31")
HPA_V1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                   "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 60}}


def _attrs(group: str, version: str, resource: str, obj: dict[str, Any]) -> Attributes:
    info = CATALOG.lookup(group, version, resource)
    assert info is not None
    return Attributes("CREATE", info, "ns", obj["metadata"]["name"], obj, None, User("u"))


def _hook(group: str, version: str, resource: str, policy: str | None = None) -> dict[str, Any]:
    hook: dict[str, Any] = {"rules": [{"operations": ["CREATE"], "apiGroups": [group], "apiVersions": [version],
                                       "resources": [resource]}]}
    if policy:
        hook["matchPolicy"] = policy
    return hook


def test_equivalent_resources_share_storage() -> None:
    assert equivalents(GVR("autoscaling", "v1", "horizontalpodautoscalers"), set()) == [
        GVR("autoscaling", "v2", "horizontalpodautoscalers")]
    assert equivalents(GVR("", "v1", "events"), set()) == [GVR("events.k8s.io", "v1", "events")]
    assert equivalents(GVR("events.k8s.io", "v1", "events"), set()) == [GVR("", "v1", "events")]
    assert equivalents(GVR("", "v1", "pods"), set()) == []


def test_exact_and_equivalent_matching() -> None:
    attrs = _attrs("autoscaling", "v1", "horizontalpodautoscalers", HPA_V1)
    v2 = GVR("autoscaling", "v2", "horizontalpodautoscalers")
    assert invocation(_hook("autoscaling", "v2", "horizontalpodautoscalers"), attrs) == v2
    assert invocation(_hook("autoscaling", "v2", "horizontalpodautoscalers", "Exact"), attrs) is None
    own = invocation(_hook("autoscaling", "*", "horizontalpodautoscalers", "Exact"), attrs)
    assert own == GVR("autoscaling", "v1", "horizontalpodautoscalers")
    event = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "reason": "R",
             "note": "n", "eventTime": "2026-01-01T00:00:00.000000Z", "action": "A", "reportingController": "c",
             "reportingInstance": "i", "regarding": {"kind": "Pod", "name": "p", "namespace": "ns"}}
    event_attrs = _attrs("events.k8s.io", "v1", "events", event)
    assert invocation(_hook("", "v1", "events"), event_attrs) == GVR("", "v1", "events")
    assert invocation(_hook("", "v1", "events", "Exact"), event_attrs) is None
    assert invocation(_hook("", "v1", "pods"), event_attrs) is None


def test_review_carries_both_kinds_and_the_converted_object() -> None:
    attrs = _attrs("autoscaling", "v1", "horizontalpodautoscalers", HPA_V1)
    v2 = GVR("autoscaling", "v2", "horizontalpodautoscalers")
    request = review_request(attrs, v2)["request"]
    assert request["kind"] == {"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler"}
    assert request["resource"] == {"group": "autoscaling", "version": "v2", "resource": "horizontalpodautoscalers"}
    assert request["requestKind"] == {"group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"}
    assert request["requestResource"]["version"] == "v1"
    assert request["object"]["apiVersion"] == "autoscaling/v2"
    assert request["object"]["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]
    assert attrs.object == HPA_V1  # the request's own object is untouched
    back = convert(request["object"], v2, GVR("autoscaling", "v1", "horizontalpodautoscalers"))
    assert back is not None and back["spec"]["targetCPUUtilizationPercentage"] == 60
