"""NamesAccepted and Established, as upstream's naming controller computes them.

A CRD's requested names are accepted unless another CRD of the same group already accepted one of
them (plural, singular and short names share one namespace; kind and listKind another).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import names

JSON = dict[str, Any]


def _claimed(others: Iterable[JSON], group: str) -> tuple[set[str], set[str]]:
    resources: set[str] = set()
    kinds: set[str] = set()
    for other in others:
        accepted = names.accepted_names(other)
        if names.spec(other).get("group") != group or accepted is None:
            continue
        resources.update((accepted.plural, accepted.singular, *accepted.short_names))
        kinds.update((accepted.kind, accepted.list_kind))
    resources.discard("")
    kinds.discard("")
    return resources, kinds


def _condition(kind: str, status: str, reason: str, message: str, now: str) -> JSON:
    return {"type": kind, "status": status, "lastTransitionTime": now, "reason": reason, "message": message}


def desired_status(crd: JSON, others: Iterable[JSON], now: str) -> JSON:
    """The status ``crd`` should have: acceptedNames and the NamesAccepted/Established conditions."""
    spec = names.spec(crd)
    requested = names.Names.of(spec.get("names"))
    current = names.accepted_names(crd)
    resources, kinds = _claimed(others, str(spec.get("group") or ""))

    def taken(value: str, old: str, pool: set[str]) -> bool:
        return bool(value) and value != old and value in pool

    conflict: tuple[str, str] | None = None
    old = current or names.Names("", "", "", "", (), ())
    if taken(requested.plural, old.plural, resources):
        conflict = ("PluralConflict", f'"{requested.plural}" is already in use')
    elif taken(requested.singular, old.singular, resources):
        conflict = ("SingularConflict", f'"{requested.singular}" is already in use')
    elif any(taken(s, s if s in old.short_names else "", resources) for s in requested.short_names):
        clash = next(s for s in requested.short_names if s in resources and s not in old.short_names)
        conflict = ("ShortNamesConflict", f'"{clash}" is already in use')
    elif taken(requested.kind, old.kind, kinds):
        conflict = ("KindConflict", f'"{requested.kind}" is already in use')
    elif taken(requested.list_kind, old.list_kind, kinds):
        conflict = ("ListKindConflict", f'"{requested.list_kind}" is already in use')

    status = dict(crd.get("status") or {})
    previous = {c.get("type"): c for c in names.conditions(crd)}
    if conflict is None:
        status["acceptedNames"] = requested.to_json()
        accepted = _condition(names.NAMES_ACCEPTED, "True", "NoConflicts", "no conflicts found", now)
        established = _condition(names.ESTABLISHED, "True", "InitialNamesAccepted",
                                 "the initial names have been accepted", now)
    else:
        accepted = _condition(names.NAMES_ACCEPTED, "False", conflict[0], conflict[1], now)
        established = previous.get(names.ESTABLISHED) or _condition(
            names.ESTABLISHED, "False", "NotAccepted", "not all names are accepted", now)
    conditions = [c for c in names.conditions(crd) if c.get("type") not in (names.NAMES_ACCEPTED, names.ESTABLISHED)]
    for wanted in (accepted, established):
        old_condition = previous.get(wanted["type"])
        if old_condition and all(old_condition.get(k) == wanted[k] for k in ("status", "reason", "message")):
            wanted = old_condition  # unchanged: keep its transition time
        conditions.append(wanted)
    status["conditions"] = conditions
    return status
