"""Which namespaced resources exist: the preferred version of every group, from discovery
(``/api/v1``, ``/apis`` and ``/apis/<group>/<version>``), as upstream's
``ServerPreferredNamespacedResources`` gives the namespace deleter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeplane.client import Client, Resource

JSON = dict[str, Any]


@dataclass(frozen=True)
class DeletableResource:
    resource: Resource
    delete_collection: bool  # else each object is deleted by name


def _deletable(group: str, version: str, resource_list: JSON) -> list[DeletableResource]:
    found = []
    for entry in resource_list.get("resources") or ():
        name = str(entry.get("name") or "")
        verbs = set(entry.get("verbs") or ())
        if "/" in name or not entry.get("namespaced") or "list" not in verbs:
            continue  # subresources go with their object; cluster-scoped objects are not content
        if not verbs & {"delete", "deletecollection"}:
            continue
        resource = Resource(group, version, name, namespaced=True, kind=str(entry.get("kind") or ""))
        found.append(DeletableResource(resource, "deletecollection" in verbs))
    return found


async def namespaced_resources(client: Client) -> list[DeletableResource]:
    found = _deletable("", "v1", await client.request("GET", "/api/v1"))
    groups = await client.request("GET", "/apis")
    for group in groups.get("groups") or ():
        preferred = (group.get("preferredVersion") or {}).get("version") or \
            ((group.get("versions") or [{}])[0]).get("version")
        if not preferred:
            continue
        name = group.get("name") or ""
        found.extend(_deletable(name, preferred, await client.request("GET", f"/apis/{name}/{preferred}")))
    return found
