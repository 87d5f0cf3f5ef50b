"""Field ownership for non-apply writes (create, PUT, PATCH: operation "Update").

The chain upstream's FieldManager runs for an update, in order:

1. prior entries: the request's own managedFields when it sends a decodable, non-empty list
   (never through a subresource); ``[]`` or ``[{}]`` resets tracking; otherwise the live ones.
2. an update of an object that has no entries stays untracked (skipNonAppliedManager); a create
   is always tracked.
3. compare old and new, minus the resource's reset fields; every other entry loses what this
   request removed or changed (Update always forces), and entries left empty are dropped.
4. this request's changes, minus apiVersion/kind/metadata.name... (stripMetaManager), join the
   manager's entry for (manager, Update, apiVersion, subresource), whose time then becomes now;
   a request that changed nothing leaves the entry and its time alone.
5. at most 10 Update entries (capManagersManager), then upstream's order.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from kubeplane.machinery.managedfields.create import created_fields_v1
from kubeplane.machinery.managedfields.entries import (
    FIELDS_V1,
    UPDATE,
    Entry,
    ManagedFieldsError,
    cap_update_entries,
    decode,
    format_time,
    is_reset,
    sort_entries,
)
from kubeplane.machinery.managedfields.fieldset import FieldSet
from kubeplane.machinery.managedfields.shapes import Shape, shape_of
from kubeplane.machinery.managedfields.walk import Comparison, ShapeMismatch, compare
from kubeplane.machinery.managedfields.zero import zero_object
from kubeplane.machinery.schema import Schemas

JSON = dict[str, Any]

log = logging.getLogger(__name__)

# Never owned by anyone (upstream stripMetaManager); "metadata" itself so that f:metadata has no ".".
STRIPPED = FieldSet.from_paths([
    ("apiVersion",), ("kind",), ("metadata",), ("metadata", "name"), ("metadata", "namespace"),
    ("metadata", "creationTimestamp"), ("metadata", "selfLink"), ("metadata", "uid"),
    ("metadata", "clusterName"), ("metadata", "generation"), ("metadata", "managedFields"),
    ("metadata", "resourceVersion"),
])

ResetPaths = Iterable[Sequence[str]]

# Set while a server-side apply writes: the apply engine has already computed the object's
# managedFields (Apply semantics), so the Update bookkeeping the store runs on every write must
# leave them alone. A context variable follows the request's task without threading a flag
# through the generic store.
_APPLY_IN_PROGRESS: ContextVar[bool] = ContextVar("kubeplane_apply_in_progress", default=False)


@contextmanager
def tracked_by_apply() -> Iterator[None]:
    """Within this block (one request's task), ``update_managed_fields`` keeps what apply wrote."""
    token = _APPLY_IN_PROGRESS.set(True)
    try:
        yield
    finally:
        _APPLY_IN_PROGRESS.reset(token)


def default_reset_paths(resource: str, subresource: str, has_status: bool) -> list[tuple[str, ...]]:
    """Upstream GetResetFields for common strategies: the main endpoint of a resource with a status
    subresource resets ``status``; the status endpoint resets ``spec`` (plus a few metadata fields
    for pods and deployments)."""
    if subresource == "status":
        extra: dict[str, list[tuple[str, ...]]] = {
            "pods": [("metadata", "deletionTimestamp"), ("metadata", "ownerReferences")],
            "deployments": [("metadata", "labels")],
        }
        return [("spec",), *extra.get(resource, [])]
    if not subresource and has_status:
        return [("status",)]
    return []


def _without_managed_fields(obj: JSON) -> JSON:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _prior_entries(sent: Any, live: Any, subresource: str) -> list[Entry]:
    """Step 1: which entries the request starts from (upstream decodeLiveOrNew)."""
    if not subresource:
        if is_reset(sent):
            return []
        # Clients usually send back what they read (kubectl edit, PUT): those are the live entries.
        if sent and sent != live:
            try:
                entries = decode(sent)
            except ManagedFieldsError:
                entries = []
            if entries:
                return entries
    try:
        return decode(live, trusted=True)
    except ManagedFieldsError:
        return []


def _take_from_others(prior: list[Entry], changes: Comparison) -> list[Entry]:
    """Step 3: other entries lose removed and (forcibly) changed fields; empty entries go."""
    taken = changes.removed.union(changes.modified).union(changes.added)
    kept = []
    for entry in prior:
        left = entry.fields.difference(taken)
        if not left.empty():
            kept.append(entry.with_fields(left))
    return kept


def update_managed_fields(
    schemas: Schemas,
    schema_node: JSON,
    new: JSON,
    old: JSON | None,
    manager: str,
    api_version: str,
    subresource: str = "",
    now: str | None = None,
    reset_paths: ResetPaths = (),
) -> None:
    """Set ``new["metadata"]["managedFields"]`` for a create (``old`` None) or an update.

    ``schema_node`` is the kind's definition (``schemas.for_kind(...)``) or a CRD's schema;
    ``reset_paths`` are the resource's reset fields for this endpoint (see default_reset_paths).
    Never raises for bad input: like upstream's UpdateNoErrors it keeps the live entries instead.
    """
    if _APPLY_IN_PROGRESS.get():
        return
    meta = new.setdefault("metadata", {})
    sent = meta.pop("managedFields", None)
    live = (old or {}).get("metadata", {}).get("managedFields")
    prior = _prior_entries(sent, live, subresource)
    if not prior and old is not None:
        return  # an untracked object stays untracked until someone applies to it
    shape = shape_of(schemas, schema_node)
    if old is None and not prior:
        _record_create(schemas, schema_node, shape, new, manager, api_version, subresource, now, reset_paths)
        return
    before = _without_managed_fields(old) if old is not None else zero_object(schemas, schema_node)
    try:
        changes = compare(shape, before, new).exclude(FieldSet.from_paths(reset_paths))
    except ShapeMismatch as exc:
        log.warning("managedFields not updated for %s: %s", meta.get("name", "<unknown>"), exc)
        if live is not None:
            meta["managedFields"] = live
        return
    entries = _take_from_others(prior, changes)
    owned_now = changes.modified.union(changes.added).difference(STRIPPED)
    if not owned_now.empty():
        entries = _record(entries, owned_now, manager, api_version, subresource, now or format_time())
    entries = sort_entries(cap_update_entries(entries))
    if entries:
        meta["managedFields"] = [e.to_dict() for e in entries]


def _record_create(schemas: Schemas, schema_node: JSON, shape: Shape, new: JSON, manager: str, api_version: str,
                   subresource: str, now: str | None, reset_paths: ResetPaths) -> None:
    """Steps 3-5 for a create without prior entries: the one entry is this request's, its fields
    everything the object sets beyond the kind's zero value, written straight as FieldsV1."""
    reset = _reset_set(tuple(tuple(path) for path in reset_paths))
    try:
        fields_v1 = created_fields_v1(shape, zero_object(schemas, schema_node), new, reset.root, STRIPPED.root)
    except ShapeMismatch as exc:
        log.warning("managedFields not updated for %s: %s", new["metadata"].get("name", "<unknown>"), exc)
        return
    if not fields_v1:
        return
    entry: JSON = {"manager": manager, "operation": UPDATE, "apiVersion": api_version, "time": now or format_time(),
                   "fieldsType": FIELDS_V1, "fieldsV1": fields_v1}
    if subresource:
        entry["subresource"] = subresource
    new["metadata"]["managedFields"] = [entry]


@functools.lru_cache(maxsize=64)
def _reset_set(paths: tuple[tuple[str, ...], ...]) -> FieldSet:
    # A handful of distinct reset lists exist (per resource and endpoint); FieldSets are immutable.
    return FieldSet.from_paths(paths)


def _record(entries: list[Entry], owned_now: FieldSet, manager: str, api_version: str, subresource: str,
            now: str) -> list[Entry]:
    """Step 4: fold this request's fields into its manager's entry and stamp the time."""
    identity = (manager, UPDATE, api_version, subresource)
    out = [e for e in entries if e.identity != identity]
    previous = next((e for e in entries if e.identity == identity), None)
    fields = owned_now.union(previous.fields) if previous is not None else owned_now
    out.append(Entry(manager, UPDATE, api_version, subresource, now, fields))
    return out
