"""The Eviction API against the real server, as upstream's pkg/registry/core/pod/storage/eviction.go:
budgets spent and recorded, unprocessed budgets, pods that ignore budgets, the DisruptionTarget
condition, more than one budget; and `kubectl drain`, which retries refused evictions."""

from __future__ import annotations

from typing import Any

import pytest
from test_apiserver_object_semantics import bind, expect, make_pod, pods, unique

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
MERGE = "application/merge-patch+json"


def evict(apiserver: Any, namespace: str, name: str) -> tuple[int, Any, dict[str, str]]:
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
    result: tuple[int, Any, dict[str, str]] = apiserver.request("POST", f"{pods(namespace)}/{name}/eviction",
                                                                eviction)
    return result


# -- eviction --------------------------------------------------------------------------------------------

def test_eviction_without_a_budget_deletes_the_pod(apiserver: Any, namespace: str) -> None:
    name = make_pod(apiserver, namespace)["metadata"]["name"]
    status = expect(evict(apiserver, namespace, name), 201)
    assert status["kind"] == "Status" and status["status"] == "Success"
    expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 404)


def running(apiserver: Any, namespace: str, name: str, ready: bool = True) -> None:
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    expect(apiserver.request("PATCH", f"{pods(namespace)}/{name}/status",
                             {"status": {"phase": "Running", "conditions": conditions}}, MERGE), 200)


def budget(apiserver: Any, namespace: str, name: str, labels: dict[str, str], status: JSON | None = None) -> JSON:
    """A PDB (minAvailable 1) over ``labels``; with ``status``, written as the disruption controller would."""
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}}}
    path = f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"
    created: JSON = expect(apiserver.request("POST", path, pdb), 201)
    if status is not None:
        created["status"] = {"observedGeneration": created["metadata"]["generation"], **status}
        created = expect(apiserver.request("PUT", f"{path}/{name}/status", created), 200)
    return created


def test_eviction_is_refused_while_the_budget_is_unprocessed(apiserver: Any, namespace: str) -> None:
    """A running pod covered by a PDB whose status the disruption controller has not written yet
    (observedGeneration < generation): upstream's checkAndDecrement answers createTooManyRequestsError."""
    labels = {"app": unique("guarded")}
    name = make_pod(apiserver, namespace, labels)["metadata"]["name"]
    running(apiserver, namespace, name)
    budget(apiserver, namespace, "guard", labels)
    refused = expect(evict(apiserver, namespace, name), 429)
    assert refused["reason"] == "TooManyRequests"
    assert refused["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    # StatusCause.Type is serialised as "reason".
    assert [(c.get("reason"), c.get("message")) for c in refused["details"]["causes"]] == [
        ("DisruptionBudget", "The disruption budget guard is still being processed by the server.")]
    expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 200)


def test_eviction_decrements_the_budget(apiserver: Any, namespace: str) -> None:
    """Two ready pods, a processed budget allowing one disruption: the first eviction uses it up (the
    PDB's status says so, with the pod in disruptedPods), the second is refused."""
    labels = {"app": unique("pair")}
    names = [make_pod(apiserver, namespace, labels)["metadata"]["name"] for _ in range(2)]
    for name in names:
        running(apiserver, namespace, name)
    budget(apiserver, namespace, "pair", labels, {"disruptionsAllowed": 1, "currentHealthy": 2,
                                                 "desiredHealthy": 1, "expectedPods": 2})
    expect(evict(apiserver, namespace, names[0]), 201)
    after = expect(apiserver.request("GET", f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/pair"),
                   200)
    assert after["status"]["disruptionsAllowed"] == 0
    assert names[0] in after["status"].get("disruptedPods", {})
    # Spending the last allowed disruption flips the condition, as pdbhelper.UpdateDisruptionAllowedCondition.
    [allowed] = [c for c in after["status"]["conditions"] if c["type"] == "DisruptionAllowed"]
    assert (allowed["status"], allowed["reason"]) == ("False", "InsufficientPods")
    refused = expect(evict(apiserver, namespace, names[1]), 429)
    assert [(c.get("reason"), c.get("message")) for c in refused["details"]["causes"]] == [
        ("DisruptionBudget", "The disruption budget pair needs 1 healthy pods and has 2 currently")]
    expect(apiserver.request("GET", f"{pods(namespace)}/{names[1]}"), 200)


def test_eviction_of_a_pending_pod_ignores_the_budget(apiserver: Any, namespace: str) -> None:
    """Upstream's canIgnorePDB: Pending (and terminal, and deleting) pods are deleted without a check."""
    labels = {"app": unique("pending")}
    name = make_pod(apiserver, namespace, labels)["metadata"]["name"]
    budget(apiserver, namespace, "pending", labels, {"disruptionsAllowed": 0, "currentHealthy": 0,
                                                    "desiredHealthy": 1, "expectedPods": 1})
    expect(evict(apiserver, namespace, name), 201)
    expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 404)


def test_eviction_marks_the_pod_as_a_disruption_target(apiserver: Any, namespace: str) -> None:
    """A bound pod is deleted gracefully, so it stays a while: with the DisruptionTarget condition
    upstream's addConditionAndDeletePod writes first (PodDisruptionConditions, GA in 1.31)."""
    name = make_pod(apiserver, namespace)["metadata"]["name"]
    expect(bind(apiserver, namespace, name, "node-1"), 201)
    running(apiserver, namespace, name)
    expect(evict(apiserver, namespace, name), 201)
    pod = expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 200)
    assert pod["metadata"]["deletionTimestamp"]
    targets = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert [(c["status"], c["reason"], c["message"]) for c in targets] == [
        ("True", "EvictionByEvictionAPI", "Eviction API: evicting")]


def test_eviction_with_two_budgets_is_refused(apiserver: Any, namespace: str) -> None:
    labels = {"app": unique("double")}
    name = make_pod(apiserver, namespace, labels)["metadata"]["name"]
    running(apiserver, namespace, name)
    for pdb in ("one", "two"):
        budget(apiserver, namespace, pdb, labels, {"disruptionsAllowed": 1, "currentHealthy": 1,
                                                  "desiredHealthy": 1, "expectedPods": 1})
    refused = expect(evict(apiserver, namespace, name), 500)
    assert refused["message"] == \
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 200)


def test_eviction_of_a_missing_pod_is_not_found(apiserver: Any, namespace: str) -> None:
    expect(evict(apiserver, namespace, "no-such-pod"), 404)




def test_an_unready_pod_is_evicted_without_spending_a_healthy_budget(apiserver: Any, namespace: str) -> None:
    """IfHealthyBudget (the default): the application is healthy without the unready pod
    (currentHealthy >= desiredHealthy), so it goes even though no disruption is allowed, and
    the budget is left as it was."""
    labels = {"app": unique("unready")}
    name = make_pod(apiserver, namespace, labels)["metadata"]["name"]
    running(apiserver, namespace, name, ready=False)
    budget(apiserver, namespace, "healthy", labels, {"disruptionsAllowed": 0, "currentHealthy": 1,
                                                    "desiredHealthy": 1, "expectedPods": 2})
    expect(evict(apiserver, namespace, name), 201)
    expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 404)
    after = expect(apiserver.request("GET", f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/healthy"),
                   200)
    assert "disruptedPods" not in after["status"]


def test_unhealthy_pod_eviction_policy_always_allow(apiserver: Any, namespace: str) -> None:
    labels = {"app": unique("always")}
    name = make_pod(apiserver, namespace, labels)["metadata"]["name"]
    running(apiserver, namespace, name, ready=False)
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "always"},
           "spec": {"minAvailable": 2, "selector": {"matchLabels": labels}, "unhealthyPodEvictionPolicy": "AlwaysAllow"}}
    path = f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"
    created = expect(apiserver.request("POST", path, pdb), 201)
    created["status"] = {"observedGeneration": created["metadata"]["generation"], "disruptionsAllowed": 0,
                         "currentHealthy": 0, "desiredHealthy": 2, "expectedPods": 1}
    expect(apiserver.request("PUT", f"{path}/always/status", created), 200)
    expect(evict(apiserver, namespace, name), 201)
    expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 404)


def test_dry_run_eviction_spends_nothing(apiserver: Any, namespace: str) -> None:
    labels = {"app": unique("dry")}
    name = make_pod(apiserver, namespace, labels)["metadata"]["name"]
    running(apiserver, namespace, name)
    budget(apiserver, namespace, "dry", labels, {"disruptionsAllowed": 1, "currentHealthy": 2,
                                                "desiredHealthy": 1, "expectedPods": 2})
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name},
                "deleteOptions": {"dryRun": ["All"]}}
    expect(apiserver.request("POST", f"{pods(namespace)}/{name}/eviction", eviction), 201)
    expect(apiserver.request("POST", f"{pods(namespace)}/{name}/eviction?dryRun=All",
                             {**eviction, "deleteOptions": {}}), 201)
    pod = expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 200)
    assert not pod["metadata"].get("deletionTimestamp")
    assert not [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    after = expect(apiserver.request("GET", f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/dry"), 200)
    assert after["status"]["disruptionsAllowed"] == 1 and "disruptedPods" not in after["status"]


def test_eviction_name_must_match_the_url(apiserver: Any, namespace: str) -> None:
    name = make_pod(apiserver, namespace)["metadata"]["name"]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "someone-else"}}
    refused = expect(apiserver.request("POST", f"{pods(namespace)}/{name}/eviction", eviction), 400)
    assert refused["message"] == "name in URL does not match name in Eviction object"
    expect(apiserver.request("GET", f"{pods(namespace)}/{name}"), 200)


def test_kubectl_drain_evicts_within_the_budget(apiserver: Any, namespace: str) -> None:
    """kubectl drain cordons the node and evicts its pods through this API, retrying refused
    evictions until its timeout: with a budget allowing one of two pods to go, one goes, the other
    stays, and drain reports the budget."""
    node = unique("drain-node")
    expect(apiserver.request("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                        "metadata": {"name": node}}), 201)
    try:
        labels = {"app": unique("drained")}
        names = [make_pod(apiserver, namespace, labels)["metadata"]["name"] for _ in range(2)]
        for name in names:
            expect(bind(apiserver, namespace, name, node), 201)
            running(apiserver, namespace, name)
        budget(apiserver, namespace, "drained", labels, {"disruptionsAllowed": 1, "currentHealthy": 2,
                                                        "desiredHealthy": 1, "expectedPods": 2})
        result = apiserver.kubectl("drain", node, "--force", "--grace-period=0", "--timeout=4s", check=False)
        assert result.returncode != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget." in result.stderr
        cordoned = expect(apiserver.request("GET", f"/api/v1/nodes/{node}"), 200)
        assert cordoned["spec"]["unschedulable"] is True
        left = [name for name in names if apiserver.request("GET", f"{pods(namespace)}/{name}")[0] == 200]
        assert len(left) == 1
        gone = next(name for name in names if name not in left)
        after = expect(apiserver.request(
            "GET", f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/drained"), 200)
        assert after["status"]["disruptionsAllowed"] == 0
        assert list(after["status"]["disruptedPods"]) == [gone]
    finally:
        apiserver.request("DELETE", f"/api/v1/nodes/{node}")
