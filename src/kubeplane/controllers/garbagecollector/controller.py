"""The garbage collector's workers (upstream ``GarbageCollector``).

``attempt_to_delete`` looks at one node with live GETs (the informers may lag, and deleting on a
stale cache would destroy live objects): a node whose owners are all absent is deleted, one
with some absent owners loses those references, and an owner being deleted in the foreground
loses its ``foregroundDeletion`` finalizer once no blocking dependent is left.
``attempt_to_orphan`` strips an orphaning owner's references from its dependents, then its
``orphan`` finalizer. Every delete carries a UID precondition, so a same-named replacement is
never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubeplane.client import (
    ApiError,
    Client,
    Conflict,
    DeletedFinalStateUnknown,
    EventHandlers,
    Forbidden,
    Informer,
    NotFound,
    RateLimitingQueue,
    Resource,
    ShutDown,
)
from kubeplane.controllers.controller import ControllerContext, unwrap_tombstone
from kubeplane.controllers.garbagecollector.discovery import ResourceMap, discover
from kubeplane.controllers.garbagecollector.graph import (
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    GraphBuilder,
    Identity,
    Node,
    is_deleting_with,
    owner_identity,
    owner_refs,
)

log = logging.getLogger(__name__)

JSON = dict[str, Any]

REDISCOVERY_PERIOD = 30.0  # upstream re-reads discovery every 30 s to watch new resources (CRDs)
MONITOR_SYNC_TIMEOUT = 30.0  # a resource that cannot be listed must not stop collection everywhere
FINALIZER_RETRIES = 5


class Classified:
    """An object's owner references sorted by what the API says about each owner."""

    def __init__(self) -> None:
        self.solid: list[JSON] = []
        self.dangling: list[JSON] = []
        self.waiting_for_dependents: list[JSON] = []


class GarbageCollector:
    name = "garbagecollector"
    component = "garbage-collector-controller"

    def __init__(self, ctx: ControllerContext, rediscovery_period: float = REDISCOVERY_PERIOD) -> None:
        self.client: Client = ctx.client
        self.informers = ctx.informers
        self.clock = ctx.clock
        self.rediscovery_period = rediscovery_period
        self.delete_queue: RateLimitingQueue[str] = RateLimitingQueue(clock=self.clock)
        self.orphan_queue: RateLimitingQueue[str] = RateLimitingQueue(clock=self.clock)
        self.graph = GraphBuilder(self.delete_queue.add, self.orphan_queue.add)
        self.resources = ResourceMap()
        self.monitors: dict[Resource, Informer] = {}

    # -- monitors -------------------------------------------------------------------------------

    async def sync_monitors(self) -> list[Informer]:
        """Discover resources and watch the new ones; returns the informers started now."""
        started = self.add_monitors(await discover(self.client))
        for informer in started:
            informer.start()
        return started

    def add_monitors(self, resources: ResourceMap) -> list[Informer]:
        """Use ``resources`` for owner lookups and feed the graph from each one not watched yet
        (resources that disappear keep their informer: harmless, and they may come back)."""
        self.resources = resources
        added = []
        for resource in resources.resources:
            if resource in self.monitors:
                continue
            informer = self.informers.informer_for(resource)
            informer.add_event_handler(self._handlers(resource))
            self.monitors[resource] = informer
            added.append(informer)
        return added

    def _handlers(self, resource: Resource) -> EventHandlers:
        def typed(obj: JSON) -> JSON:
            # List items and watch objects normally carry TypeMeta; fill it in if one does not.
            if obj.get("apiVersion") and obj.get("kind"):
                return obj
            return {**obj, "apiVersion": resource.group_version, "kind": resource.kind}

        def deleted(obj: JSON | DeletedFinalStateUnknown) -> None:
            self.graph.deleted(typed(unwrap_tombstone(obj)))

        return EventHandlers(on_add=lambda obj: self.graph.observed(typed(obj)),
                             on_update=lambda old, new: self.graph.observed(typed(new), old),
                             on_delete=deleted)

    async def _wait_synced(self, informers: list[Informer]) -> None:
        async def one(informer: Informer) -> None:
            try:
                await asyncio.wait_for(informer.wait_for_sync(), MONITOR_SYNC_TIMEOUT)
            except TimeoutError:
                log.warning("%s: %s did not sync; collecting without it for now", self.name, informer.resource)

        await asyncio.gather(*(one(i) for i in informers))

    # -- running --------------------------------------------------------------------------------

    async def run(self, workers: int) -> None:
        try:
            await self._wait_synced(await self.sync_monitors())
            log.info("%s: graph synced over %d resources; starting %d workers", self.name,
                     len(self.monitors), workers)
            count = max(1, workers)
            await asyncio.gather(
                *(self._work(self.delete_queue, self.attempt_to_delete) for _ in range(count)),
                *(self._work(self.orphan_queue, self.attempt_to_orphan) for _ in range(count)),
                self._rediscover_forever())
        finally:
            self.delete_queue.shutdown()
            self.orphan_queue.shutdown()

    async def _rediscover_forever(self) -> None:
        while True:
            await self.clock.sleep(self.rediscovery_period)
            try:
                await self._wait_synced(await self.sync_monitors())
            except (ApiError, OSError) as err:
                log.warning("%s: rediscovery failed: %s", self.name, err)

    async def _work(self, queue: RateLimitingQueue[str], handle: Callable[[str], Awaitable[None]]) -> None:
        while True:
            try:
                uid = await queue.get()
            except ShutDown:
                return
            try:
                await handle(uid)
                queue.forget(uid)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                node = self.graph.node(uid)
                level = logging.INFO if isinstance(err, Conflict) else logging.WARNING
                log.log(level, "%s: %s failed (retry %d): %s", self.name, node.identity if node else uid,
                        queue.num_requeues(uid), err, exc_info=not isinstance(err, ApiError | OSError))
                queue.add_rate_limited(uid)
            finally:
                queue.done(uid)

    # -- live lookups ---------------------------------------------------------------------------

    def _locate(self, identity: Identity) -> tuple[Resource, str | None] | None:
        """The resource and namespace to GET ``identity`` at; None when the kind is unknown."""
        resource = self.resources.resource_for(identity.api_version, identity.kind)
        if resource is None:
            return None
        return resource, identity.namespace if resource.namespaced else None

    async def _get_live(self, identity: Identity) -> JSON | None:
        """The object as stored now, or None when it is absent (a different UID is absent too)."""
        located = self._locate(identity)
        if located is None:
            raise LookupError(f"no resource serves {identity.api_version} {identity.kind}")
        resource, namespace = located
        if resource.namespaced and not namespace:
            return None  # a cluster-scoped dependent cannot have a namespaced owner
        try:
            obj = await self.client.get(resource, identity.name, namespace)
        except NotFound:
            return None
        return obj if obj["metadata"].get("uid") == identity.uid else None

    # -- attempt to delete ----------------------------------------------------------------------

    async def attempt_to_delete(self, uid: str) -> None:
        node = self.graph.node(uid)
        if node is None:
            return
        if not node.virtual and node.being_deleted and not node.deleting_dependents:
            return  # already on its way; nothing for the collector to add
        try:
            latest = await self._get_live(node.identity)
        except LookupError as err:
            log.info("%s: %s: %s; not collecting it", self.name, node.identity, err)
            return
        if latest is None:
            self.graph.remove(uid)  # absent: its dependents get their turn
            return
        if node.virtual:
            node.virtual = False  # it exists; its informer will report it in full
            return
        if is_deleting_with(latest, FOREGROUND_FINALIZER):
            node.deleting_dependents = True
            await self._process_deleting_dependents(node, latest)
            return
        refs = owner_refs(latest)
        if not refs:
            return
        classified = await self._classify(latest, refs)
        if classified.solid:
            gone = classified.dangling + classified.waiting_for_dependents
            if gone:
                await self._remove_owner_refs(node.identity, latest, {str(r.get("uid")) for r in gone})
            return
        if classified.waiting_for_dependents and node.dependents:
            # An owner is deleting in the foreground and this dependent has dependents of its
            # own: delete it in the foreground too, so the wait reaches all the way down. A
            # dependent already waiting on this one would make a cycle: unblock first.
            if any(dep.deleting_dependents for dep in self.graph.dependents_of(node)):
                await self._unblock_owner_refs(node.identity, latest)
            await self._delete(node.identity, latest, "Foreground")
            return
        if _has_finalizer(latest, ORPHAN_FINALIZER):  # honour a policy the object already carries
            policy = "Orphan"
        elif _has_finalizer(latest, FOREGROUND_FINALIZER):
            policy = "Foreground"
        else:
            policy = "Background"
        await self._delete(node.identity, latest, policy)

    async def _classify(self, obj: JSON, refs: list[JSON]) -> Classified:
        classified = Classified()
        namespace = str(obj["metadata"].get("namespace") or "")
        for ref in refs:
            owner_uid = str(ref.get("uid") or "")
            if owner_uid in self.graph.absent_owners:
                classified.dangling.append(ref)
                continue
            try:
                owner = await self._get_live(owner_identity(ref, namespace))
            except LookupError as err:
                # An owner of a kind nobody serves cannot be verified absent: keep the dependent.
                log.info("%s: owner %s of %s: %s", self.name, ref.get("name"), obj["metadata"].get("name"), err)
                classified.solid.append(ref)
                continue
            except Forbidden:
                classified.solid.append(ref)
                continue
            if owner is None:
                self.graph.absent_owners.add(owner_uid)
                classified.dangling.append(ref)
            elif is_deleting_with(owner, FOREGROUND_FINALIZER):
                classified.waiting_for_dependents.append(ref)
            else:
                classified.solid.append(ref)
        return classified

    async def _process_deleting_dependents(self, node: Node, latest: JSON) -> None:
        blocking = self.graph.blocking_dependents(node)
        if not blocking:
            await self._remove_finalizer(node.identity, FOREGROUND_FINALIZER)
            return
        for dependent in blocking:
            if not dependent.deleting_dependents:
                self.delete_queue.add(dependent.identity.uid)

    # -- attempt to orphan ----------------------------------------------------------------------

    async def attempt_to_orphan(self, uid: str) -> None:
        node = self.graph.node(uid)
        if node is None:
            return
        for dependent in self.graph.dependents_of(node):
            try:
                latest = await self._get_live(dependent.identity)
            except LookupError:
                continue
            if latest is not None:
                await self._remove_owner_refs(dependent.identity, latest, {uid})
        await self._remove_finalizer(node.identity, ORPHAN_FINALIZER)

    # -- writes ---------------------------------------------------------------------------------

    def _resource(self, identity: Identity) -> tuple[Resource, str | None]:
        located = self._locate(identity)
        if located is None:
            raise LookupError(f"no resource serves {identity.api_version} {identity.kind}")
        return located

    async def _delete(self, identity: Identity, latest: JSON, policy: str) -> None:
        """Delete with preconditions on UID and resourceVersion; if only the resourceVersion moved
        on and the owner references are as they were, the decision stands: delete on UID alone."""
        resource, namespace = self._resource(identity)
        meta = latest["metadata"]
        log.info("%s: deleting %s (propagation %s)", self.name, identity, policy)
        try:
            await self.client.delete(resource, identity.name, namespace, propagation_policy=policy,
                                     preconditions={"uid": identity.uid,
                                                    "resourceVersion": meta.get("resourceVersion")})
            return
        except NotFound:
            return
        except Conflict:
            fresh = await self._get_live(identity)
            if fresh is None or owner_refs(fresh) != owner_refs(latest):
                raise
        with contextlib.suppress(NotFound):
            await self.client.delete(resource, identity.name, namespace, propagation_policy=policy,
                                     preconditions={"uid": identity.uid})

    async def _remove_owner_refs(self, identity: Identity, latest: JSON, uids: set[str]) -> None:
        refs = owner_refs(latest)
        kept = [r for r in refs if str(r.get("uid")) not in uids]
        if len(kept) == len(refs):
            return
        await self._patch_refs(identity, latest, kept)

    async def _unblock_owner_refs(self, identity: Identity, latest: JSON) -> None:
        refs = owner_refs(latest)
        if not any(r.get("blockOwnerDeletion") for r in refs):
            return
        await self._patch_refs(identity, latest, [{**r, "blockOwnerDeletion": False} for r in refs])

    async def _patch_refs(self, identity: Identity, latest: JSON, refs: list[JSON]) -> None:
        # The resourceVersion makes a concurrent change to the list a Conflict (and a retry).
        resource, namespace = self._resource(identity)
        patch = {"metadata": {"ownerReferences": refs or None,
                              "resourceVersion": latest["metadata"].get("resourceVersion")}}
        with contextlib.suppress(NotFound):
            await self.client.patch(resource, identity.name, patch, namespace)

    async def _remove_finalizer(self, identity: Identity, finalizer: str) -> None:
        resource, namespace = self._resource(identity)
        for _ in range(FINALIZER_RETRIES):
            latest = await self._get_live(identity)
            if latest is None or not _has_finalizer(latest, finalizer):
                return
            meta = latest["metadata"]
            rest = [f for f in meta.get("finalizers") or () if f != finalizer]
            patch = {"metadata": {"finalizers": rest or None, "resourceVersion": meta.get("resourceVersion")}}
            try:
                await self.client.patch(resource, identity.name, patch, namespace)
                return
            except NotFound:
                return
            except Conflict:
                continue
        raise Conflict(409, "Conflict", f"could not remove finalizer {finalizer} from {identity}", {})


def _has_finalizer(obj: JSON, finalizer: str) -> bool:
    return finalizer in ((obj.get("metadata") or {}).get("finalizers") or ())
