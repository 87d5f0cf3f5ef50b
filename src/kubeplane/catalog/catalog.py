"""The API surface of one served Kubernetes minor, derived from the resource table and that
minor's schemas."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from kubeplane.catalog import releases
from kubeplane.catalog.resources import (
    GROUP_ORDER,
    RESOURCE_TABLE,
    SUBRESOURCE_SINCE,
    VERSION_PREFERENCE,
    ResourceInfo,
    SubresourceInfo,
)
from kubeplane.machinery import schema


@dataclass(frozen=True)
class APIGroupInfo:
    name: str  # "" is the core group (served under /api)
    versions: tuple[str, ...]  # preferred first

    @property
    def preferred_version(self) -> str:
        return self.versions[0]


def _minor_key(minor: str) -> tuple[int, int]:
    major, number = minor.split(".")
    return int(major), int(number)


def _served_subresources(row: ResourceInfo, minor: str) -> dict[str, SubresourceInfo]:
    return {
        name: sub
        for name, sub in row.subresources.items()
        if _minor_key(minor) >= _minor_key(SUBRESOURCE_SINCE.get((row.group, row.resource, name), "0.0"))
    }


def _resources_for(minor: str) -> list[ResourceInfo]:
    """Table rows whose kind the minor's schemas define, with their definition names filled in."""
    schemas = schema.schemas(minor)
    served = []
    for row in RESOURCE_TABLE:
        definition = schemas.definition_name_for(row.group, row.version, row.kind)
        if definition is None:
            continue
        served.append(dataclasses.replace(
            row, definition=definition, subresources=_served_subresources(row, minor)))
    return served


class Catalog:
    """What one minor serves. Build with :meth:`for_version` (cached, shared: treat as read-only)."""

    def __init__(self, minor: str) -> None:
        releases.release(minor)  # rejects unsupported minors with the list of supported ones
        self.minor = minor
        self.resources: list[ResourceInfo] = _resources_for(minor)
        self._by_resource = {(r.group, r.version, r.resource): r for r in self.resources}
        self._by_kind = {(r.group, r.version, r.kind): r for r in self.resources}
        self._groups = self._order_groups()
        self._group_by_name = {g.name: g for g in self._groups}

    @classmethod
    def for_version(cls, minor: str) -> Catalog:
        return _catalog(minor)

    def lookup(self, group: str, version: str, resource: str) -> ResourceInfo | None:
        return self._by_resource.get((group, version, resource))

    def lookup_kind(self, group: str, version: str, kind: str) -> ResourceInfo | None:
        return self._by_kind.get((group, version, kind))

    def groups(self) -> list[APIGroupInfo]:
        """Named groups (not core) in upstream's discovery order, each with its versions."""
        return [g for g in self._groups if g.name]

    def group(self, name: str) -> APIGroupInfo | None:
        return self._group_by_name.get(name)

    def preferred_version(self, group: str) -> str | None:
        found = self._group_by_name.get(group)
        return found.preferred_version if found else None

    def resources_in(self, group: str, version: str) -> list[ResourceInfo]:
        """Resources of one group version, sorted by name as discovery lists them."""
        return sorted(
            (r for r in self.resources if r.group == group and r.version == version),
            key=lambda r: r.resource,
        )

    def _order_groups(self) -> list[APIGroupInfo]:
        versions_by_group: dict[str, list[str]] = {}
        for r in self.resources:
            versions = versions_by_group.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        rank = {name: i for i, name in enumerate(("", *GROUP_ORDER))}
        ordered = sorted(versions_by_group, key=lambda g: (rank.get(g, len(rank)), g))
        result = []
        for name in ordered:
            preference = VERSION_PREFERENCE.get(name, ())
            versions = sorted(
                versions_by_group[name],
                key=lambda v: preference.index(v) if v in preference else len(preference),
            )
            result.append(APIGroupInfo(name, tuple(versions)))
        return result


@functools.cache
def _catalog(minor: str) -> Catalog:
    return Catalog(minor)


DEFAULT_VERSION = releases.DEFAULT_VERSION


def versions() -> tuple[str, ...]:
    """Served minors, oldest first."""
    return releases.versions()


def version_info(minor: str) -> dict[str, str]:
    """The ``/version`` body of a served minor, with exactly the fields that minor's Info has."""
    releases.release(minor)
    info_fields = schema.definitions(minor)["io.k8s.apimachinery.pkg.version.Info"]["properties"]
    return releases.version_info(minor, with_emulation="emulationMajor" in info_fields)
