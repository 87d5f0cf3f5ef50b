"""Server-side apply of one configuration by one manager (structured-merge-diff ``Updater.Apply``
plus the field-manager chain upstream wraps around it).

1. prior entries are the live object's; an object nobody tracks yet first gets a
   "before-first-apply" Update entry owning everything it has (upstream skipNonAppliedManager).
2. merge the configuration onto the live object; the manager's Apply entry becomes exactly the
   configuration's field set (minus the endpoint's reset fields and the meta fields nobody owns).
3. prune: what the manager applied last time and no longer applies is removed unless another
   manager (or this configuration) still owns it.
4. compare live and result: fields other managers own that this apply adds or changes are
   conflicts (409) unless forced, in which case they move to the applier; removed fields leave
   every other manager; managers left owning nothing disappear.
5. the Apply entry's time is now when the object changed; Update entries are capped and sorted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kubeplane.machinery.apply.conflicts import ApplyConflict, Conflict, conflicts_of
from kubeplane.machinery.apply.merge import merge
from kubeplane.machinery.apply.remove import ensure_named_fields_are_members, remove_items, removed_or_none
from kubeplane.machinery.managedfields import update as update_module
from kubeplane.machinery.managedfields.entries import (
    APPLY,
    Entry,
    ManagedFieldsError,
    cap_update_entries,
    decode,
    format_time,
    sort_entries,
)
from kubeplane.machinery.managedfields.fieldset import FieldSet
from kubeplane.machinery.managedfields.shapes import Shape, shape_of
from kubeplane.machinery.managedfields.walk import compare, field_set
from kubeplane.machinery.managedfields.zero import zero_object
from kubeplane.machinery.schema import Schemas

JSON = dict[str, Any]

BEFORE_FIRST_APPLY = "before-first-apply"


@dataclass(frozen=True)
class ApplyRequest:
    manager: str
    api_version: str  # group/version of the endpoint, recorded on the entry
    force: bool = False
    subresource: str = ""
    reset_paths: Iterable[Sequence[str]] = ()
    now: str | None = None


def _strip_managed_fields(obj: JSON) -> JSON:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


def _live_entries(schemas: Schemas, node: JSON, live: JSON | None, api_version: str, now: str) -> list[Entry]:
    if live is None:
        return []
    try:
        entries = decode((live.get("metadata") or {}).get("managedFields"), trusted=True)
    except ManagedFieldsError:
        entries = []
    if entries:
        return entries
    # Nobody tracks this object yet: whoever made it owns everything it has.
    probe = dict(live)
    probe["metadata"] = {k: v for k, v in (live.get("metadata") or {}).items() if k != "managedFields"}
    update_module.update_managed_fields(schemas, node, probe, None, BEFORE_FIRST_APPLY, api_version, now=now)
    return decode(probe["metadata"].get("managedFields"), trusted=True)


def _prune(shape: Shape, merged: Any, managers: list[Entry], last: FieldSet) -> Any:
    """Remove what the applier owned last time, no longer applies and nobody else owns
    (upstream prune, addBackOwnedItems, addBackDanglingItems)."""
    if last.empty():
        return merged
    owned = FieldSet()
    for entry in managers:
        owned = owned.union(entry.fields)

    def members(value: Any) -> FieldSet:
        return ensure_named_fields_are_members(shape, field_set(shape, value))

    last_e = ensure_named_fields_are_members(shape, last)
    owned_e = ensure_named_fields_are_members(shape, owned)
    merged_e = members(merged)
    first = removed_or_none(remove_items(shape, merged, last_e)) or {}
    keep = members(first).union(owned_e)
    added_back = removed_or_none(remove_items(shape, merged, merged_e.difference(keep))) or {}
    dangling = merged_e.difference(members(added_back)).intersection(last_e)
    return removed_or_none(remove_items(shape, merged, dangling)) or {}


def apply_config(schemas: Schemas, node: JSON, live: JSON | None, config: JSON, request: ApplyRequest) -> JSON:
    """The object ``config`` applied by ``request.manager`` onto ``live`` (None: apply creates),
    with ``metadata.managedFields`` set. Raises ApplyConflict unless forced."""
    now = request.now or format_time()
    shape = shape_of(schemas, node)
    prior = _live_entries(schemas, node, live, request.api_version, now)
    live_obj = _strip_managed_fields(live) if live is not None else {}
    ignored = FieldSet.from_paths(request.reset_paths)

    applied = field_set(shape, config).recursive_difference(ignored).difference(update_module.STRIPPED)
    identity = (request.manager, APPLY, "", request.subresource)
    previous = next((e for e in prior if e.identity == identity), None)
    mine = Entry(request.manager, APPLY, request.api_version, request.subresource,
                 previous.time if previous is not None else None, applied)
    managers = [e for e in prior if e.identity != identity] + [mine]

    merged = merge(shape, live_obj, config)
    if previous is not None:
        merged = _prune(shape, merged, managers, previous.fields)

    base = live_obj if live is not None else zero_object(schemas, node)
    changes = compare(shape, base, merged).exclude(ignored)
    touched = changes.modified.union(changes.added)
    conflicts: list[Conflict] = []
    kept: list[Entry] = []
    for entry in managers:
        if entry is mine:
            kept.append(entry)
            continue
        clash = entry.fields.intersection(touched)
        if not clash.empty():
            conflicts.extend(conflicts_of(entry, clash))
        left = entry.fields.difference(clash).difference(changes.removed)
        if not left.empty():
            kept.append(entry.with_fields(left))
    if conflicts and not request.force:
        raise ApplyConflict(conflicts)

    changed = live is None or merged != live_obj
    if changed or mine.time is None:
        kept = [Entry(e.manager, e.operation, e.api_version, e.subresource, now, e.fields) if e is mine else e
                for e in kept]
    kept = [e for e in kept if not e.fields.empty()]
    result = dict(merged)
    meta = dict(result.get("metadata") or {})
    meta.pop("managedFields", None)
    entries = sort_entries(cap_update_entries(kept))
    if entries:
        meta["managedFields"] = [e.to_dict() for e in entries]
    result["metadata"] = meta
    return result
