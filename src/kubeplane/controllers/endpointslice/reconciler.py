"""Planning the writes that bring a Service's slices to the desired endpoints (upstream
``reconciler.go``), as a pure function so it can be tested on its own.

Per address type and port set: existing slices keep the endpoints still wanted (refreshed in
place), drop the rest, and are updated only if something changed; new endpoints first fill the
slices being updated anyway, then go into new full slices, and a last partial batch prefers an
unchanged slice that can take all of it over a new slice. Slices whose port set is no longer
wanted are deleted — unless a create of the same address type can reuse them as an update. A
Service with no endpoints keeps a single empty placeholder slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeplane.controllers.endpointslice.endpoint import PortsKey, endpoint_key, ports_key

JSON = dict[str, Any]

MAX_ENDPOINTS_PER_SLICE = 100  # upstream's --max-endpoints-per-slice default

Meta = tuple[str, PortsKey]  # (addressType, port set)


@dataclass
class Desired:
    """The endpoints wanted for one (address type, port set), keyed by ``endpoint_key``."""

    address_type: str
    ports: list[JSON]
    endpoints: dict[tuple[tuple[str, ...], str], JSON] = field(default_factory=dict)


@dataclass
class Plan:
    create: list[JSON] = field(default_factory=list)   # bodies without a name (generateName)
    update: list[JSON] = field(default_factory=list)   # existing slices with new content
    delete: list[JSON] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def meta_of(slice_: JSON) -> Meta:
    return slice_.get("addressType") or "", ports_key(slice_.get("ports"))


def plan(desired: dict[Meta, Desired], existing: list[JSON], labels: dict[str, str], template: JSON,
         placeholder_type: str, max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> Plan:
    """``template`` is the metadata (generateName, namespace, ownerReferences) for new slices;
    ``labels`` the labels every slice must carry."""
    result = Plan()
    by_meta: dict[Meta, list[JSON]] = {}
    for slice_ in sorted(existing, key=lambda s: s["metadata"]["name"]):
        by_meta.setdefault(meta_of(slice_), []).append(slice_)
    if not any(d.endpoints for d in desired.values()):
        return _placeholder(existing, labels, template, placeholder_type)
    for meta, wanted in desired.items():
        if wanted.endpoints:
            _plan_meta(wanted, by_meta.pop(meta, []), labels, template, max_per_slice, result)
    stale = [s for slices in by_meta.values() for s in slices]
    _reuse_stale_for_creates(result, stale)
    return result


def _with(slice_: JSON, endpoints: list[JSON], labels: dict[str, str]) -> JSON:
    updated = dict(slice_)
    updated["metadata"] = {**slice_["metadata"], "labels": dict(labels)}
    updated["endpoints"] = endpoints
    return updated


def _plan_meta(wanted: Desired, slices: list[JSON], labels: dict[str, str], template: JSON, max_per_slice: int,
               result: Plan) -> None:
    remaining = dict(wanted.endpoints)
    to_update: list[JSON] = []
    unchanged: list[JSON] = []
    for slice_ in slices:
        kept: list[JSON] = []
        changed = (slice_["metadata"].get("labels") or {}) != labels
        for endpoint in slice_.get("endpoints") or ():
            want = remaining.pop(endpoint_key(endpoint), None)
            if want is None:
                changed = True  # gone (or already placed in an earlier slice: a duplicate)
                continue
            changed = changed or want != endpoint
            kept.append(want)
        if not changed:
            unchanged.append(slice_)
        elif kept:
            to_update.append(_with(slice_, kept, labels))
        else:
            result.delete.append(slice_)
    new = list(remaining.values())
    for slice_ in to_update:  # 1. top up the slices that are written anyway
        room = max_per_slice - len(slice_["endpoints"])
        if room > 0 and new:
            slice_["endpoints"] = [*slice_["endpoints"], *new[:room]]
            new = new[room:]
    while len(new) >= max_per_slice:  # 2. full new slices
        result.create.append(_new_slice(template, labels, wanted, new[:max_per_slice]))
        new = new[max_per_slice:]
    if new:  # 3. the last partial batch: into the fullest unchanged slice that takes all of it
        fits = [s for s in unchanged if len(s.get("endpoints") or ()) + len(new) <= max_per_slice]
        if fits:
            target = max(fits, key=lambda s: len(s.get("endpoints") or ()))
            unchanged.remove(target)
            to_update.append(_with(target, [*(target.get("endpoints") or ()), *new], labels))
        else:
            result.create.append(_new_slice(template, labels, wanted, new))
    result.update.extend(to_update)


def _new_slice(template: JSON, labels: dict[str, str], wanted: Desired, endpoints: list[JSON]) -> JSON:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {**template, "labels": dict(labels)}, "addressType": wanted.address_type,
            "ports": list(wanted.ports), "endpoints": endpoints}


def _reuse_stale_for_creates(result: Plan, stale: list[JSON]) -> None:
    """A delete plus a create of the same address type is one update of the old slice."""
    for slice_ in stale:
        match = next((c for c in result.create if c["addressType"] == slice_.get("addressType")), None)
        if match is None:
            result.delete.append(slice_)
            continue
        result.create.remove(match)
        reused = dict(slice_)
        reused["metadata"] = {**slice_["metadata"], "labels": match["metadata"]["labels"]}
        reused["ports"] = match["ports"]
        reused["endpoints"] = match["endpoints"]
        result.update.append(reused)


def _placeholder(existing: list[JSON], labels: dict[str, str], template: JSON, address_type: str) -> Plan:
    result = Plan()
    same_type = [s for s in existing if s.get("addressType") == address_type]
    keep = next((s for s in same_type if not s.get("endpoints") and not s.get("ports")), None)
    reuse = keep is None and bool(same_type)
    if reuse:
        keep = same_type[0]  # emptied in place rather than deleted and created again
    for slice_ in existing:
        if slice_ is not keep:
            result.delete.append(slice_)
    if keep is None:
        wanted = Desired(address_type, [])
        result.create.append(_new_slice(template, labels, wanted, []))
    elif reuse or (keep["metadata"].get("labels") or {}) != labels:
        result.update.append({**_with(keep, [], labels), "ports": []})
    return result
