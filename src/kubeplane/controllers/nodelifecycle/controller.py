"""The node lifecycle controller (upstream ``pkg/controller/nodelifecycle``).

Three jobs:

* node health — every ``monitor_period`` each node's heartbeat (Ready condition and Lease in
  ``kube-node-lease``) is checked; a node silent for longer than the grace period gets every
  kubelet condition Unknown ("Kubelet stopped posting node status."), and the pods on a node
  that stopped being Ready get their Ready condition set False (upstream's MarkPodsNotReady);
* taint-nodes-by-condition — on every node change, the NoSchedule taints mirroring its
  conditions and ``spec.unschedulable`` are brought up to date (a work queue of node names);
* NoExecute tainting — an unreachable or not-ready node is tainted ``node.kubernetes.io/
  unreachable`` or ``not-ready`` with effect NoExecute, through per-zone rate limiters (see
  ``zones.py``); a node Ready again loses them. The taint eviction controller running alongside
  (``eviction.py``) deletes the pods those taints do not tolerate.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from kubeplane.client import Conflict, EventHandlers, NotFound
from kubeplane.client.resource import LEASES, NODES, PODS
from kubeplane.controllers.controller import (
    ControllerContext,
    ResourceController,
    is_resync,
    unwrap_tombstone,
)
from kubeplane.controllers.nodelifecycle.eviction import TaintEvictionController
from kubeplane.controllers.nodelifecycle.health import HealthTracker, HealthVerdict, ready_of
from kubeplane.controllers.nodelifecycle.podindex import index_pods_by_node, pods_on
from kubeplane.controllers.nodelifecycle.podstatus import set_pod_condition
from kubeplane.controllers.nodelifecycle.taints import (
    NOT_READY_NO_EXECUTE,
    UNREACHABLE_NO_EXECUTE,
    desired_no_schedule,
    has_taint,
    swap_taints,
)
from kubeplane.controllers.nodelifecycle.zones import ZoneState, ZoneTainter, zone_key, zone_state
from kubeplane.controllers.timeutil import format_time

log = logging.getLogger(__name__)

JSON = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
NORMAL = "Normal"
YIELD_EVERY = 200  # nodes checked between two yields to the event loop in a monitor pass


class NodeLifecycleController(ResourceController):
    """Defaults are kube-controller-manager's flags: --node-monitor-period 5s,
    --node-monitor-grace-period 40s, --node-startup-grace-period 1m, --node-eviction-rate 0.1,
    --secondary-node-eviction-rate 0.01, --large-cluster-size-threshold 50,
    --unhealthy-zone-threshold 0.55."""

    name = "node-lifecycle-controller"
    component = "node-controller"

    def __init__(self, ctx: ControllerContext, monitor_period: float = 5.0, grace_period: float = 40.0,
                 startup_grace_period: float = 60.0, eviction_rate: float = 0.1,
                 secondary_eviction_rate: float = 0.01, large_cluster_threshold: int = 50,
                 unhealthy_zone_threshold: float = 0.55) -> None:
        super().__init__(ctx)
        self.monitor_period = monitor_period
        self.eviction_rate = eviction_rate
        self.secondary_eviction_rate = secondary_eviction_rate
        self.large_cluster_threshold = large_cluster_threshold
        self.unhealthy_zone_threshold = unhealthy_zone_threshold
        self.health = HealthTracker(grace_period, startup_grace_period)
        self.nodes = self.informer(NODES, EventHandlers(on_add=self.enqueue, on_update=self._node_updated,
                                                        on_delete=self._node_deleted))
        self.leases = self.informer(LEASES)
        self.pods = self.informer(PODS)
        index_pods_by_node(self.pods)
        self.zone_states: dict[str, ZoneState] = {}
        self.tainters: dict[str, ZoneTainter] = {}
        self._all_fully_disrupted_now = False
        self.eviction = TaintEvictionController(ctx)

    # -- taint-nodes-by-condition (the queue) ----------------------------------------------------

    def _node_updated(self, old: JSON, new: JSON) -> None:
        if not is_resync(old, new):
            self.enqueue(new)

    def _node_deleted(self, obj: Any) -> None:
        node = unwrap_tombstone(obj)
        self.health.forget(node["metadata"]["name"])
        for tainter in self.tainters.values():
            tainter.remove(node["metadata"]["name"])

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            return
        taints = desired_no_schedule(node)
        if taints is not None:
            await self._write_taints(node, taints)

    async def _write_taints(self, node: JSON, taints: list[JSON]) -> None:
        meta = node["metadata"]
        await self.client.patch(NODES, meta["name"], {"metadata": {"resourceVersion": meta.get("resourceVersion")},
                                                      "spec": {"taints": taints or None}})

    # -- health monitoring (the periodic pass) -------------------------------------------------

    async def run(self, workers: int) -> None:
        await asyncio.gather(super().run(workers), self.eviction.run(workers), self._monitor_forever())

    async def _monitor_forever(self) -> None:
        await asyncio.gather(*(i.wait_for_sync() for i in (self.nodes, self.leases, self.pods)))
        while True:
            try:
                await self.monitor_node_health()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("%s: monitoring node health failed: %s", self.name, err, exc_info=True)
            await self.clock.sleep(self.monitor_period)

    async def monitor_node_health(self) -> None:
        """One pass of upstream's ``monitorNodeHealth`` followed by its NoExecute tainting pass."""
        nodes = self.nodes.list()
        ready_by_zone: dict[str, list[str]] = defaultdict(list)
        for checked, node in enumerate(nodes):
            if checked % YIELD_EVERY == YIELD_EVERY - 1:
                # Let the informers apply what arrived meanwhile: thousands of nodes checked in
                # one go would delay the Lease events the next nodes' verdicts depend on.
                await asyncio.sleep(0)
            zone = zone_key(node)
            if zone not in self.tainters:
                self.zone_states[zone] = ZoneState.INITIAL
                self.tainters[zone] = ZoneTainter(self.eviction_rate, self.clock.now())
            verdict = await self._check_node(node)
            if verdict is None:
                continue
            ready_by_zone[zone].append(verdict.observed_ready.get("status", "Unknown"))
            await self._taint_based_eviction(node, verdict.observed_ready)
        self._handle_disruption(ready_by_zone)
        if not self._all_fully_disrupted_now:
            await self._no_execute_tainting_pass()
        else:
            for node in nodes:
                await self._mark_reachable(node)

    async def _check_node(self, node: JSON) -> HealthVerdict | None:
        name = node["metadata"]["name"]
        lease = self.leases.get(name, NODE_LEASE_NAMESPACE)
        verdict = self.health.observe(node, lease, self.clock.now(), self.clock.wall())
        if verdict.updated_node is not None:
            try:
                await self.client.update(NODES, verdict.updated_node, subresource="status")
            except NotFound:
                return None
            except Conflict:
                return verdict  # the kubelet wrote meanwhile: the next pass sees its news
        current = verdict.current_ready
        if current is not None and current.get("status") != "True" \
                and verdict.observed_ready.get("status") == "True":
            self.recorder.event(node, NORMAL, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        if current is not None and current.get("status") != "True":
            await self._mark_pods_not_ready(name)
        return verdict

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        """Upstream's MarkPodsNotReady: a pod that claims Ready on a node that is not gets Ready False."""
        for pod in pods_on(self.pods, node_name):
            ready = next((c for c in (pod.get("status") or {}).get("conditions") or () if c.get("type") == "Ready"),
                         None)
            if ready is None or ready.get("status") == "False":
                continue
            try:
                await set_pod_condition(self.client, pod, {**ready, "status": "False"}, self.clock.wall())
                self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")
            except (NotFound, Conflict):
                pass  # gone or changed; the next pass looks again

    async def _taint_based_eviction(self, node: JSON, observed_ready: JSON) -> None:
        """Upstream's processTaintBaseEviction: queue a not-ready or unreachable node for its
        NoExecute taint; a Ready node loses it."""
        status = observed_ready.get("status")
        if status == "False":
            if has_taint(node, UNREACHABLE_NO_EXECUTE):  # flip to the other taint at once
                await self._swap(node, [NOT_READY_NO_EXECUTE], [UNREACHABLE_NO_EXECUTE])
            else:
                self._mark_for_tainting(node, NOT_READY_NO_EXECUTE)
        elif status == "Unknown":
            if has_taint(node, NOT_READY_NO_EXECUTE):
                await self._swap(node, [UNREACHABLE_NO_EXECUTE], [NOT_READY_NO_EXECUTE])
            else:
                self._mark_for_tainting(node, UNREACHABLE_NO_EXECUTE)
        elif status == "True":
            await self._mark_reachable(node)

    def _mark_for_tainting(self, node: JSON, taint: JSON) -> None:
        tainter = self.tainters[zone_key(node)]
        if not has_taint(node, taint):
            tainter.remove(node["metadata"]["name"])  # not (or no longer) tainted: queue it afresh
        tainter.add(node["metadata"]["name"])

    async def _mark_reachable(self, node: JSON) -> None:
        tainter = self.tainters.get(zone_key(node))
        if tainter is not None:
            tainter.remove(node["metadata"]["name"])
        await self._swap(node, [], [UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE])

    async def _swap(self, node: JSON, add: list[JSON], remove: list[JSON]) -> bool:
        taints = swap_taints(node, add, remove, format_time(self.clock.wall()))
        if taints is None:
            return True
        try:
            await self._write_taints(node, taints)
        except NotFound:
            return True
        except Conflict:
            return False
        return True

    async def _no_execute_tainting_pass(self) -> None:
        """Taint the queued nodes the zones' limiters admit, each after a fresh look at its state."""
        for zone, tainter in self.tainters.items():
            for name in tainter.take(self.clock.now()):
                node = self.nodes.get(name)
                if node is None or zone_key(node) != zone:
                    continue
                status = (ready_of(node) or {}).get("status")
                if status == "False":
                    done = await self._swap(node, [NOT_READY_NO_EXECUTE], [UNREACHABLE_NO_EXECUTE])
                elif status == "Unknown":
                    done = await self._swap(node, [UNREACHABLE_NO_EXECUTE], [NOT_READY_NO_EXECUTE])
                else:
                    continue  # Ready again: nothing to taint
                if not done:
                    tainter.retry(name)

    # -- zones --------------------------------------------------------------------------------

    def _handle_disruption(self, ready_by_zone: dict[str, list[str]]) -> None:
        """Upstream's handleDisruption: per-zone states set each zone's eviction rate; when every
        zone is fully disrupted all NoExecute tainting stops (the problem is likely ours)."""
        new_states = {zone: zone_state(statuses, self.unhealthy_zone_threshold)
                      for zone, statuses in ready_by_zone.items()}
        for zone in list(self.zone_states):
            if zone not in ready_by_zone:
                del self.zone_states[zone]
                self.tainters.pop(zone, None)
        all_now = bool(new_states) and all(s is ZoneState.FULL_DISRUPTION for s in new_states.values())
        all_before = bool(self.zone_states) and all(s is ZoneState.FULL_DISRUPTION
                                                    for s in self.zone_states.values())
        self._all_fully_disrupted_now = all_now
        now = self.clock.now()
        if all_now and all_before:
            return
        if all_now:
            log.info("%s: all nodes are not ready; entering master disruption mode", self.name)
            for zone in self.zone_states:
                self.tainters[zone].swap_limiter(0, now)
                self.zone_states[zone] = ZoneState.FULL_DISRUPTION
            return
        if all_before:
            log.info("%s: some nodes are ready; exiting master disruption mode", self.name)
            self.health.reset_probes(now)
        for zone, state in new_states.items():
            if self.zone_states.get(zone) is not state or all_before:
                self.tainters[zone].swap_limiter(self._zone_rate(state, len(ready_by_zone[zone])), now)
                self.zone_states[zone] = state

    def _zone_rate(self, state: ZoneState, zone_size: int) -> float:
        if state is ZoneState.PARTIAL_DISRUPTION:
            return self.secondary_eviction_rate if zone_size > self.large_cluster_threshold else 0.0
        return self.eviction_rate
