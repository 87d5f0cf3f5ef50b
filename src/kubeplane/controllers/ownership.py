"""Controller references and claiming (upstream ``ControllerRefManager``).

A controller owns the children whose controller ownerReference carries its UID. Claiming
reconciles that with the selector: an orphan that matches is adopted, an owned child that no
longer matches is released. Both are written as merge patches of ``metadata.ownerReferences``
carrying the child's resourceVersion, so a concurrent change to the list is a Conflict (and a
retry) rather than a lost update.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubeplane.client import Client, NotFound, Resource
from kubeplane.machinery.labels import LabelSelector, from_label_selector

log = logging.getLogger(__name__)

JSON = dict[str, Any]


def controller_ref(obj: JSON) -> JSON | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def new_controller_ref(owner: JSON, owner_resource: Resource) -> JSON:
    metadata = owner["metadata"]
    return {"apiVersion": owner_resource.group_version, "kind": owner_resource.kind,
            "name": metadata["name"], "uid": metadata["uid"], "controller": True, "blockOwnerDeletion": True}


def is_controlled_by(obj: JSON, owner: JSON) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == owner["metadata"].get("uid")


def resolve_controller_ref(obj: JSON, kind: str, lookup: Callable[[str], JSON | None]) -> JSON | None:
    """The owner this object's controllerRef names, if it is of ``kind`` and the UID still matches
    (a same-named replacement is a different owner)."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    owner = lookup(ref.get("name", ""))
    if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
        return None
    return owner


def labels_of(obj: JSON) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def selector_of(obj: JSON) -> LabelSelector | None:
    """The object's ``spec.selector``, or None when it cannot be parsed (nothing is selected).

    A ReplicationController's selector is a plain label map (``{"app": "web"}``) rather than a
    LabelSelector; its values are strings where a LabelSelector's are a map and a list.
    """
    raw = (obj.get("spec") or {}).get("selector")
    if isinstance(raw, dict) and raw and all(isinstance(v, str) for v in raw.values()):
        raw = {"matchLabels": raw}
    try:
        return from_label_selector(raw)
    except Exception:
        return None


class ClaimManager:
    """Claims children of one resource for one owner; ``can_adopt`` re-checks the owner (uncached)
    just before the first adoption, because adopting for an owner being deleted would leak."""

    def __init__(self, client: Client, owner: JSON, owner_resource: Resource, child_resource: Resource,
                 selector: LabelSelector, can_adopt: Callable[[], Awaitable[None]]) -> None:
        self.client = client
        self.owner = owner
        self.owner_resource = owner_resource
        self.child_resource = child_resource
        self.selector = selector
        self._can_adopt = can_adopt
        self._adoption_checked = False

    async def claim(self, children: list[JSON]) -> list[JSON]:
        claimed: list[JSON] = []
        for child in children:
            owned = await self._claim_one(child)
            if owned is not None:
                claimed.append(owned)
        return claimed

    async def _claim_one(self, child: JSON) -> JSON | None:
        owner_meta = self.owner["metadata"]
        child_meta = child["metadata"]
        matches = self.selector.matches(labels_of(child))
        ref = controller_ref(child)
        if ref is not None:
            if ref.get("uid") != owner_meta.get("uid"):
                return None  # someone else's
            if matches:
                return child
            if owner_meta.get("deletionTimestamp"):
                return None  # an owner on its way out does not release (the GC handles the children)
            await self._release(child)
            return None
        if not matches or owner_meta.get("deletionTimestamp") or child_meta.get("deletionTimestamp"):
            return None
        if child_meta.get("namespace") != owner_meta.get("namespace"):
            return None
        return await self._adopt(child)

    async def _adopt(self, child: JSON) -> JSON | None:
        if not self._adoption_checked:
            await self._can_adopt()
            self._adoption_checked = True
        refs = [*(child["metadata"].get("ownerReferences") or ()), new_controller_ref(self.owner, self.owner_resource)]
        return await self._patch_refs(child, refs)

    async def _release(self, child: JSON) -> None:
        uid = self.owner["metadata"].get("uid")
        refs = [ref for ref in child["metadata"].get("ownerReferences") or () if ref.get("uid") != uid]
        await self._patch_refs(child, refs)

    async def _patch_refs(self, child: JSON, refs: list[JSON]) -> JSON | None:
        meta = child["metadata"]
        patch = {"metadata": {"ownerReferences": refs or None, "resourceVersion": meta.get("resourceVersion")}}
        try:
            return await self.client.patch(self.child_resource, meta["name"], patch, meta.get("namespace"))
        except NotFound:
            return None  # gone meanwhile: nothing to own


async def recheck_owner(client: Client, resource: Resource, owner: JSON) -> None:
    """Raise unless the owner still exists, has the same UID and is not being deleted."""
    meta = owner["metadata"]
    fresh = await client.get(resource, meta["name"], meta.get("namespace"))
    fresh_meta = fresh["metadata"]
    if fresh_meta.get("uid") != meta.get("uid"):
        raise RuntimeError(f"original {resource.kind} {meta['name']} is gone: got uid {fresh_meta.get('uid')}")
    if fresh_meta.get("deletionTimestamp"):
        raise RuntimeError(f"{resource.kind} {meta['name']} is being deleted; not adopting")
