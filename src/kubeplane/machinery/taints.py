"""Whether a pod's tolerations cover a node's taints (upstream's ``ToleratesTaint``), for the
scheduler's plugins and the DaemonSet controller alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

JSON = dict[str, Any]

NO_SCHEDULE, PREFER_NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "PreferNoSchedule", "NoExecute"


def tolerates(toleration: JSON, taint: JSON) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(taint: JSON, tolerations: Iterable[JSON]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def first_untolerated(taints: Iterable[JSON], tolerations: list[JSON],
                      consider: Callable[[JSON], bool]) -> JSON | None:
    """The first taint ``consider`` cares about that no toleration covers, or None."""
    for taint in taints:
        if consider(taint) and not tolerated(taint, tolerations):
            return taint
    return None


def node_taints(node: JSON) -> list[JSON]:
    return (node.get("spec") or {}).get("taints") or []


def pod_tolerations(pod: JSON) -> list[JSON]:
    return (pod.get("spec") or {}).get("tolerations") or []
