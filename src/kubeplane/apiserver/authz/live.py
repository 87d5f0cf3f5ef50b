"""Keep the authorizer's view of RBAC objects current from the API server's own watch caches.

One in-process watch per RBAC resource feeds an InMemoryRBACSource. ClusterRoles with an
aggregationRule are served with their aggregated rules (what upstream's clusterrole-aggregation
controller writes into them), recomputed whenever a ClusterRole changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from kubeplane.apiserver.authz.aggregation import apply_aggregation
from kubeplane.apiserver.authz.source import InMemoryRBACSource
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.store import Store
from kubeplane.storage import interface as st

log = logging.getLogger(__name__)
JSON = dict[str, Any]

_INITIAL_EVENTS_END = "k8s.io/initial-events-end"


class LiveRBACSource(InMemoryRBACSource):
    def __init__(self) -> None:
        super().__init__()
        self._aggregated: dict[str, JSON] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- RBACSource: ClusterRoles as aggregated --------------------------------------------------
    def cluster_roles(self) -> list[JSON]:
        return list(self._aggregated.values())

    def cluster_role(self, name: str) -> JSON | None:
        return self._aggregated.get(name)

    def _reaggregate(self) -> None:
        self._aggregated = {role["metadata"]["name"]: role for role in apply_aggregation(super().cluster_roles())}

    # -- feeding -----------------------------------------------------------------------------------
    async def start(self, stores: Sequence[Store]) -> None:
        """Start one watch per RBAC store; return once each has delivered its initial state."""
        synced = [asyncio.Event() for _ in stores]
        self._tasks = [asyncio.create_task(self._follow(store, done), name=f"rbac {store.info.resource}")
                       for store, done in zip(stores, synced, strict=True)]
        await asyncio.gather(*(done.wait() for done in synced))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self, store: Store, synced: asyncio.Event) -> None:
        kind = store.info.kind
        while True:
            try:
                watcher = await store.watch(RequestContext(), st.WatchOptions(
                    resource_version="", send_initial_events=True, allow_bookmarks=True))
                fresh: dict[tuple[str, str], JSON] = {}
                initial = True
                try:
                    async for event in watcher:
                        if event.type == st.BOOKMARK:
                            annotations = event.object.get("metadata", {}).get("annotations") or {}
                            if initial and annotations.get(_INITIAL_EVENTS_END) == "true":
                                self._replace(kind, fresh)
                                initial = False
                                synced.set()
                            continue
                        meta = event.object.get("metadata", {})
                        key = (meta.get("namespace", ""), meta.get("name", ""))
                        if initial:
                            fresh[key] = event.object
                        elif event.type == st.DELETED:
                            self.delete(kind, *key)
                            self._changed(kind)
                        elif event.type in (st.ADDED, st.MODIFIED):
                            self.put({"kind": kind, **event.object})
                            self._changed(kind)
                finally:
                    await watcher.stop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep authorizing from the last state; re-watch shortly
                log.warning("RBAC watch on %s ended: %r", store.info.resource, exc)
            await asyncio.sleep(0.2)

    def _replace(self, kind: str, objects: dict[tuple[str, str], JSON]) -> None:
        self._objects[kind] = {key: {"kind": kind, **obj} for key, obj in objects.items()}
        self._changed(kind)

    def _changed(self, kind: str) -> None:
        if kind == "ClusterRole":
            self._reaggregate()
