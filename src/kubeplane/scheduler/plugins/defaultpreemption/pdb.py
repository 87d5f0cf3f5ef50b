"""Which victims' eviction would break a PodDisruptionBudget (upstream's filterPodsWithPDBViolation).

Preemption does not go through the eviction API, so it cannot be refused by a PDB; it only
prefers victims whose eviction the budgets allow, and prefers nodes needing fewer violations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubeplane.machinery import labels
from kubeplane.machinery.errors import StatusError
from kubeplane.scheduler.framework.nodeinfo import PodInfo

JSON = dict[str, Any]


def _selector(pdb: JSON) -> labels.LabelSelector | None:
    raw = (pdb.get("spec") or {}).get("selector")
    if raw is None:
        return None
    try:
        selector = labels.from_label_selector(raw)
    except StatusError:
        return None
    # As upstream: a PDB with an empty selector protects nothing here.
    return None if selector.empty else selector


def split_by_pdb_violation(pods: Sequence[PodInfo], pdbs: Sequence[JSON]) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non_violating), each in the order given.

    Budgets are spent in order: with ``disruptionsAllowed: 1`` the first matching pod is fine and
    the second violates. A pod the API server already counts as disrupted (``status.disruptedPods``)
    spends nothing.
    """
    budgets = [(pdb, _selector(pdb)) for pdb in pdbs]
    allowed = [int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) for pdb in pdbs]
    violating: list[PodInfo] = []
    non_violating: list[PodInfo] = []
    for pod in pods:
        violated = False
        if pod.labels:
            for index, (pdb, selector) in enumerate(budgets):
                metadata = pdb.get("metadata") or {}
                if metadata.get("namespace") != pod.namespace or selector is None \
                        or not selector.matches(pod.labels):
                    continue
                disrupted = (pdb.get("status") or {}).get("disruptedPods") or {}
                if pod.metadata.get("name") in disrupted:
                    continue
                allowed[index] -= 1
                if allowed[index] < 0:
                    violated = True
        (violating if violated else non_violating).append(pod)
    return violating, non_violating
