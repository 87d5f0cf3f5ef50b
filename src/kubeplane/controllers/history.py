"""ControllerRevisions: the pod-template history of a StatefulSet or DaemonSet (upstream
``pkg/controller/history``), shared by both controllers.

A revision stores the template as a patch, ``{"spec": {"template": {..., "$patch": "replace"}}}``,
is named ``<owner>-<hash>`` and numbered ``revision``; a template seen before reuses its old
revision, renumbered as the newest. Two different templates hashing to the same name bump the
owner's ``collisionCount`` (mixed into the hash) and try again. The hash itself is the
Deployment controller's (FNV-1a over canonical JSON, spelled with upstream's safe alphabet).
"""

from __future__ import annotations

from typing import Any

from kubeplane.client import AlreadyExists, Client, NotFound, Resource
from kubeplane.client.resource import CONTROLLERREVISIONS
from kubeplane.controllers.deployment.hashing import compute_hash
from kubeplane.controllers.ownership import new_controller_ref
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]

CONTROLLER_REVISION_HASH = "controller-revision-hash"
MAX_NAME_PREFIX = 223  # upstream keeps <prefix>-<hash> within 253 characters


class HashCollision(Exception):
    """A revision of this name exists with other data: the owner's collisionCount must go up."""


def revision_data(template: JSON | None) -> JSON:
    return {"spec": {"template": {**clone(template or {}), "$patch": "replace"}}}


def template_of(revision: JSON) -> JSON:
    """The pod template a revision stores (its data without the patch directive)."""
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def revision_number(revision: JSON) -> int:
    return int(revision.get("revision") or 0)


def sort_by_revision(revisions: list[JSON]) -> list[JSON]:
    """Oldest first; the name breaks ties so the order is stable."""
    return sorted(revisions, key=lambda r: (revision_number(r), r["metadata"]["name"]))


def next_revision(revisions: list[JSON]) -> int:
    return max((revision_number(r) for r in revisions), default=0) + 1


def revision_name(owner_name: str, hash_value: str) -> str:
    return f"{owner_name[:MAX_NAME_PREFIX]}-{hash_value}"


def new_revision(owner: JSON, owner_resource: Resource, data: JSON, number: int, hash_value: str) -> JSON:
    template_labels = ((((data.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
                       or {})
    meta = owner["metadata"]
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": revision_name(meta["name"], hash_value), "namespace": meta.get("namespace"),
                         "labels": {**template_labels, CONTROLLER_REVISION_HASH: hash_value},
                         "ownerReferences": [new_controller_ref(owner, owner_resource)]},
            "data": data, "revision": number}


def equal_revisions(revisions: list[JSON], data: JSON) -> list[JSON]:
    return [r for r in revisions if r.get("data") == data]


async def create_revision(client: Client, revision: JSON) -> JSON:
    """Create ``revision``; an existing one with the same data is as good (an earlier sync made
    it), one with other data is a hash collision."""
    meta = revision["metadata"]
    try:
        return await client.create(CONTROLLERREVISIONS, revision, meta.get("namespace"))
    except AlreadyExists:
        existing = await client.get(CONTROLLERREVISIONS, meta["name"], meta.get("namespace"))
        if existing.get("data") == revision.get("data"):
            return existing
        raise HashCollision(meta["name"]) from None


async def ensure_revision(client: Client, owner: JSON, owner_resource: Resource, revisions: list[JSON],
                          data: JSON, hash_input: JSON, collision_count: int) -> tuple[JSON, int, list[JSON]]:
    """The revision for ``data``: an equal existing one (renumbered as the newest if it is not),
    or a new one. ``hash_input`` is what names it (StatefulSets hash the data, DaemonSets the
    template, as upstream). Returns (revision, collisionCount, revisions now known)."""
    ordered = sort_by_revision(revisions)
    equal = equal_revisions(ordered, data)
    if equal:
        found = equal[-1]
        if ordered and found is ordered[-1]:
            return found, collision_count, ordered
        bumped = await client.update(CONTROLLERREVISIONS, {**found, "revision": next_revision(ordered)},
                                     found["metadata"].get("namespace"))
        return bumped, collision_count, [r for r in ordered if r is not found] + [bumped]
    number = next_revision(ordered)
    while True:
        body = new_revision(owner, owner_resource, data, number, compute_hash(hash_input, collision_count or None))
        try:
            created = await create_revision(client, body)
        except HashCollision:
            collision_count += 1
            continue
        return created, collision_count, [*ordered, created]


async def truncate_history(client: Client, revisions: list[JSON], live: set[str], limit: int) -> None:
    """Delete the oldest revisions beyond ``limit`` that no pod and no status still names."""
    history = [r for r in sort_by_revision(revisions) if r["metadata"]["name"] not in live]
    for revision in history[:max(0, len(history) - limit)]:
        meta = revision["metadata"]
        try:
            await client.delete(CONTROLLERREVISIONS, meta["name"], meta.get("namespace"))
        except NotFound:
            pass  # trimmed by an earlier sync the cache had not caught up with
