"""The garbage collector against an in-memory API: the graph it builds from ownerReferences, and
what its workers delete, patch and finalize for background, foreground and orphan deletion."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.client import Conflict, NotFound, Resource
from kubeplane.client.resource import CONFIGMAPS, NAMESPACES, PODS, REPLICASETS
from kubeplane.controllers.garbagecollector import GarbageCollector
from kubeplane.controllers.garbagecollector.discovery import discover

JSON = dict[str, Any]
DEPLOYMENTS = Resource("apps", "v1", "deployments", kind="Deployment")


class RecordsDeletes:
    """Mixed into the conftest's FakeApi: records delete options and honours the UID and
    resourceVersion preconditions, as the API server does."""

    deletes: list[tuple[str, str, str | None, JSON | None]]  # (resource, name, policy, preconditions)

    async def delete(self, resource: Resource, name: str, namespace: str | None = None,
                     propagation_policy: str | None = None, preconditions: JSON | None = None, **_: Any) -> JSON:
        current = self._existing(resource, name, namespace)  # type: ignore[attr-defined]
        for field in ("uid", "resourceVersion"):
            wanted = (preconditions or {}).get(field)
            if wanted and wanted != current["metadata"].get(field):
                message = f"Precondition failed: {field}"
                raise Conflict(409, "Conflict", message, {"kind": "Status", "code": 409, "message": message})
        self.deletes.append((resource.resource, name, propagation_policy, preconditions))
        finalizers = list(current["metadata"].get("finalizers") or ())
        if propagation_policy in ("Foreground", "Orphan"):
            finalizers.append("foregroundDeletion" if propagation_policy == "Foreground" else "orphan")
        if finalizers:  # marked, not deleted, until the finalizers are gone
            current["metadata"].update(finalizers=finalizers, deletionTimestamp="2026-01-01T00:00:00Z")
            return current  # type: ignore[no-any-return]
        return await super().delete(resource, name, namespace)  # type: ignore[misc, no-any-return]

    async def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None,
                    **kw: Any) -> JSON:
        patched: JSON = await super().patch(resource, name, patch, namespace, **kw)  # type: ignore[misc]
        meta = patched["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            await super().delete(resource, name, namespace)  # type: ignore[misc]  # the last finalizer went
        return patched


GcApi = Any  # the conftest's FakeApi with RecordsDeletes mixed in


@pytest.fixture
def api(api: Any) -> GcApi:
    api.__class__ = type("GcApi", (RecordsDeletes, type(api)), {})
    api.deletes = []
    api.discovery["/api/v1"] = {"resources": [
        {"name": "pods", "namespaced": True, "kind": "Pod", "verbs": ["list", "watch", "delete", "get"]},
        {"name": "pods/status", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
        {"name": "configmaps", "namespaced": True, "kind": "ConfigMap", "verbs": ["list", "watch", "delete"]},
        {"name": "namespaces", "namespaced": False, "kind": "Namespace", "verbs": ["list", "watch", "delete"]},
        {"name": "events", "namespaced": True, "kind": "Event", "verbs": ["list", "watch", "delete"]},
        {"name": "bindings", "namespaced": True, "kind": "Binding", "verbs": ["create"]}]}
    api.discovery["/apis"] = {"groups": [{"name": "apps", "preferredVersion": {"version": "v1"}}]}
    api.discovery["/apis/apps/v1"] = {"resources": [
        {"name": "replicasets", "namespaced": True, "kind": "ReplicaSet", "verbs": ["list", "watch", "delete"]},
        {"name": "deployments", "namespaced": True, "kind": "Deployment", "verbs": ["list", "watch", "delete"]}]}
    return api


@pytest.fixture
async def gc(api: GcApi, ctx: Any) -> GarbageCollector:
    collector = GarbageCollector(ctx)
    collector.add_monitors(await discover(api))  # type: ignore[arg-type]
    return collector


def ref(owner: JSON, block: bool = False, controller: bool = True) -> JSON:
    return {"apiVersion": owner.get("apiVersion", "v1"), "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": block}


def obj(kind: str, name: str, api_version: str = "v1", namespace: str | None = "ns", owners: tuple[JSON, ...] = (),
        finalizers: tuple[str, ...] = (), deleting: bool = False, uid: str | None = None) -> JSON:
    meta: JSON = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = list(finalizers)
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if uid:
        meta["uid"] = uid
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def observe_all(api: GcApi, gc: GarbageCollector, *resources: Resource) -> None:
    """Tell the graph about every stored object, as the informers' initial lists would."""
    for resource in resources:
        for item in api.all(resource):
            gc.graph.observed(item)


async def drain(gc: GarbageCollector, rounds: int = 10) -> None:
    """Run both workers' queues until empty (what their loops do, one item at a time)."""
    for _ in range(rounds):
        if not len(gc.delete_queue) and not len(gc.orphan_queue):
            return
        for queue, handle in ((gc.delete_queue, gc.attempt_to_delete), (gc.orphan_queue, gc.attempt_to_orphan)):
            while len(queue):
                uid = await queue.get()
                try:
                    await handle(uid)
                finally:
                    queue.done(uid)


async def test_discovery_watches_listable_watchable_deletable_resources_except_events(gc: GarbageCollector) -> None:
    names = {str(r) for r in gc.resources.resources}
    assert names == {"pods", "configmaps", "namespaces", "replicasets.apps", "deployments.apps"}
    assert gc.resources.resource_for("apps/v1beta2", "ReplicaSet") == REPLICASETS  # any version of the group


async def test_dependent_of_a_deleted_owner_is_deleted_in_the_background_with_a_uid_precondition(
        api: GcApi, gc: GarbageCollector) -> None:
    rs = api.put(REPLICASETS, obj("ReplicaSet", "web", "apps/v1"))
    pod = api.put(PODS, obj("Pod", "web-1", owners=(ref(rs),)))
    observe_all(api, gc, REPLICASETS, PODS)
    await drain(gc)
    assert api.deletes == []  # the owner exists
    stored_rs = api.all(REPLICASETS)[0]
    await api.delete(REPLICASETS, "web", "ns")
    gc.graph.deleted(stored_rs)
    await drain(gc)
    assert api.deletes[-1] == ("pods", "web-1", "Background",
                               {"uid": pod["metadata"]["uid"], "resourceVersion": pod["metadata"]["resourceVersion"]})
    assert api.all(PODS) == []


async def test_an_owner_replaced_under_the_same_name_counts_as_absent(api: GcApi, gc: GarbageCollector) -> None:
    api.put(CONFIGMAPS, obj("ConfigMap", "owner", uid="new-uid"))
    stale_owner = obj("ConfigMap", "owner", uid="old-uid")
    api.put(CONFIGMAPS, obj("ConfigMap", "dep", owners=(ref(stale_owner),)))
    observe_all(api, gc, CONFIGMAPS)
    await drain(gc)
    assert [c["metadata"]["name"] for c in api.all(CONFIGMAPS)] == ["owner"]


async def test_a_dangling_reference_is_removed_when_another_owner_is_alive(api: GcApi, gc: GarbageCollector) -> None:
    alive = api.put(CONFIGMAPS, obj("ConfigMap", "alive"))
    gone = obj("ConfigMap", "gone", uid="gone-uid")
    api.put(CONFIGMAPS, obj("ConfigMap", "dep", owners=(ref(alive), ref(gone, controller=False))))
    observe_all(api, gc, CONFIGMAPS)
    await drain(gc)
    dep = next(c for c in api.all(CONFIGMAPS) if c["metadata"]["name"] == "dep")
    assert dep["metadata"]["ownerReferences"] == [ref(alive)]
    assert api.deletes == []


async def test_cluster_scoped_owner_of_namespaced_dependents(api: GcApi, gc: GarbageCollector) -> None:
    owner = api.put(NAMESPACES, obj("Namespace", "owner-ns", namespace=None))
    api.put(CONFIGMAPS, obj("ConfigMap", "dep", owners=(ref(owner),)))
    observe_all(api, gc, NAMESPACES, CONFIGMAPS)
    await drain(gc)
    assert api.deletes == []  # found with a cluster-scoped GET, not in the dependent's namespace
    stored = api.all(NAMESPACES)[0]
    await api.delete(NAMESPACES, "owner-ns")
    gc.graph.deleted(stored)
    await drain(gc)
    assert api.all(CONFIGMAPS) == []


async def test_virtual_owner_never_observed_is_dropped_and_its_dependents_collected(
        api: GcApi, gc: GarbageCollector) -> None:
    ghost = obj("Deployment", "ghost", "apps/v1", uid="ghost-uid")
    api.put(REPLICASETS, obj("ReplicaSet", "rs", "apps/v1", owners=(ref(ghost),)))
    observe_all(api, gc, REPLICASETS)
    assert gc.graph.node("ghost-uid") is not None and gc.graph.node("ghost-uid").virtual  # type: ignore[union-attr]
    await drain(gc)
    assert gc.graph.node("ghost-uid") is None
    assert [d[:3] for d in api.deletes] == [("replicasets", "rs", "Background")]


async def test_foreground_deletion_deletes_blocking_dependents_then_removes_the_finalizer(
        api: GcApi, gc: GarbageCollector) -> None:
    deployment = api.put(DEPLOYMENTS, obj("Deployment", "d", "apps/v1"))
    rs = api.put(REPLICASETS, obj("ReplicaSet", "rs", "apps/v1", owners=(ref(deployment, block=True),)))
    pod = api.put(PODS, obj("Pod", "p", owners=(ref(rs, block=True),)))
    observe_all(api, gc, DEPLOYMENTS, REPLICASETS, PODS)
    await drain(gc)
    # The API server marks the owner: deletionTimestamp and the foregroundDeletion finalizer.
    marked = await api.patch(DEPLOYMENTS, "d", {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z",
                                                             "finalizers": ["foregroundDeletion"]}}, "ns")
    gc.graph.observed(marked, deployment)
    await drain(gc)
    # The ReplicaSet has a dependent of its own: it is deleted in the foreground as well, and
    # its pod (no dependents) in the background.
    assert [d[:3] for d in api.deletes] == [("replicasets", "rs", "Foreground"), ("pods", "p", "Background")]
    marked_rs = api.all(REPLICASETS)[0]
    assert marked_rs["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert api.all(DEPLOYMENTS)  # waits for the ReplicaSet
    gc.graph.observed(marked_rs, rs)
    gc.graph.deleted(pod)  # the informer reports the pod gone
    await drain(gc)
    assert api.all(REPLICASETS) == []  # its last blocking dependent went: finalizer removed, deleted
    gc.graph.deleted(marked_rs)
    await drain(gc)
    assert api.all(DEPLOYMENTS) == []


async def test_non_blocking_dependents_do_not_hold_a_foreground_delete(api: GcApi, gc: GarbageCollector) -> None:
    owner = api.put(CONFIGMAPS, obj("ConfigMap", "owner", finalizers=("foregroundDeletion",), deleting=True))
    api.put(CONFIGMAPS, obj("ConfigMap", "dep", owners=(ref(owner, block=False),)))
    observe_all(api, gc, CONFIGMAPS)
    await drain(gc)
    # Nothing blocks the owner: its finalizer goes at once (the API server then deletes it), and
    # the dependent, found without owner, follows in the background.
    assert api.all(CONFIGMAPS) == []
    assert [d[:3] for d in api.deletes] == [("configmaps", "dep", "Background")]


async def test_orphan_strips_references_then_the_orphan_finalizer(api: GcApi, gc: GarbageCollector) -> None:
    other = api.put(CONFIGMAPS, obj("ConfigMap", "other"))
    owner = api.put(REPLICASETS, obj("ReplicaSet", "rs", "apps/v1"))
    api.put(PODS, obj("Pod", "p1", owners=(ref(owner),)))
    api.put(PODS, obj("Pod", "p2", owners=(ref(owner), ref(other, controller=False))))
    observe_all(api, gc, CONFIGMAPS, REPLICASETS, PODS)
    marked = await api.patch(REPLICASETS, "rs", {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z",
                                                              "finalizers": ["orphan"]}}, "ns")
    gc.graph.observed(marked, owner)
    await drain(gc)
    pods = {p["metadata"]["name"]: p for p in api.all(PODS)}
    assert "ownerReferences" not in pods["p1"]["metadata"]
    assert pods["p2"]["metadata"]["ownerReferences"] == [ref(other, controller=False)]
    assert api.all(REPLICASETS) == []  # its orphan finalizer went, so the API server deleted it
    assert api.deletes == []


async def test_removing_a_blocking_reference_wakes_the_waiting_owner(api: GcApi, gc: GarbageCollector) -> None:
    owner = api.put(CONFIGMAPS, obj("ConfigMap", "owner"))
    dep = api.put(CONFIGMAPS, obj("ConfigMap", "dep", owners=(ref(owner, block=True),)))
    observe_all(api, gc, CONFIGMAPS)
    node = gc.graph.node(owner["metadata"]["uid"])
    assert node is not None
    node.deleting_dependents = True
    assert gc.graph.blocking_dependents(node)
    released = {**dep, "metadata": {**dep["metadata"], "ownerReferences": [ref(owner, block=False)]}}
    gc.graph.observed(released, dep)
    assert not gc.graph.blocking_dependents(node)
    assert owner["metadata"]["uid"] in [await gc.delete_queue.get()]


async def test_delete_retries_on_uid_alone_when_only_the_resource_version_moved(
        api: GcApi, gc: GarbageCollector) -> None:
    gone = obj("ConfigMap", "gone", uid="gone-uid")
    dep = api.put(CONFIGMAPS, obj("ConfigMap", "dep", owners=(ref(gone),)))
    observe_all(api, gc, CONFIGMAPS)
    # Someone touches the object between the collector's GET and its delete.
    original_get = api.get

    async def get_then_touch(resource: Resource, name: str, namespace: str | None = None, **kw: Any) -> JSON:
        found = await original_get(resource, name, namespace, **kw)
        if name == "dep" and found["metadata"]["resourceVersion"] == dep["metadata"]["resourceVersion"]:
            await api.patch(CONFIGMAPS, "dep", {"metadata": {"labels": {"touched": "yes"}}}, "ns")
        return found

    api.get = get_then_touch  # type: ignore[method-assign]
    await drain(gc)
    assert api.all(CONFIGMAPS) == []
    assert api.deletes[-1][3] == {"uid": dep["metadata"]["uid"]}
    with pytest.raises(NotFound):
        await original_get(CONFIGMAPS, "dep", "ns")
