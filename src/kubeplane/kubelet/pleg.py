"""The pod lifecycle event generator: upstream's "generic PLEG" for the whole node.

Every ``period`` one relist asks the runtime for all sandboxes and all containers (two CRI calls,
however many pods the node runs), groups them by the pod-uid label and compares each pod's set of
(sandbox or container, id, state) with the previous relist. Only the workers of pods whose set
changed are woken. Without it every pod worker had to poll the runtime on its own (four CRI calls
per pod per second), which on a node with 50 pods kept the kubelet and containerd busy enough to
slow down every pod start.

The first relist wakes every pod it sees: a worker may have looked at its containers just before
the baseline was taken, and a change in between would otherwise go unnoticed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from kubeplane.kubelet import labels
from kubeplane.kubelet.cri import CRIClient, CRIError, pb

log = logging.getLogger(__name__)

# What a relist knows of one pod: ("sandbox" | "container", runtime id, CRI state).
PodRecord = frozenset[tuple[str, str, int]]


def pod_records(sandboxes: Iterable[pb.PodSandbox], containers: Iterable[pb.Container]) -> dict[str, PodRecord]:
    """Every pod uid the runtime has something for, with the state of each of its sandboxes and
    containers. Objects without the pod-uid label (not the kubelet's) are left out."""
    found: dict[str, set[tuple[str, str, int]]] = {}
    for sandbox in sandboxes:
        uid = sandbox.labels.get(labels.POD_UID) or sandbox.metadata.uid
        if uid:
            found.setdefault(uid, set()).add(("sandbox", sandbox.id, int(sandbox.state)))
    for container in containers:
        uid = container.labels.get(labels.POD_UID, "")
        if uid:
            found.setdefault(uid, set()).add(("container", container.id, int(container.state)))
    return {uid: frozenset(records) for uid, records in found.items()}


def changed_pods(before: dict[str, PodRecord], after: dict[str, PodRecord]) -> set[str]:
    """Pods that appeared, disappeared, or whose sandboxes or containers changed state."""
    return {uid for uid in before.keys() | after.keys() if before.get(uid) != after.get(uid)}


class PodLifecycleEventGenerator:
    def __init__(self, cri: CRIClient, wake: Callable[[str], None], period: float = 1.0) -> None:
        """``wake(uid)`` is called for each pod whose runtime state changed."""
        self.cri = cri
        self.wake = wake
        self.period = period
        self._last: dict[str, PodRecord] | None = None
        self.relists = 0  # for tests and diagnostics

    async def relist(self) -> set[str]:
        """One relist; wakes and returns the pods that changed since the previous one."""
        sandboxes = await self.cri.list_pod_sandbox()
        containers = await self.cri.list_containers()
        current = pod_records(sandboxes, containers)
        changed = set(current) if self._last is None else changed_pods(self._last, current)
        self._last = current
        self.relists += 1
        for uid in changed:
            self.wake(uid)
        return changed

    async def run(self) -> None:
        while True:
            try:
                await self.relist()
            except asyncio.CancelledError:
                raise
            except CRIError as error:
                # The workers' own slow resync still runs; the next relist compares with the last
                # good one, so nothing that changed meanwhile is missed.
                log.warning("relisting the runtime failed: %s", error.details)
            await asyncio.sleep(self.period)
