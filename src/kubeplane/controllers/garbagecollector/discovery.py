"""Which resources the collector watches, and how an ownerReference's apiVersion and kind map to
a resource it can GET (upstream: ``GetDeletableResources`` plus a RESTMapper).

Every resource of every group's preferred version that can be listed, watched and deleted is
watched, except events (upstream's default ignored resources: many, short-lived, never owners).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeplane.client import Client, Resource

JSON = dict[str, Any]

REQUIRED_VERBS = frozenset({"list", "watch", "delete"})
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})


@dataclass
class ResourceMap:
    """The watchable resources and, for owner lookups, (group, kind) -> resource."""

    resources: list[Resource] = field(default_factory=list)
    by_kind: dict[tuple[str, str], Resource] = field(default_factory=dict)

    def add(self, resource: Resource) -> None:
        self.resources.append(resource)
        self.by_kind.setdefault((resource.group, resource.kind), resource)

    def resource_for(self, api_version: str, kind: str) -> Resource | None:
        group = api_version.rpartition("/")[0]
        return self.by_kind.get((group, kind))


def _collectable(group: str, version: str, resource_list: JSON) -> list[Resource]:
    found = []
    for entry in resource_list.get("resources") or ():
        name = str(entry.get("name") or "")
        if "/" in name or (group, name) in IGNORED:
            continue  # subresources go with their object
        if not set(entry.get("verbs") or ()) >= REQUIRED_VERBS:
            continue
        found.append(Resource(group, version, name, namespaced=bool(entry.get("namespaced")),
                              kind=str(entry.get("kind") or "")))
    return found


async def discover(client: Client) -> ResourceMap:
    found = ResourceMap()
    for resource in _collectable("", "v1", await client.request("GET", "/api/v1")):
        found.add(resource)
    groups = await client.request("GET", "/apis")
    for group in groups.get("groups") or ():
        preferred = (group.get("preferredVersion") or {}).get("version") or \
            ((group.get("versions") or [{}])[0]).get("version")
        name = str(group.get("name") or "")
        if not preferred:
            continue
        for resource in _collectable(name, preferred, await client.request("GET", f"/apis/{name}/{preferred}")):
            found.add(resource)
    return found
