"""One sync of one Deployment (upstream ``sync.go``, ``rolling.go``, ``recreate.go``).

A ``Rollout`` holds the Deployment and the ReplicaSets it owns for the length of one sync and
keeps both current as it writes, so each step sees the previous step's result: creating the
new ReplicaSet, scaling new up and old down within the surge/unavailability budget (rolling)
or old to zero before new up (recreate), proportional scaling on resize, revision history
cleanup and the status with its conditions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kubeplane.client import AlreadyExists, Client, EventRecorder, NotFound
from kubeplane.client.events import NORMAL
from kubeplane.client.resource import DEPLOYMENTS, REPLICASETS
from kubeplane.controllers.conditions import get_condition, new_condition, set_condition
from kubeplane.controllers.deployment.hashing import POD_TEMPLATE_HASH_LABEL, compute_hash
from kubeplane.controllers.deployment.replicas import (
    desired_replicas,
    is_rolling_update,
    max_unavailable,
    new_rs_new_replicas,
    spec_replicas_sum,
    status_sum,
)
from kubeplane.controllers.deployment.revisions import (
    DESIRED_REPLICAS,
    REVISION,
    annotated_int,
    annotations_of,
    by_creation,
    equal_ignore_hash,
    find_new_replica_set,
    find_old_replica_sets,
    max_revision,
    replicas_annotations,
    replicas_annotations_need_update,
    revision,
    set_new_rs_annotations,
)
from kubeplane.controllers.deployment.scaling import proportional_sizes
from kubeplane.controllers.deployment.status import (
    FOUND_NEW_RS,
    NEW_RS_CREATED,
    PROGRESSING,
    calculate_status,
    is_complete,
    paused_condition_change,
    progress_deadline,
    seconds_until_stuck_check,
    with_rollout_conditions,
)
from kubeplane.controllers.ownership import is_controlled_by, new_controller_ref
from kubeplane.controllers.pods import TERMINAL_PHASES
from kubeplane.machinery.objects import clone

log = logging.getLogger(__name__)

JSON = dict[str, Any]


def _active(sets: Sequence[JSON | None]) -> list[JSON]:
    return [rs for rs in sets if rs is not None and desired_replicas(rs) > 0]


def _with_new(old: list[JSON], new: JSON | None) -> list[JSON]:
    return [*old, new] if new is not None else list(old)


class Rollout:
    def __init__(self, client: Client, recorder: EventRecorder, now: datetime, deployment: JSON,
                 sets: list[JSON], pods_by_set: dict[str, list[JSON]]) -> None:
        self.client = client
        self.recorder = recorder
        self.now = now
        self.deployment = clone(deployment)
        self.sets = list(sets)
        self.pods_by_set = pods_by_set
        self.requeue_after: float | None = None

    # -- the ReplicaSets ----------------------------------------------------------------------

    def _replace(self, updated: JSON) -> JSON:
        uid = updated["metadata"].get("uid")
        self.sets = [updated if rs["metadata"].get("uid") == uid else rs for rs in self.sets]
        return updated

    def _current(self, rs: JSON) -> JSON:
        uid = rs["metadata"].get("uid")
        return next((s for s in self.sets if s["metadata"].get("uid") == uid), rs)

    async def get_all(self, create: bool) -> tuple[JSON | None, list[JSON]]:
        """(the new ReplicaSet — created if asked and missing —, the old ones)."""
        existing = find_new_replica_set(self.deployment, self.sets)
        old = find_old_replica_sets(self.deployment, self.sets, existing)
        new_revision = max_revision(old) + 1
        if existing is not None:
            return await self._sync_existing_new(existing, new_revision), old
        if not create:
            return None, old
        return await self._create_new(old, new_revision), old

    async def _sync_existing_new(self, existing: JSON, new_revision: int) -> JSON:
        rs = clone(existing)
        changed = set_new_rs_annotations(self.deployment, rs, new_revision, exists=True)
        min_ready = int((self.deployment.get("spec") or {}).get("minReadySeconds") or 0)
        if changed or int(rs["spec"].get("minReadySeconds") or 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            rs = self._replace(await self.client.update(REPLICASETS, rs))
        needs_update = self._set_revision(annotations_of(rs).get(REVISION, ""))
        status = self.deployment.setdefault("status", {})
        if progress_deadline(self.deployment) is not None and get_condition(status.get("conditions"),
                                                                            PROGRESSING) is None:
            status["conditions"] = set_condition(list(status.get("conditions") or ()), new_condition(
                PROGRESSING, "True", FOUND_NEW_RS, f'Found new replica set "{rs["metadata"]["name"]}"', self.now),
                self.now)
            needs_update = True
        if needs_update:
            await self.write_status(status)
        return rs

    async def _create_new(self, old: list[JSON], new_revision: int) -> JSON:
        d = self.deployment
        spec = d["spec"]
        collision_count = (d.get("status") or {}).get("collisionCount")
        template_hash = compute_hash(spec.get("template") or {}, collision_count)
        template = clone(spec.get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH_LABEL] = template_hash
        selector = clone(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH_LABEL] = template_hash
        name = f"{d['metadata']['name']}-{template_hash}"
        replicas = new_rs_new_replicas(d, old, None)
        rs: JSON = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": name, "namespace": d["metadata"].get("namespace"),
                                 "labels": dict(template["metadata"]["labels"]),
                                 "ownerReferences": [new_controller_ref(d, DEPLOYMENTS)]},
                    "spec": {"replicas": replicas, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                             "selector": selector, "template": template}}
        set_new_rs_annotations(d, rs, new_revision, exists=False)
        already_existed = False
        try:
            created = await self.client.create(REPLICASETS, rs)
        except AlreadyExists:
            found = await self.client.get(REPLICASETS, name, d["metadata"].get("namespace"))
            if not (is_controlled_by(found, d) and equal_ignore_hash(found["spec"].get("template"),
                                                                      spec.get("template"))):
                # A hash collision with someone else's ReplicaSet: bump the count so the next
                # sync hashes to a different name.
                status = d.setdefault("status", {})
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                await self.write_status(status)
                raise
            created, already_existed = found, True  # our own, not yet in the cache
        self.sets.append(created)
        if replicas > 0 and not already_existed:
            self.recorder.event(d, NORMAL, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {replicas}")
        needs_update = self._set_revision(str(new_revision))
        status = d.setdefault("status", {})
        if not already_existed and progress_deadline(d) is not None:
            status["conditions"] = set_condition(list(status.get("conditions") or ()), new_condition(
                PROGRESSING, "True", NEW_RS_CREATED, f'Created new replica set "{name}"', self.now), self.now)
            needs_update = True
        if needs_update:
            await self.write_status(status)
        return created

    def _set_revision(self, value: str) -> bool:
        meta = self.deployment["metadata"]
        if not value or (meta.get("annotations") or {}).get(REVISION) == value:
            return False
        meta["annotations"] = {**(meta.get("annotations") or {}), REVISION: value}
        return True

    async def scale(self, rs: JSON, size: int) -> tuple[bool, JSON]:
        """Set ``rs`` to ``size`` (and stamp the Deployment's size on it); True if its size changed."""
        rs = self._current(rs)
        resized = desired_replicas(rs) != size
        if not resized and not replicas_annotations_need_update(rs, self.deployment):
            return False, rs
        body = clone(rs)
        body["spec"]["replicas"] = size
        body["metadata"]["annotations"] = {**annotations_of(rs), **replicas_annotations(self.deployment)}
        updated = self._replace(await self.client.update(REPLICASETS, body))
        if resized:
            direction = "up" if size > desired_replicas(rs) else "down"
            self.recorder.event(self.deployment, NORMAL, "ScalingReplicaSet",
                                f"Scaled {direction} replica set {rs['metadata']['name']} "
                                f"from {desired_replicas(rs)} to {size}")
        return resized, updated

    # -- strategies ---------------------------------------------------------------------------

    async def rolling(self) -> None:
        new, old = await self.get_all(create=True)
        assert new is not None
        if await self._reconcile_new(new):
            return await self.sync_rollout_status()
        if await self._reconcile_old(old, self._current(new)):
            return await self.sync_rollout_status()
        if is_complete(self.deployment, self.deployment.get("status") or {}):
            await self.cleanup(old)
        await self.sync_rollout_status()

    async def _reconcile_new(self, new: JSON) -> bool:
        target = desired_replicas(self.deployment)
        if desired_replicas(new) == target:
            return False
        if desired_replicas(new) > target:
            return (await self.scale(new, target))[0]
        return (await self.scale(new, new_rs_new_replicas(self.deployment, self.sets, new)))[0]

    async def _reconcile_old(self, old: list[JSON], new: JSON) -> bool:
        old_active = _active([self._current(rs) for rs in old])
        if spec_replicas_sum(old_active) == 0:
            return False
        min_available = desired_replicas(self.deployment) - max_unavailable(self.deployment)
        new_unavailable = desired_replicas(new) - int((new.get("status") or {}).get("availableReplicas") or 0)
        max_scaled_down = spec_replicas_sum([*old_active, new]) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = await self._scale_down_unhealthy(old_active, max_scaled_down)
        scaled_down = await self._scale_down_available(old, new, min_available)
        return cleaned + scaled_down > 0

    async def _scale_down_unhealthy(self, old_active: list[JSON], budget: int) -> int:
        """First shrink old ReplicaSets by their unavailable pods: losing those costs nothing."""
        total = 0
        for rs in by_creation(old_active):
            if total >= budget:
                break
            rs = self._current(rs)
            unhealthy = desired_replicas(rs) - int((rs.get("status") or {}).get("availableReplicas") or 0)
            if desired_replicas(rs) == 0 or unhealthy <= 0:
                continue
            count = min(budget - total, unhealthy)
            await self.scale(rs, desired_replicas(rs) - count)
            total += count
        return total

    async def _scale_down_available(self, old: list[JSON], new: JSON, min_available: int) -> int:
        """Then shrink old ReplicaSets, oldest first, as far as availability allows."""
        olds = [self._current(rs) for rs in old]
        available = status_sum([*olds, self._current(new)], "availableReplicas")
        budget = available - min_available
        total = 0
        for rs in by_creation(_active(olds)):
            if total >= budget:
                break
            count = min(desired_replicas(rs), budget - total)
            await self.scale(rs, desired_replicas(rs) - count)
            total += count
        return max(total, 0)

    async def recreate(self) -> None:
        new, old = await self.get_all(create=False)
        scaled = False
        for rs in _active(old):
            scaled = (await self.scale(rs, 0))[0] or scaled
        if scaled or self._old_pods_running(old):
            return await self.sync_rollout_status()
        if new is None:
            new, old = await self.get_all(create=True)
            assert new is not None
        await self.scale(new, desired_replicas(self.deployment))
        if is_complete(self.deployment, self.deployment.get("status") or {}):
            await self.cleanup(old)
        await self.sync_rollout_status()

    def _old_pods_running(self, old: list[JSON]) -> bool:
        olds = [self._current(rs) for rs in old]
        if status_sum(olds, "replicas") > 0:
            return True
        return any((pod.get("status") or {}).get("phase") not in TERMINAL_PHASES
                   for rs in olds for pod in self.pods_by_set.get(rs["metadata"].get("uid", ""), ()))

    async def scale_only(self) -> None:
        """A resize (or a paused Deployment): resize the ReplicaSets, roll nothing forward."""
        new, old = await self.get_all(create=False)
        await self._scale_proportionally(new, old)
        if (self.deployment.get("spec") or {}).get("paused"):
            await self.cleanup(old)
        await self.sync_status()

    async def is_scaling_event(self) -> bool:
        """True when an active ReplicaSet was last sized for a different Deployment size."""
        new, old = await self.get_all(create=False)
        for rs in _active([new, *old]):
            desired = annotated_int(rs, DESIRED_REPLICAS)
            if desired is not None and desired != desired_replicas(self.deployment):
                return True
        return False

    async def _scale_proportionally(self, new: JSON | None, old: list[JSON]) -> None:
        d = self.deployment
        target = desired_replicas(d)
        active_or_latest = self._active_or_latest(new, old)
        if active_or_latest is not None:
            if desired_replicas(active_or_latest) != target:
                await self.scale(active_or_latest, target)
            return
        if new is not None and self._saturated(self._current(new)):
            for rs in _active([self._current(s) for s in old]):
                await self.scale(rs, 0)
            return
        if is_rolling_update(d):
            active = _active([self._current(rs) for rs in _with_new(old, new)])
            for rs, size in proportional_sizes(d, active):
                await self.scale(rs, size)

    def _active_or_latest(self, new: JSON | None, old: list[JSON]) -> JSON | None:
        """The one active ReplicaSet (or the newest when none is active); None with several."""
        newest_first = list(reversed(by_creation([self._current(rs) for rs in old])))
        current_new = self._current(new) if new is not None else None
        active = _active([current_new, *newest_first])
        if not active:
            return current_new or (newest_first[0] if newest_first else None)
        return active[0] if len(active) == 1 else None

    def _saturated(self, rs: JSON) -> bool:
        target = desired_replicas(self.deployment)
        return (annotated_int(rs, DESIRED_REPLICAS) == target and desired_replicas(rs) == target
                and int((rs.get("status") or {}).get("availableReplicas") or 0) == target)

    async def status_only(self) -> None:
        await self.get_all(create=False)
        await self.sync_status()

    # -- history and status -------------------------------------------------------------------

    async def cleanup(self, old: list[JSON]) -> None:
        """Delete the oldest unused ReplicaSets beyond revisionHistoryLimit."""
        limit = (self.deployment.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [self._current(rs) for rs in old if not rs["metadata"].get("deletionTimestamp")]
        excess = len(alive) - int(limit)
        if excess <= 0:
            return
        for rs in sorted(alive, key=lambda s: (revision(s), s["metadata"].get("creationTimestamp") or ""))[:excess]:
            status = rs.get("status") or {}
            meta = rs["metadata"]
            if int(status.get("replicas") or 0) != 0 or desired_replicas(rs) != 0 \
                    or int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
                continue  # still in use, or its controller has not caught up
            try:
                await self.client.delete(REPLICASETS, meta["name"], meta.get("namespace"))
            except NotFound:
                pass

    def _all_sets(self) -> list[JSON]:
        new = find_new_replica_set(self.deployment, self.sets)
        return _with_new(find_old_replica_sets(self.deployment, self.sets, new), new)

    async def sync_status(self) -> None:
        new = find_new_replica_set(self.deployment, self.sets)
        status = calculate_status(self.deployment, self._all_sets(), new, self.now)
        if status != (self.deployment.get("status") or {}):
            await self.write_status(status)

    async def sync_rollout_status(self) -> None:
        new = find_new_replica_set(self.deployment, self.sets)
        status = calculate_status(self.deployment, self._all_sets(), new, self.now)
        status = with_rollout_conditions(self.deployment, status, new, self.now)
        if status == (self.deployment.get("status") or {}):
            self.requeue_after = seconds_until_stuck_check(self.deployment, status, self.now)
            return
        await self.write_status(status)

    async def check_paused_conditions(self) -> None:
        conditions = paused_condition_change(self.deployment, self.now)
        if conditions is not None:
            await self.write_status({**(self.deployment.get("status") or {}), "conditions": conditions})

    async def write_status(self, status: JSON) -> None:
        """PUT /status; annotations ride along (the status strategy lets them through, as upstream)."""
        self.deployment = await self.client.update(DEPLOYMENTS, {**self.deployment, "status": status},
                                                   subresource="status")
