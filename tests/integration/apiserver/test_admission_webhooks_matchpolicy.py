"""matchPolicy against a real API server: webhooks registered for autoscaling/v2 HPAs see (Equivalent)
or do not see (Exact) HPAs created through autoscaling/v1; the review names both versions, carries
the v2 object, and a mutating webhook's v2 patch lands in the v1 object."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from apiserver_process import APIServerProcess
from test_admission_plugins import new_namespace
from test_admission_webhooks import _configure, _Reviewer, webhook  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

HPA_RESOURCE = "horizontalpodautoscalers"


def _hook(name: str, url: str, ca_bundle: str, ns: str, policy: str) -> dict[str, Any]:
    return {"name": name, "clientConfig": {"url": url, "caBundle": ca_bundle}, "matchPolicy": policy,
            "rules": [{"operations": ["CREATE"], "apiGroups": ["autoscaling"], "apiVersions": ["v2"],
                       "resources": [HPA_RESOURCE]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "sideEffects": "None", "admissionReviewVersions": ["v1"]}


def _hpa_v1(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, **({"labels": labels} if labels else {})},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 3, "targetCPUUtilizationPercentage": 70}}


def test_equivalent_webhooks_see_converted_requests(apiserver: APIServerProcess,
                                                     webhook: tuple[str, str]) -> None:  # noqa: F811
    url, ca_bundle = webhook
    ns = new_namespace(apiserver)
    suffix = uuid.uuid4().hex[:6]
    _configure(apiserver, "Mutating", f"hpa-label-{suffix}",
               [_hook("equivalent-label.test.io", url + "/mutate", ca_bundle, ns, "Equivalent")])
    _configure(apiserver, "Validating", f"hpa-deny-{suffix}",
               [_hook("exact-deny.test.io", url + "/validate", ca_bundle, ns, "Exact")])
    path = f"/apis/autoscaling/v1/namespaces/{ns}/{HPA_RESOURCE}"

    status, created, _ = apiserver.request("POST", path, _hpa_v1("web", labels={"deny": "true"}))
    # The Exact validating webhook (v2 only) never saw this v1 request, so nothing denied it.
    assert status == 201, created
    assert created["apiVersion"] == "autoscaling/v1"
    assert created["metadata"]["labels"] == {"deny": "true", "mutated": "yes"}
    assert created["spec"]["targetCPUUtilizationPercentage"] == 70

    seen = [r for r in _Reviewer.seen if r.get("namespace") == ns]
    assert len(seen) == 1, seen
    request = seen[0]
    assert request["kind"] == {"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler"}
    assert request["resource"] == {"group": "autoscaling", "version": "v2", "resource": HPA_RESOURCE}
    assert request["requestKind"] == {"group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"}
    assert request["requestResource"] == {"group": "autoscaling", "version": "v1", "resource": HPA_RESOURCE}
    assert request["object"]["apiVersion"] == "autoscaling/v2"
    assert request["object"]["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70

    # Through v2 itself, the Exact webhook does see (and deny) it.
    v2 = {**_hpa_v1("web2", labels={"deny": "true"}), "apiVersion": "autoscaling/v2"}
    del v2["spec"]["targetCPUUtilizationPercentage"]
    status, body, _ = apiserver.request("POST", f"/apis/autoscaling/v2/namespaces/{ns}/{HPA_RESOURCE}", v2)
    assert status == 403, body
    assert body["message"].startswith('admission webhook "exact-deny.test.io" denied the request')
