"""matchPolicy Equivalent: a webhook registered for one version of a resource also sees requests
made through an equivalent one, converted to the version it registered for.

Two (group, version, resource)s are equivalent when they share storage: the versions of one
resource in one group (autoscaling/v1 and v2 HPAs, the versions of a CRD) and the resources that
``registry/conversion`` serves from another's storage (events.k8s.io/v1 Events over core/v1).
Objects move between them through the storage version, as the API server itself converts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeplane.apiserver.registry.conversion import CONVERSIONS

JSON = dict[str, Any]


@dataclass(frozen=True, order=True)
class GVR:
    group: str
    version: str
    resource: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _storage_of(gvr: GVR) -> GVR:
    conversion = CONVERSIONS.get((gvr.group, gvr.version, gvr.resource))
    if conversion is None:
        return gvr
    return GVR(conversion.storage_group, conversion.storage_version, conversion.storage_resource)


def equivalents(gvr: GVR, other_versions: set[str]) -> list[GVR]:
    """The resources equivalent to ``gvr`` (itself excluded), in a stable order: those sharing its
    storage through a conversion, and its own resource at ``other_versions`` of its group."""
    storage = _storage_of(gvr)
    found = {storage} | {GVR(*served) for served in CONVERSIONS if _storage_of(GVR(*served)) == storage}
    found |= {GVR(gvr.group, version, gvr.resource) for version in other_versions}
    found.discard(gvr)
    return sorted(found)


def convert(obj: JSON | None, source: GVR, target: GVR) -> JSON | None:
    """``obj`` (as served at ``source``) as served at ``target``, through the storage version.
    Never mutates ``obj``."""
    if obj is None or source == target:
        return obj
    from_source = CONVERSIONS.get((source.group, source.version, source.resource))
    stored = from_source.to_storage(obj) if from_source is not None else dict(obj)
    to_target = CONVERSIONS.get((target.group, target.version, target.resource))
    converted = to_target.to_served(stored) if to_target is not None else dict(stored)
    converted["apiVersion"] = target.api_version
    return converted
