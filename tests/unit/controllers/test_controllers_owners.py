"""Owners: which owners a child's change concerns (controller reference first, selectors for
orphans), and the handlers built from that."""

from __future__ import annotations

from typing import Any

from kubeplane.client import DeletedFinalStateUnknown
from kubeplane.controllers.owners import Owners

JSON = dict[str, Any]


class CachedSets:
    """The two lookups Owners makes of an informer, over a fixed list."""

    def __init__(self, *objs: JSON) -> None:
        self.objs = list(objs)

    def get(self, name: str, namespace: str | None = None) -> JSON | None:
        return next((o for o in self.objs if (o["metadata"]["name"], o["metadata"]["namespace"]) == (name, namespace)),
                    None)

    def list(self, namespace: str | None = None) -> list[JSON]:
        return [o for o in self.objs if namespace is None or o["metadata"]["namespace"] == namespace]


def owner(name: str, uid: str, app: str | None, namespace: str = "ns") -> JSON:
    selector = {"matchLabels": {"app": app}} if app else {}
    return {"metadata": {"name": name, "namespace": namespace, "uid": uid}, "spec": {"selector": selector}}


def child(app: str, ref: JSON | None = None, rv: str = "1", namespace: str = "ns") -> JSON:
    meta: JSON = {"name": "c", "namespace": namespace, "labels": {"app": app}, "resourceVersion": rv}
    if ref is not None:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "controller": True, **ref}]
    return {"metadata": meta}


A, B = owner("a", "uid-a", "web"), owner("b", "uid-b", "web")
EVERYTHING, ELSEWHERE = owner("all", "uid-all", None), owner("c", "uid-c", "web", namespace="other")
OWNERS = Owners(CachedSets(A, B, EVERYTHING, ELSEWHERE), "ReplicaSet")  # type: ignore[arg-type]


def names(objs: list[JSON]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


def test_a_controlled_child_concerns_only_its_live_controller() -> None:
    assert names(OWNERS.to_sync(child("web", {"name": "a", "uid": "uid-a"}))) == ["a"]
    # A same-named replacement (other UID), another kind's reference: no owner here, no adopters.
    assert OWNERS.to_sync(child("web", {"name": "a", "uid": "old"})) == []
    assert OWNERS.to_sync(child("web", {"name": "a", "uid": "uid-a", "kind": "Job"})) == []


def test_an_orphan_concerns_every_owner_whose_nonempty_selector_matches_in_its_namespace() -> None:
    assert names(OWNERS.to_sync(child("web"))) == ["a", "b"]
    assert OWNERS.to_sync(child("db")) == []


def test_left_by_names_the_previous_controller_only_when_the_reference_changed() -> None:
    old = child("web", {"name": "a", "uid": "uid-a"})
    assert names(OWNERS.left_by(old, child("web", {"name": "b", "uid": "uid-b"}))) == ["a"]
    assert names(OWNERS.left_by(old, child("web"))) == ["a"]
    assert OWNERS.left_by(old, old) == []
    assert OWNERS.left_by(child("web"), old) == []


def test_child_handlers_enqueue_the_concerned_owners_and_skip_resyncs() -> None:
    seen: list[str] = []
    handlers = OWNERS.child_handlers(lambda obj: seen.append(obj["metadata"]["name"]))
    assert handlers.on_add and handlers.on_update and handlers.on_delete
    handlers.on_add(child("web"))
    assert seen == ["a", "b"]
    seen.clear()
    moved = child("web", {"name": "b", "uid": "uid-b"}, rv="2")
    handlers.on_update(child("web", {"name": "a", "uid": "uid-a"}), moved)
    assert seen == ["a", "b"]
    seen.clear()
    handlers.on_update(moved, moved)  # a resync: nothing changed
    assert seen == []
    handlers.on_delete(DeletedFinalStateUnknown("ns/c", moved))
    handlers.on_delete(child("web"))  # a deleted orphan concerns nobody
    assert seen == ["b"]
