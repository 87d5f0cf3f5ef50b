"""The owner -> dependents graph the garbage collector keeps (upstream ``GraphBuilder``).

Every object of every watched resource is a node keyed by UID; its ``ownerReferences`` make it a
dependent of other nodes. An owner that was referenced but not (yet) observed is a *virtual* node:
the collector checks it with a live GET and removes it when the API says it is absent.

The builder is fed the informers' events synchronously (one asyncio loop, no locks) and reacts
like upstream's ``processGraphChanges``: it never writes to the API itself, it only enqueues UIDs
for the two workers — "attempt to delete" (a dependent that may have lost its owners, an owner
waiting for its dependents) and "attempt to orphan" (an owner being deleted with ``orphan``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
ABSENT_OWNER_CACHE_SIZE = 500  # upstream's absentOwnerCache size


@dataclass(frozen=True)
class Identity:
    """What names an object for the collector: apiVersion, kind, namespace, name and UID."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.uid})"


def identity_of(obj: JSON) -> Identity:
    meta = obj.get("metadata") or {}
    return Identity(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""), str(meta.get("namespace") or ""),
                    str(meta.get("name") or ""), str(meta.get("uid") or ""))


def owner_identity(ref: JSON, dependent_namespace: str) -> Identity:
    """An owner as a reference names it; namespaced owners share their dependent's namespace."""
    return Identity(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""), dependent_namespace,
                    str(ref.get("name") or ""), str(ref.get("uid") or ""))


def owner_refs(obj: JSON) -> list[JSON]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or ())


def is_deleting_with(obj: JSON | None, finalizer: str) -> bool:
    meta = (obj or {}).get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and finalizer in (meta.get("finalizers") or ())


def blocks(ref: JSON) -> bool:
    return bool(ref.get("blockOwnerDeletion"))


@dataclass
class Node:
    identity: Identity
    owners: list[JSON] = field(default_factory=list)
    dependents: set[str] = field(default_factory=set)  # UIDs
    virtual: bool = False
    being_deleted: bool = False
    deleting_dependents: bool = False


class AbsentOwnerCache:
    """UIDs of owners known to be gone, so many dependents of one owner cost one GET (an LRU)."""

    def __init__(self, size: int = ABSENT_OWNER_CACHE_SIZE) -> None:
        self.size = size
        self._uids: OrderedDict[str, None] = OrderedDict()

    def add(self, uid: str) -> None:
        self._uids[uid] = None
        self._uids.move_to_end(uid)
        while len(self._uids) > self.size:
            self._uids.popitem(last=False)

    def __contains__(self, uid: object) -> bool:
        return uid in self._uids


class GraphBuilder:
    def __init__(self, attempt_to_delete: Callable[[str], None], attempt_to_orphan: Callable[[str], None]) -> None:
        self.nodes: dict[str, Node] = {}
        self.absent_owners = AbsentOwnerCache()
        self._attempt_to_delete = attempt_to_delete
        self._attempt_to_orphan = attempt_to_orphan

    # -- queries for the workers ----------------------------------------------------------------

    def node(self, uid: str) -> Node | None:
        return self.nodes.get(uid)

    def dependents_of(self, node: Node) -> list[Node]:
        return [dep for uid in sorted(node.dependents) if (dep := self.nodes.get(uid)) is not None]

    def blocking_dependents(self, node: Node) -> list[Node]:
        """Dependents whose reference to ``node`` has blockOwnerDeletion: a foreground delete
        of ``node`` waits for them."""
        uid = node.identity.uid
        return [dep for dep in self.dependents_of(node)
                if any(ref.get("uid") == uid and blocks(ref) for ref in dep.owners)]

    # -- informer events ------------------------------------------------------------------------

    def observed(self, obj: JSON, old: JSON | None = None) -> None:
        """An add or update of ``obj`` (``old`` is the previous state, None for an add)."""
        identity = identity_of(obj)
        if not identity.uid:
            return
        meta = obj.get("metadata") or {}
        node = self.nodes.get(identity.uid)
        refs = owner_refs(obj)
        if node is None:
            node = Node(identity, refs)
            self.nodes[identity.uid] = node
            self._add_to_owners(node, refs)
        else:
            if node.virtual or node.identity != identity:
                node.virtual = False
                node.identity = identity
            self._update_owners(node, refs)
        node.being_deleted = bool(meta.get("deletionTimestamp"))
        self._process_transitions(old, obj, node)

    def deleted(self, obj: JSON) -> None:
        """A delete event (or a tombstone's last known state)."""
        uid = identity_of(obj).uid
        if uid in self.nodes:
            self.remove(uid)

    def remove(self, uid: str) -> None:
        """Forget a node that is gone (deleted, or a virtual owner the API says is absent): its
        dependents may now be garbage, and an owner waiting for it may now finish."""
        node = self.nodes.pop(uid, None)
        if node is None:
            return
        for ref in node.owners:
            owner = self.nodes.get(str(ref.get("uid")))
            if owner is not None:
                owner.dependents.discard(uid)
        if node.dependents:
            self.absent_owners.add(uid)
        for dependent in sorted(node.dependents):
            self._attempt_to_delete(dependent)
        for ref in node.owners:
            owner = self.nodes.get(str(ref.get("uid")))
            if owner is not None and owner.deleting_dependents:
                self._attempt_to_delete(owner.identity.uid)

    # -- internals ------------------------------------------------------------------------------

    def _add_to_owners(self, node: Node, refs: list[JSON]) -> None:
        for ref in refs:
            owner_uid = str(ref.get("uid") or "")
            owner = self.nodes.get(owner_uid)
            if owner is None:
                # Referenced but never seen: a virtual node the workers verify against the API.
                owner = Node(owner_identity(ref, node.identity.namespace), virtual=True)
                self.nodes[owner_uid] = owner
                self._attempt_to_delete(owner_uid)
            owner.dependents.add(node.identity.uid)

    def _update_owners(self, node: Node, refs: list[JSON]) -> None:
        old = {str(r.get("uid")): r for r in node.owners}
        new = {str(r.get("uid")): r for r in refs}
        added = [r for uid, r in new.items() if uid not in old]
        removed = [r for uid, r in old.items() if uid not in new]
        # An owner waiting in foreground may be unblocked by a dependent that let go of it.
        unblocked = [r for r in removed if blocks(r)]
        unblocked += [old[uid] for uid, r in new.items() if uid in old and blocks(old[uid]) and not blocks(r)]
        node.owners = refs
        self._add_to_owners(node, added)
        for ref in removed:
            owner = self.nodes.get(str(ref.get("uid")))
            if owner is not None:
                owner.dependents.discard(node.identity.uid)
        for ref in unblocked:
            owner = self.nodes.get(str(ref.get("uid")))
            if owner is not None and owner.deleting_dependents:
                self._attempt_to_delete(owner.identity.uid)

    def _process_transitions(self, old: JSON | None, new: JSON, node: Node) -> None:
        if is_deleting_with(new, ORPHAN_FINALIZER) and not is_deleting_with(old, ORPHAN_FINALIZER):
            self._attempt_to_orphan(node.identity.uid)
        if is_deleting_with(new, FOREGROUND_FINALIZER):
            node.deleting_dependents = True  # also on a resync: a virtual node never had it set
            if not is_deleting_with(old, FOREGROUND_FINALIZER):
                for dependent in sorted(node.dependents):
                    self._attempt_to_delete(dependent)
                self._attempt_to_delete(node.identity.uid)
