"""Writing a computed status through the ``/status`` subresource, only when it changed."""

from __future__ import annotations

from typing import Any

from kubeplane.client import Client, Conflict, Resource

JSON = dict[str, Any]


async def write_status(client: Client, resource: Resource, obj: JSON, status: JSON,
                       refresh_on_conflict: bool = True) -> JSON:
    """PUT ``status`` onto ``obj`` unless it is already there; returns the object as stored.

    A Conflict (the cached copy was stale) is retried once on a fresh read: status is computed
    from the children, not from the parent's old status, so it still applies. Controllers whose
    role has no ``get`` (resourcequota-controller) pass ``refresh_on_conflict=False``: the Conflict
    propagates and the work queue retries once the informer has the newer copy, as upstream.
    """
    if (obj.get("status") or {}) == status:
        return obj
    body = {**obj, "status": status}
    try:
        return await client.update(resource, body, subresource="status")
    except Conflict:
        if not refresh_on_conflict:
            raise
        meta = obj["metadata"]
        fresh = await client.get(resource, meta["name"], meta.get("namespace"))
        if fresh["metadata"].get("uid") != meta.get("uid"):
            return fresh
        return await client.update(resource, {**fresh, "status": status}, subresource="status")
