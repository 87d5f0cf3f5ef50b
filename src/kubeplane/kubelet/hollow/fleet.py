"""Many hollow nodes in one event loop, sharing one API client (one connection pool: a kubelet
per process would hold its own) and one set of informers (``shared.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kubeplane.client import ApiError, Client
from kubeplane.client.resource import NODES
from kubeplane.kubelet.hollow.addresses import DEFAULT_RANGE, FleetAddresses, PodAddressPool
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
REPORT_INTERVAL = 30.0


@dataclass(frozen=True)
class FleetPlan:
    """The nodes one process runs and the pod addresses they share."""

    specs: list[HollowNodeSpec]
    pod_addresses: PodAddressPool


def plan_fleet(count: int, name_prefix: str, instance_type: str, zones: Sequence[str],
               address_range: str = DEFAULT_RANGE, max_pods: int | None = None, first_index: int = 0,
               fleet_size: int | None = None) -> FleetPlan:
    """Nodes ``first_index .. first_index + count - 1`` named ``<prefix><index>``, round robin over
    ``zones``, of a fleet of ``fleet_size`` (default: up to the last of them) laid out over
    ``address_range`` (``addresses.py``)."""
    if not zones:
        raise ValueError("at least one zone is needed")
    size = fleet_size if fleet_size is not None else first_index + count
    if first_index + count > size:
        raise ValueError(f"nodes up to index {first_index + count - 1} do not fit a fleet of {size}")
    layout = FleetAddresses(address_range, size)
    pods = max_pods if max_pods is not None else eni_max_pods(instance_type)
    specs = [node_spec(f"{name_prefix}{index}", instance_type, zones[index % len(zones)], layout.node_ip(index), pods)
             for index in range(first_index, first_index + count)]
    return FleetPlan(specs, layout.pod_pool(first_index, count))


class HollowFleet:
    """``start()`` starts the shared informers, then every node's kubelet (``start_rate`` per
    second, so registration does not arrive as one burst); ``stop()`` cancels them and, if asked,
    deletes their Nodes."""

    def __init__(self, client: Client, plan: FleetPlan, root_dir: Path,
                 timings: HollowTimings = DEFAULT_TIMINGS, start_rate: float = 100.0,
                 heartbeat_client: Client | None = None, events_client: Client | None = None) -> None:
        """``client`` serves the informers and pod workers; ``heartbeat_client`` the Node status and
        Lease writes, ``events_client`` the events (both default to ``client``)."""
        self.client = client
        self.heartbeat_client = heartbeat_client
        self.events_client = events_client
        self.specs = list(plan.specs)
        self.pod_addresses = plan.pod_addresses
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
            node = HollowNode(spec, self.client, self.root_dir / spec.name, self.shared, self.pod_addresses, version,
                              self.timings, heartbeat_client=self.heartbeat_client,
                              events_client=self.events_client)
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

    async def report_forever(self, interval: float = REPORT_INTERVAL) -> None:
        """Log, every ``interval`` seconds, how the fleet keeps up: requests waiting for a turn,
        how late the event loop runs timers, and the longest time between two Lease renewals per
        node (the node lifecycle controller gives up on a node after 40 s)."""
        loop = asyncio.get_running_loop()
        while True:
            begin = loop.time()
            await asyncio.sleep(interval)
            lag = loop.time() - begin - interval
            gaps = sorted(node.kubelet.take_longest_lease_gap() for node in self.nodes)
            if not gaps:
                continue
            late = sum(1 for gap in gaps if gap > self.timings.node_lease_duration * 0.75)
            pods = sum(len(node.runtime.sandboxes) for node in self.nodes)
            waiting = {name: getattr(client, "waiting", 0) for name, client in
                       (("pods", self.client), ("heartbeats", self.heartbeat_client or self.client),
                        ("events", self.events_client or self.client))}
            log.info("fleet: %d nodes, %d sandboxes, %d pod addresses in use; requests waiting %s; timers late "
                     "%.2f s; longest lease gap p50 %.1f s, max %.1f s, %d nodes over %.0f s",
                     len(gaps), pods, self.pod_addresses.in_use, waiting, lag, gaps[len(gaps) // 2], gaps[-1],
                     late, self.timings.node_lease_duration * 0.75)

    async def stop(self, delete_nodes: bool = False) -> None:
        # Cancelled once: each node's kubelet then cancels (and re-cancels) its own workers.
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
