"""One StatefulSet sync's pod work (upstream ``StatefulSetControl.updateStatefulSet``).

Pods are slots by ordinal: ``[start, start + replicas)`` are wanted, the rest are condemned.
In order: recreate finished pods, create missing ones (claims first), then delete condemned
ones highest ordinal first, then roll pods onto the update revision highest ordinal first down
to the partition. ``OrderedReady`` (monotonic) stops at the first pod that is not Running and
Ready (and available for ``minReadySeconds``) and does one create or delete per sync;
``Parallel`` creates and deletes without waiting. Rolling updates go one pod at a time either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubeplane.client import AlreadyExists, Client, EventRecorder, Informer, NotFound, Resource
from kubeplane.client.events import NORMAL, WARNING
from kubeplane.client.resource import PERSISTENTVOLUMECLAIMS, PODS
from kubeplane.controllers.statefulset.identity import (
    claim_owner_refs,
    claims_for,
    identity_labels,
    identity_matches,
    new_pod,
    ordinal_of,
    replicas_of,
    start_ordinal,
)
from kubeplane.controllers.statefulset.status import (
    is_created,
    is_healthy,
    is_running_and_available,
    is_running_and_ready,
    is_terminating,
    pod_revision,
)

JSON = dict[str, Any]


class ClaimTerminating(Exception):
    """A claim the next pod needs is being deleted: wait for it to go before recreating."""


@dataclass
class Revisions:
    current_set: JSON   # the set with the current revision's template
    update_set: JSON    # the set as it is now
    current: str        # revision names
    update: str


@dataclass
class SetUpdate:
    client: Client
    recorder: EventRecorder
    resource: Resource
    claims: Informer
    now: datetime
    set_: JSON
    revisions: Revisions
    created: list[JSON] = field(default_factory=list)   # pods created this sync (for status)
    requeue_after: float | None = None

    @property
    def monotonic(self) -> bool:
        return (self.set_.get("spec") or {}).get("podManagementPolicy") != "Parallel"

    @property
    def min_ready(self) -> int:
        return int((self.set_.get("spec") or {}).get("minReadySeconds") or 0)

    def _strategy(self) -> JSON:
        return (self.set_.get("spec") or {}).get("updateStrategy") or {}

    def _partition(self) -> int:
        rolling = self._strategy().get("rollingUpdate") or {}
        return int(rolling.get("partition") or 0)

    async def run(self, pods: list[JSON]) -> None:
        start, count = start_ordinal(self.set_), replicas_of(self.set_)
        slots: list[JSON | None] = [None] * count
        condemned = []
        for pod in pods:
            ordinal = ordinal_of(pod)
            if start <= ordinal < start + count:
                slots[ordinal - start] = pod
            else:
                condemned.append(pod)
        condemned.sort(key=ordinal_of, reverse=True)
        if self.set_["metadata"].get("deletionTimestamp"):
            return
        await self._fix_claim_owners([p for p in (*slots, *condemned) if p is not None])
        first_unhealthy = next((p for p in (*slots, *condemned)
                                if p is not None and not is_healthy(p, self.min_ready, self.now)), None)
        for index, slot in enumerate(slots):
            before = len(self.created)
            stop = await self._process_replica(start + index, slot)
            if len(self.created) > before:
                slots[index] = self.created[-1]  # a new pod is not healthy: the roll below waits for it
            if stop and self.monotonic:
                return
        for doomed in condemned:
            if is_terminating(doomed):
                if self.monotonic:
                    return
                continue
            if self.monotonic and doomed is not first_unhealthy and \
                    not is_running_and_available(doomed, self.min_ready, self.now):
                return  # only the first unhealthy pod may go before the others are healthy
            await self._delete(doomed)
            if self.monotonic:
                return
        if self._strategy().get("type") == "OnDelete":
            return
        await self._roll([p for p in slots if p is not None])

    async def _process_replica(self, ordinal: int, pod: JSON | None) -> bool:
        """Work on one wanted slot; True when an OrderedReady set must stop here this sync."""
        if pod is not None and (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            if not is_terminating(pod):
                await self._delete(pod)  # recreated once it is gone
            return True
        if pod is None:
            await self._create(ordinal)
            return True
        if not is_created(pod) or is_terminating(pod) or not is_running_and_ready(pod):
            return True
        if not is_running_and_available(pod, self.min_ready, self.now):
            self.requeue_after = float(self.min_ready)
            return True
        if not identity_matches(self.set_, pod):
            name = pod["metadata"]["name"]
            await self.client.patch(PODS, name, {"metadata": {"labels": identity_labels(name, ordinal)}},
                                    pod["metadata"].get("namespace"))
        return False

    def _versioned_pod(self, ordinal: int) -> JSON:
        """Below the partition a new pod gets the current revision, otherwise the update one."""
        rolling = self._strategy().get("type", "RollingUpdate") == "RollingUpdate"
        if rolling and ordinal < start_ordinal(self.set_) + self._partition():
            return new_pod(self.revisions.current_set, self.resource, ordinal, self.revisions.current)
        return new_pod(self.revisions.update_set, self.resource, ordinal, self.revisions.update)

    async def _create(self, ordinal: int) -> None:
        pod = self._versioned_pod(ordinal)
        await self._create_claims(ordinal, pod["metadata"]["name"])
        namespace = self.set_["metadata"].get("namespace")
        set_name = self.set_["metadata"]["name"]
        try:
            created = await self.client.create(PODS, pod, namespace)
        except AlreadyExists:
            return  # the cache is behind: the next sync sees it
        except Exception as err:
            self.recorder.event(self.set_, WARNING, "FailedCreate",
                                f"create Pod {pod['metadata']['name']} in StatefulSet {set_name} failed error: {err}")
            raise
        self.created.append(created)
        self.recorder.event(self.set_, NORMAL, "SuccessfulCreate",
                            f"create Pod {pod['metadata']['name']} in StatefulSet {set_name} successful")

    async def _create_claims(self, ordinal: int, for_pod: str) -> None:
        set_name = self.set_["metadata"]["name"]
        for claim in claims_for(self.set_, ordinal).values():
            meta = claim["metadata"]
            cached = self.claims.get(meta["name"], meta["namespace"])
            if cached is not None:
                if cached["metadata"].get("deletionTimestamp"):
                    raise ClaimTerminating(f"pvc {meta['name']} is being deleted")
                continue
            try:
                await self.client.create(PERSISTENTVOLUMECLAIMS, claim, meta["namespace"])
            except AlreadyExists:
                continue
            self.recorder.event(self.set_, NORMAL, "SuccessfulCreate",
                                f"create Claim {meta['name']} Pod {for_pod} in StatefulSet {set_name} success")

    async def _fix_claim_owners(self, pods: list[JSON]) -> None:
        for pod in pods:
            for claim in claims_for(self.set_, ordinal_of(pod)).values():
                cached = self.claims.get(claim["metadata"]["name"], claim["metadata"]["namespace"])
                if cached is None:
                    continue
                refs = claim_owner_refs(self.set_, pod, cached)
                if refs is None:
                    continue
                # An update, not a patch: statefulset-controller is granted only ``update`` on claims.
                meta = {**cached["metadata"], "ownerReferences": refs}
                if not refs:
                    del meta["ownerReferences"]
                try:
                    await self.client.update(PERSISTENTVOLUMECLAIMS, {**cached, "metadata": meta})
                except NotFound:
                    pass

    async def _delete(self, pod: JSON) -> None:
        name = pod["metadata"]["name"]
        try:
            await self.client.delete(PODS, name, pod["metadata"].get("namespace"))
        except NotFound:
            return
        self.recorder.event(self.set_, NORMAL, "SuccessfulDelete",
                            f"delete Pod {name} in StatefulSet {self.set_['metadata']['name']} successful")

    async def _roll(self, slots: list[JSON]) -> None:
        """Replace the highest-ordinal pod not on the update revision, down to the partition."""
        floor = start_ordinal(self.set_) + self._partition()
        for pod in sorted(slots, key=ordinal_of, reverse=True):
            if ordinal_of(pod) < floor:
                return
            if pod_revision(pod) != self.revisions.update and not is_terminating(pod):
                await self._delete(pod)
                return
            if not is_healthy(pod, self.min_ready, self.now):
                return  # wait for the replaced pod before touching the next

