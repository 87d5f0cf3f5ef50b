"""The DaemonSet controller (upstream ``pkg/controller/daemon``).

A sync claims the set's pods and ControllerRevisions, makes sure the template has a revision,
maps pods to nodes (bound or pinned by affinity), then per node: creates a pod where one
should run and none does, deletes pods where none should stay, prunes duplicates and
failed pods; the rolling update adds its own deletes (and, with maxSurge, creates). Status is
written every sync; old revisions are trimmed to ``revisionHistoryLimit``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from kubeplane.client import (
    DeletedFinalStateUnknown,
    EventHandlers,
    Informer,
    NotFound,
    meta_namespace_key,
    split_key,
)
from kubeplane.client.events import NORMAL, WARNING
from kubeplane.client.resource import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from kubeplane.controllers.controller import (
    ControllerContext,
    ResourceController,
    is_namespace_terminating,
    is_resync,
    unwrap_tombstone,
)
from kubeplane.controllers.daemonset.eligibility import node_should_run
from kubeplane.controllers.daemonset.pods import by_age, is_updated, new_daemon_pod, target_node
from kubeplane.controllers.daemonset.rolling import allows_surge, plan_rolling_update
from kubeplane.controllers.daemonset.status import compute_status
from kubeplane.controllers.expectations import Expectations
from kubeplane.controllers.history import (
    CONTROLLER_REVISION_HASH,
    ensure_revision,
    revision_data,
    truncate_history,
)
from kubeplane.controllers.owners import Owners
from kubeplane.controllers.ownership import (
    ClaimManager,
    controller_ref,
    labels_of,
    recheck_owner,
    selector_of,
)
from kubeplane.controllers.pods import is_pod_available
from kubeplane.controllers.slowstart import slow_start_batch
from kubeplane.controllers.status_writer import write_status

log = logging.getLogger(__name__)

JSON = dict[str, Any]

BURST_REPLICAS = 250  # upstream: at most this many creates or deletes per sync


class DaemonSetController(ResourceController):
    name = "daemonset"
    component = "daemonset-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        # Two ledgers, because one sync may both create and delete.
        self.creations = Expectations(ctx.clock)
        self.deletions = Expectations(ctx.clock)
        self.sets: Informer = self.informer(DAEMONSETS, self.enqueue_handlers(on_delete=self._set_deleted))
        self.pods: Informer = self.informer(PODS, EventHandlers(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted))
        self.nodes: Informer = self.informer(NODES, EventHandlers(
            on_add=self._node_changed, on_update=self._node_updated, on_delete=self._node_changed))
        self.revisions: Informer = self.informer(CONTROLLERREVISIONS)
        self.owners = Owners(self.sets, DAEMONSETS.kind)

    # -- event handlers: only enqueue ---------------------------------------------------------

    def _set_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        ds = unwrap_tombstone(obj)
        key = meta_namespace_key(ds)
        self.creations.forget(key)
        self.deletions.forget(key)
        self.enqueue(ds)

    def _pod_added(self, pod: JSON) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod)
            return
        owned = controller_ref(pod) is not None
        for owner in self.owners.to_sync(pod):  # for an orphan, every set that may adopt it
            if owned:
                self.creations.creation_observed(meta_namespace_key(owner))
            self.enqueue(owner)

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        if is_resync(old, new):
            return
        if new["metadata"].get("deletionTimestamp"):
            self._pod_deleted(new)
        for previous in self.owners.left_by(old, new):
            self.enqueue(previous)
        owner = self.owners.owner_of(new)
        if owner is not None:
            self.enqueue(owner)
            min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0:
                self.enqueue_after(owner, min_ready + 1)  # to count it available once it has been
        elif controller_ref(new) is None:
            for ds in self.owners.selecting(new):
                self.enqueue(ds)

    def _pod_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        pod = unwrap_tombstone(obj)
        owner = self.owners.owner_of(pod)
        if owner is not None:
            self.deletions.deletion_observed(meta_namespace_key(owner), meta_namespace_key(pod))
            self.enqueue(owner)

    def _node_changed(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        for ds in self.sets.list():
            self.enqueue(ds)

    def _node_updated(self, old: JSON, new: JSON) -> None:
        if labels_of(old) != labels_of(new) or (old.get("spec") or {}).get("taints") != \
                (new.get("spec") or {}).get("taints"):
            self._node_changed(new)

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        ds = self.sets.get(name, namespace)
        if ds is None:
            self.creations.forget(key)
            self.deletions.forget(key)
            return
        selector = selector_of(ds)
        if selector is None or selector.empty:
            self.recorder.event(ds, WARNING, "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return

        def recheck() -> Awaitable[None]:
            return recheck_owner(self.client, DAEMONSETS, ds)

        pods = await ClaimManager(self.client, ds, DAEMONSETS, PODS, selector, recheck).claim(
            self.pods.list(namespace))
        revisions = await ClaimManager(self.client, ds, DAEMONSETS, CONTROLLERREVISIONS, selector, recheck).claim(
            self.revisions.list(namespace))
        collision_count = int((ds.get("status") or {}).get("collisionCount") or 0)
        template = (ds.get("spec") or {}).get("template") or {}
        current, collision_count, revisions = await ensure_revision(
            self.client, ds, DAEMONSETS, revisions, revision_data(template), template, collision_count)
        hash_value = labels_of(current)[CONTROLLER_REVISION_HASH]

        nodes = {n["metadata"]["name"]: n for n in self.nodes.list()}
        node_pods: dict[str, list[JSON]] = {}
        for pod in pods:
            node_pods.setdefault(target_node(pod) or "", []).append(pod)
        verdicts = {node_name: node_should_run(ds, node) for node_name, node in nodes.items()}
        if self.creations.satisfied(key) and self.deletions.satisfied(key) \
                and not ds["metadata"].get("deletionTimestamp"):
            await self._manage(ds, key, nodes, node_pods, verdicts, hash_value)
        should_run = {node_name: verdict[0] for node_name, verdict in verdicts.items()}
        status = compute_status(ds, should_run, node_pods, hash_value, collision_count, self.clock.wall())
        await write_status(self.client, DAEMONSETS, ds, status)
        live_hashes = {labels_of(p).get(CONTROLLER_REVISION_HASH) for p in pods} | {hash_value}
        live = {r["metadata"]["name"] for r in revisions if labels_of(r).get(CONTROLLER_REVISION_HASH) in live_hashes}
        await truncate_history(self.client, revisions, live, int((ds.get("spec") or {}).get("revisionHistoryLimit",
                                                                                             10)))

    async def _manage(self, ds: JSON, key: str, nodes: dict[str, JSON], node_pods: dict[str, list[JSON]],
                      verdicts: dict[str, tuple[bool, bool]], hash_value: str) -> None:
        create_on: list[str] = []
        delete: list[JSON] = []
        surge = allows_surge(ds)
        for node_name, pods in node_pods.items():
            if node_name not in nodes:
                delete.extend(p for p in pods if not p["metadata"].get("deletionTimestamp"))  # node is gone
        for node_name, (should_run, should_continue) in sorted(verdicts.items()):
            live = [p for p in node_pods.get(node_name) or () if not p["metadata"].get("deletionTimestamp")]
            failed = [p for p in live if (p.get("status") or {}).get("phase") == "Failed"]
            running = by_age([p for p in live if p not in failed])
            if should_run and not running:
                create_on.append(node_name)
            if not should_continue:
                delete.extend(live)
                continue
            delete.extend(failed)  # replaced by the next sync's create
            delete.extend(self._excess(ds, running, hash_value, surge))
        if ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            eligible = {n: node_pods.get(n) or [] for n, (run, _) in verdicts.items() if run}
            plan = plan_rolling_update(ds, eligible, hash_value, len(eligible), self.clock.wall())
            delete.extend(p for p in plan.delete if p not in delete)
            create_on.extend(n for n in plan.create_on if n not in create_on)
        await self._sync_nodes(ds, key, delete[:BURST_REPLICAS], create_on[:BURST_REPLICAS], hash_value)

    def _excess(self, ds: JSON, running: list[JSON], hash_value: str, surge: bool) -> list[JSON]:
        """Duplicates on one node: keep the oldest; with surge, the oldest of each revision, and
        the old one only until the new one is available."""
        if len(running) <= 1:
            return []
        if not surge:
            return running[1:]
        newest = [p for p in running if is_updated(p, hash_value)]
        oldest = [p for p in running if not is_updated(p, hash_value)]
        excess = newest[1:] + oldest[1:]
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if newest and oldest and is_pod_available(newest[0], min_ready, self.clock.wall()):
            excess.append(oldest[0])
        return excess

    async def _sync_nodes(self, ds: JSON, key: str, delete: list[JSON], create_on: list[str], hash_value: str) -> None:
        self.creations.expect_creations(key, len(create_on))
        self.deletions.expect_deletions(key, [meta_namespace_key(p) for p in delete])
        namespace = ds["metadata"].get("namespace")
        pending = list(create_on)

        async def create_one() -> None:
            node_name = pending.pop(0)
            body = new_daemon_pod(ds, DAEMONSETS, node_name, hash_value)
            try:
                pod = await self.client.create(PODS, body, namespace)
            except Exception as err:
                if is_namespace_terminating(err):
                    return
                self.recorder.event(ds, WARNING, "FailedCreate", f"Error creating: {err}")
                raise
            self.recorder.event(ds, NORMAL, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

        async def delete_one(pod: JSON) -> None:
            pod_name = pod["metadata"]["name"]
            try:
                await self.client.delete(PODS, pod_name, namespace)
            except NotFound:
                self.deletions.deletion_observed(key, meta_namespace_key(pod))
                return
            except Exception as err:
                self.deletions.deletion_observed(key, meta_namespace_key(pod))
                self.recorder.event(ds, WARNING, "FailedDelete", f"Error deleting: {err}")
                raise
            self.recorder.event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod_name}")

        created, error = await slow_start_batch(len(create_on), create_one)
        if error is not None:
            self.creations.lower_creations(key, len(create_on) - created)
        results = await asyncio.gather(*(delete_one(p) for p in delete), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if error is not None:
            raise error
        if failures:
            raise failures[0]
