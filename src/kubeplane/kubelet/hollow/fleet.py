"""Many hollow nodes in one event loop, sharing one API client (one connection pool: a kubelet
per process would hold its own) and one set of informers (``shared.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path

from kubeplane.client import ApiError, Client
from kubeplane.client.resource import NODES
from kubeplane.kubelet.hollow.addresses import DEFAULT_RANGE, node_blocks
from kubeplane.kubelet.hollow.kubelet import HeartbeatCounts
from kubeplane.kubelet.hollow.node import (
    DEFAULT_TIMINGS,
    HollowNode,
    HollowNodeSpec,
    HollowTimings,
    node_spec,
)
from kubeplane.kubelet.hollow.shared import SharedInformers
from kubeplane.network.ipam.limits import max_pods as eni_max_pods

log = logging.getLogger(__name__)

DEFAULT_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
DELETE_CONCURRENCY = 32


def fleet_specs(count: int, name_prefix: str, instance_type: str, zones: Sequence[str],
                address_range: str = DEFAULT_RANGE, max_pods: int | None = None,
                first_index: int = 0) -> list[HollowNodeSpec]:
    """``count`` nodes named ``<prefix><index>``, round robin over ``zones``, each with its own
    block of ``address_range``."""
    if not zones:
        raise ValueError("at least one zone is needed")
    pods = max_pods if max_pods is not None else eni_max_pods(instance_type)
    blocks = node_blocks(address_range, first_index + count, pods)[first_index:]
    return [node_spec(f"{name_prefix}{first_index + i}", instance_type, zones[(first_index + i) % len(zones)],
                      blocks[i], pods) for i in range(count)]


class HollowFleet:
    """``start()`` starts the shared informers, then every node's kubelet (``start_rate`` per
    second, so registration does not arrive as one burst); ``stop()`` cancels them and, if asked,
    deletes their Nodes."""

    def __init__(self, client: Client, specs: Sequence[HollowNodeSpec], root_dir: Path,
                 timings: HollowTimings = DEFAULT_TIMINGS, start_rate: float = 100.0,
                 heartbeat_client: Client | None = None) -> None:
        """``client`` serves the informers, pod workers and events; ``heartbeat_client`` (default:
        the same) the Node status and Lease writes."""
        self.client = client
        self.heartbeat_client = heartbeat_client
        self.specs = list(specs)
        self.root_dir = root_dir
        self.timings = timings
        self.start_rate = start_rate
        self.shared = SharedInformers(client)
        self.nodes: list[HollowNode] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.specs]

    async def start(self) -> None:
        # One version read for the fleet instead of one per node.
        version = str((await self.client.request("GET", "/version")).get("gitVersion", ""))
        self.shared.start()
        await self.shared.wait_for_sync()
        for spec in self.specs:
            node = HollowNode(spec, self.client, self.root_dir / spec.name, self.shared, version, self.timings,
                              heartbeat_client=self.heartbeat_client)
            self.nodes.append(node)
            self._tasks.append(asyncio.create_task(self._run(node), name=f"hollow {spec.name}"))
            if self.start_rate > 0:
                await asyncio.sleep(1 / self.start_rate)

    async def _run(self, node: HollowNode) -> None:
        try:
            await node.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("hollow node %s stopped", node.spec.name)

    def failed(self) -> list[str]:
        """Nodes whose kubelet ended (they never end while healthy)."""
        return [task.get_name() for task in self._tasks if task.done() and not task.cancelled()]

    def heartbeats(self) -> HeartbeatCounts:
        """Node status and Lease writes of the whole fleet so far."""
        counts = [node.kubelet.heartbeats for node in self.nodes]
        return HeartbeatCounts(sum(c.status_writes for c in counts), sum(c.lease_writes for c in counts))

    async def stop(self, delete_nodes: bool = False) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.shared.stop()
        if delete_nodes:
            semaphore = asyncio.Semaphore(DELETE_CONCURRENCY)

            async def delete(name: str) -> None:
                async with semaphore:
                    with contextlib.suppress(ApiError):
                        await self.client.delete(NODES, name)

            await asyncio.gather(*(delete(name) for name in self.names))
