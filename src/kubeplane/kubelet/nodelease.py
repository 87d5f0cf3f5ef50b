"""The node's heartbeat Lease in kube-node-lease: held by the node, owned by its Node object (so
it goes when the Node goes), renewed every quarter of its 40 s duration."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kubeplane.client import AlreadyExists, Client, Conflict, NotFound
from kubeplane.client.leaselock import format_micro_time
from kubeplane.client.resource import LEASES

log = logging.getLogger(__name__)

JSON = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
RENEW_FRACTION = 0.25


def lease_object(node: JSON, duration: int, now: datetime) -> JSON:
    metadata = node["metadata"]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": metadata["name"], "namespace": NODE_LEASE_NAMESPACE,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": metadata["name"],
                                              "uid": metadata["uid"]}]},
            "spec": {"holderIdentity": metadata["name"], "leaseDurationSeconds": duration,
                     "renewTime": format_micro_time(now)}}


async def renew(client: Client, node: JSON, duration: int) -> JSON:
    """Create the Lease or move its renewTime to now; returns the stored Lease."""
    name = node["metadata"]["name"]
    now = datetime.now(UTC)
    try:
        lease = await client.get(LEASES, name, NODE_LEASE_NAMESPACE)
    except NotFound:
        try:
            return await client.create(LEASES, lease_object(node, duration, now), NODE_LEASE_NAMESPACE)
        except AlreadyExists:
            lease = await client.get(LEASES, name, NODE_LEASE_NAMESPACE)
    wanted = lease_object(node, duration, now)
    lease["spec"] = {**(lease.get("spec") or {}), **wanted["spec"]}
    if not (lease["metadata"].get("ownerReferences")):
        lease["metadata"]["ownerReferences"] = wanted["metadata"]["ownerReferences"]
    try:
        return await client.update(LEASES, lease, NODE_LEASE_NAMESPACE)
    except Conflict:
        log.info("node lease %s changed meanwhile; renewing on the next beat", name)
        return lease
