"""Which nodes a DaemonSet's pod belongs on (upstream ``NodeShouldRunDaemonPod``): the
template's nodeName, nodeSelector and required node affinity must match, and its tolerations —
with the ones the controller adds to every daemon pod — must cover the node's NoSchedule and
NoExecute taints. An untolerated NoExecute taint also evicts a pod already there.

The matching itself is the scheduler's, shared through ``machinery`` (controllers may not
import the scheduler).
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.nodeaffinity import pod_spec_matches_node
from kubeplane.machinery.taints import NO_EXECUTE, NO_SCHEDULE, first_untolerated, node_taints

JSON = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
PID_PRESSURE = "node.kubernetes.io/pid-pressure"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

def default_tolerations(pod_spec: JSON) -> list[JSON]:
    """What upstream adds to every daemon pod so node conditions never evict or block it."""
    added = [{"key": NOT_READY, "operator": "Exists", "effect": NO_EXECUTE},
             {"key": UNREACHABLE, "operator": "Exists", "effect": NO_EXECUTE},
             {"key": DISK_PRESSURE, "operator": "Exists", "effect": NO_SCHEDULE},
             {"key": MEMORY_PRESSURE, "operator": "Exists", "effect": NO_SCHEDULE},
             {"key": PID_PRESSURE, "operator": "Exists", "effect": NO_SCHEDULE},
             {"key": UNSCHEDULABLE, "operator": "Exists", "effect": NO_SCHEDULE}]
    if pod_spec.get("hostNetwork"):
        added.append({"key": NETWORK_UNAVAILABLE, "operator": "Exists", "effect": NO_SCHEDULE})
    return added


def with_default_tolerations(tolerations: list[JSON], pod_spec: JSON) -> list[JSON]:
    """``tolerations`` plus the defaults, each default replacing one with the same key and effect."""
    result = list(tolerations)
    for toleration in default_tolerations(pod_spec):
        result = [t for t in result if (t.get("key"), t.get("effect")) != (toleration["key"], toleration["effect"])]
        result.append(toleration)
    return result


def _untolerated(taints: list[JSON], tolerations: list[JSON], effect: str) -> bool:
    return first_untolerated(taints, tolerations, lambda taint: taint.get("effect") == effect) is not None


def node_should_run(ds: JSON, node: JSON) -> tuple[bool, bool]:
    """(should run a daemon pod here, should keep one that already runs here)."""
    pod_spec = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    name = node["metadata"]["name"]
    if pod_spec.get("nodeName") and pod_spec["nodeName"] != name:
        return False, False
    if not pod_spec_matches_node(pod_spec, node):
        return False, False
    taints = node_taints(node)
    tolerations = with_default_tolerations(list(pod_spec.get("tolerations") or ()), pod_spec)
    if _untolerated(taints, tolerations, NO_EXECUTE):
        return False, False
    if _untolerated(taints, tolerations, NO_SCHEDULE):
        return False, True
    return True, True
