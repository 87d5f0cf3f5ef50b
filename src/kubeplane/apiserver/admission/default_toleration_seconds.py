"""DefaultTolerationSeconds: pods tolerate not-ready and unreachable nodes for 300 s by default, so
they are evicted five minutes after their node fails unless they say otherwise."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, UPDATE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects

JSON = dict[str, Any]

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300


class DefaultTolerationSeconds:
    name = "DefaultTolerationSeconds"

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.not_ready_seconds = int((config or {}).get("defaultNotReadyTolerationSeconds", DEFAULT_SECONDS))
        self.unreachable_seconds = int((config or {}).get("defaultUnreachableTolerationSeconds", DEFAULT_SECONDS))

    async def admit(self, attrs: Attributes) -> None:
        # On update too, as upstream: an apply whose atomic tolerations list drops the defaults gets
        # them back instead of failing "existing toleration can not be modified".
        if attrs.operation not in (CREATE, UPDATE) or not attrs.is_main("", "pods") or attrs.object is None:
            return
        spec = attrs.object.setdefault("spec", {})
        tolerations = list(spec.get("tolerations") or ())
        for key, seconds in ((NOT_READY_TAINT, self.not_ready_seconds), (UNREACHABLE_TAINT, self.unreachable_seconds)):
            if any(_tolerates_no_execute(t, key) for t in tolerations):
                continue
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": seconds})
        spec["tolerations"] = tolerations


def _tolerates_no_execute(toleration: JSON, key: str) -> bool:
    """Upstream skips a taint the pod already tolerates with effect NoExecute (or any effect)."""
    if toleration.get("effect") not in ("", None, "NoExecute"):
        return False
    if toleration.get("operator") == "Exists" and not toleration.get("key"):
        return True
    return bool(toleration.get("key") == key)
