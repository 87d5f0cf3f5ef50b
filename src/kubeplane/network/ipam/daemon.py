"""ipamd: the per-node daemon behind the VPC CNI plugin.

It listens on ``<state dir>/ipamd.sock`` (one JSON line per request, see ``protocol``, or the
compiled plugin's raw form, see ``shim``), keeps the warm pool (``pool``) topped up by calling the
VPC, and for each pod assigns an address, records it (``datastore``) and wires the pod (``cni.wiring``). Pod wiring runs on one worker thread and VPC
calls on another, both off the event loop: a slow ENI attach never delays a pod that already has an
address waiting. The pool itself only changes on the loop, under one lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from kubeplane.component.waiting import wait_event
from kubeplane.network.cni import result as cni_result
from kubeplane.network.cni.wiring import POD_GATEWAY, PodInterfaces, WiringError, host_veth_name
from kubeplane.network.ipam import protocol, shim
from kubeplane.network.ipam.datastore import Datastore
from kubeplane.network.ipam.limits import InstanceLimits
from kubeplane.network.ipam.pool import Assignment, OutOfAddresses, Plan, Pool, WarmTargets
from kubeplane.network.ipam.protocol import IpamdError
from kubeplane.network.ipam.vpc_backend import VpcBackend

log = logging.getLogger(__name__)
_T = TypeVar("_T")
DEFAULT_RECONCILE_INTERVAL = 5.0
_MAX_RECONCILE_STEPS = 16  # an attach and a fill per ENI, with room to spare


class PodNetwork(Protocol):
    """The kernel side (``cni.wiring.NodeNetwork``; a fake in unit tests)."""

    def enable_forwarding(self) -> None: ...

    def add_pod(self, ip: str, device_index: int, pod_netns: str, pod_ifname: str, host_veth: str,
                pod_routes: Sequence[str]) -> PodInterfaces: ...

    def remove_pod(self, ip: str, host_veth: str) -> None: ...

    def check_pod(self, ip: str, device_index: int, pod_netns: str, pod_ifname: str,
                  host_veth: str) -> list[str]: ...


@dataclass(frozen=True)
class IpamdConfig:
    state_dir: Path
    limits: InstanceLimits
    targets: WarmTargets = field(default_factory=WarmTargets)
    extra_pod_routes: tuple[str, ...] = ()  # e.g. the Service CIDR; the VPC CIDR is always routed
    reconcile_interval: float = DEFAULT_RECONCILE_INTERVAL

    @property
    def socket_path(self) -> Path:
        return protocol.socket_path(self.state_dir)


class Ipamd:
    def __init__(self, config: IpamdConfig, vpc: VpcBackend, network: PodNetwork,
                 clock: Callable[[], float] = time.time) -> None:
        self.config, self.vpc, self.network, self.clock = config, vpc, network, clock
        self.datastore = Datastore(config.state_dir)
        self.pool = Pool(config.limits, config.targets)
        self.pod_routes = [vpc.cidr, *config.extra_pod_routes]
        self._lock = asyncio.Lock()  # the pool and its file
        self._reconcile_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._wiring = ThreadPoolExecutor(1, thread_name_prefix="ipamd-wiring")
        self._vpc_calls = ThreadPoolExecutor(1, thread_name_prefix="ipamd-vpc")
        self._server: asyncio.Server | None = None
        self._maintainer: asyncio.Task[None] | None = None

    # ---- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild the pool from the VPC and the datastore, fill it, then accept requests."""
        enis = await self._in_vpc(self.vpc.describe_enis)
        assignments, cooling = self.datastore.load()
        owned = {ip: eni for eni in enis for ip in eni.ips}
        kept = [a for a in assignments if a.ip in owned]
        for lost in (a for a in assignments if a.ip not in owned):
            log.warning("dropping assignment of %s to %s: the address is no longer on this instance",
                        lost.ip, lost.container_id)
        self.pool = Pool(self.config.limits, self.config.targets, enis, kept,
                         {ip: until for ip, until in cooling.items() if ip in owned})
        self._save()
        await self._in_wiring(self.network.enable_forwarding)
        await self.reconcile()
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        self.config.socket_path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.config.socket_path))
        self.config.socket_path.chmod(0o600)
        self._maintainer = asyncio.create_task(self._maintain(), name="ipamd-maintain")
        log.info("ipamd ready on %s: %d ENIs, %d addresses, %d assigned", self.config.socket_path,
                 len(self.pool.enis), self.pool.total_ips(), len(self.pool.assignments))

    async def stop(self) -> None:
        log.info("ipamd stopping")
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                # uvloop's (and Python 3.12's) wait_closed also waits for open connections: a
                # plugin that never closes its end must not hold the daemon's shutdown forever.
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
        if self._maintainer is not None:
            self._maintainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintainer
        self.config.socket_path.unlink(missing_ok=True)
        self._wiring.shutdown(wait=True)
        self._vpc_calls.shutdown(wait=True)

    async def _maintain(self) -> None:
        while True:
            await wait_event(self._wake, self.config.reconcile_interval)
            self._wake.clear()
            try:
                await self.reconcile()
            except Exception:
                log.exception("warm pool maintenance failed; retrying in %.0f s", self.config.reconcile_interval)

    def _in_vpc(self, call: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        return asyncio.get_running_loop().run_in_executor(self._vpc_calls, call, *args)

    def _in_wiring(self, call: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        return asyncio.get_running_loop().run_in_executor(self._wiring, call, *args)

    def _save(self) -> None:
        self.datastore.save(list(self.pool.assignments.values()), self.pool.cooling)

    # ---- the warm pool ----------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Grow (or, after the release delay, shrink) the pool until it meets its targets."""
        async with self._reconcile_lock:
            for _ in range(_MAX_RECONCILE_STEPS):
                async with self._lock:
                    plan = self.pool.plan(self.clock())
                if plan.grows:
                    await self._grow(plan)
                    continue
                if plan.shrinks:
                    await self._shrink(plan)
                return

    async def _grow(self, plan: Plan) -> None:
        for eni_id, count in plan.assign.items():
            ips = await self._in_vpc(self.vpc.assign_ips, eni_id, count)
            async with self._lock:
                self.pool.add_ips(eni_id, ips)
            log.info("assigned %d secondary IPs to %s", len(ips), eni_id)
        if plan.attach_eni and not plan.assign:  # fill first: a new ENI may not be needed after all
            eni = await self._in_vpc(self.vpc.attach_eni)
            async with self._lock:
                self.pool.add_eni(eni)
            log.info("attached %s at device index %d", eni.id, eni.device_index)

    async def _shrink(self, plan: Plan) -> None:
        # Take the addresses out of the pool before the VPC call, so no pod can get one meanwhile;
        # re-check under the lock that they are still unused (a pod may have come since the plan).
        now = self.clock()
        for eni_id, ips in plan.unassign.items():
            async with self._lock:
                busy = self.pool.assigned_ips() | self.pool.cooling_ips(now)
                doomed = [ip for ip in ips if ip not in busy and eni_id in self.pool.enis]
                if doomed:
                    self.pool.remove_ips(eni_id, doomed)
            if doomed:
                await self._in_vpc(self.vpc.unassign_ips, eni_id, doomed)
                log.info("released %d surplus IPs of %s", len(doomed), eni_id)
        for eni_id in plan.remove_enis:
            async with self._lock:
                busy = self.pool.assigned_ips() | self.pool.cooling_ips(now)
                eni = self.pool.enis.get(eni_id)
                if eni is None or any(ip in busy for ip in eni.ips):
                    continue
                self.pool.remove_eni(eni_id)
            await self._in_vpc(self.vpc.remove_eni, eni_id)
            log.info("released surplus ENI %s", eni_id)

    # ---- CNI commands -----------------------------------------------------------------------

    async def add(self, request: dict[str, Any]) -> dict[str, Any]:
        container_id, ifname, netns = request["containerId"], request["ifname"], request["netns"]
        args = request.get("args", {})
        pod_namespace, pod_name = args.get("K8S_POD_NAMESPACE", ""), args.get("K8S_POD_NAME", "")
        host_veth = host_veth_name(pod_namespace, pod_name, container_id)
        assignment = await self._assign(container_id, ifname, netns, host_veth, pod_namespace, pod_name)
        try:
            interfaces = await self._in_wiring(self.network.add_pod, assignment.ip, assignment.device_index,
                                               netns, ifname, assignment.host_veth, self.pod_routes)
        except (WiringError, OSError) as err:
            await self._unassign(container_id, ifname, cool_down=False)
            raise IpamdError(protocol.ERR_INTERNAL, "failed to set up the pod network", str(err)) from None
        self._wake.set()  # top the pool up again in the background
        return cni_result.add_result(assignment.ip, POD_GATEWAY, self.pod_routes, interfaces.host_veth,
                                     interfaces.host_mac, interfaces.pod_ifname, interfaces.pod_mac, netns)

    async def _assign(self, container_id: str, ifname: str, netns: str, host_veth: str, pod_namespace: str,
                      pod_name: str) -> Assignment:
        for attempt in range(2):
            async with self._lock:
                try:
                    assignment = self.pool.assign(container_id, ifname, self.clock(), netns, host_veth,
                                                  pod_namespace, pod_name)
                except OutOfAddresses as err:
                    if attempt == 1 or not self.pool.can_grow():
                        raise IpamdError(protocol.ERR_TRY_AGAIN_LATER, protocol.NO_ADDRESS_MESSAGE,
                                         f"{err}; the node has room for {self.config.limits.max_pod_ips} "
                                         "pod addresses") from None
                else:
                    self._save()
                    return assignment
            await self.reconcile()  # the pool ran dry faster than the background refill
        raise AssertionError("unreachable")

    async def _unassign(self, container_id: str, ifname: str, cool_down: bool = True) -> None:
        async with self._lock:
            released = self.pool.release(container_id, ifname, self.clock())
            if released is not None and not cool_down:
                self.pool.cooling.pop(released.ip, None)
            self._save()

    async def delete(self, request: dict[str, Any]) -> dict[str, Any]:
        container_id, ifname = request["containerId"], request["ifname"]
        async with self._lock:
            assignment = self.pool.assignment(container_id, ifname)
        if assignment is None:
            return {}  # never added, or already deleted: DEL succeeds (the runtime calls it twice)
        # Unwire first, release second: the address is never free while a pod still holds it.
        await self._in_wiring(self.network.remove_pod, assignment.ip, assignment.host_veth)
        await self._unassign(container_id, ifname)
        self._wake.set()
        return {}

    async def check(self, request: dict[str, Any]) -> dict[str, Any]:
        container_id, ifname = request["containerId"], request["ifname"]
        async with self._lock:
            assignment = self.pool.assignment(container_id, ifname)
        if assignment is None:
            raise IpamdError(protocol.ERR_UNKNOWN_CONTAINER, f"no address assigned to {container_id}/{ifname}")
        problems = await self._in_wiring(self.network.check_pod, assignment.ip, assignment.device_index,
                                         request["netns"], ifname, assignment.host_veth)
        if problems:
            raise IpamdError(protocol.ERR_INTERNAL, "the pod network is not as it was set up", "; ".join(problems))
        return {}

    async def status(self) -> dict[str, Any]:
        async with self._lock:
            now = self.clock()
            return {
                "enis": [{"id": eni.id, "deviceIndex": eni.device_index, "ips": list(eni.ips)}
                         for eni in self.pool.ordered_enis()],
                "assigned": {a.ip: f"{a.container_id}/{a.ifname}" for a in self.pool.assignments.values()},
                "free": len(self.pool.free_ips(now)),
                "maxPodIps": self.config.limits.max_pod_ips,
            }

    # ---- the socket -------------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        try:
            if command == "ADD":
                return await self.add(request)
            if command == "DEL":
                return await self.delete(request)
            if command == "CHECK":
                return await self.check(request)
            if command == "STATUS":
                return await self.status()
        except KeyError as err:
            raise IpamdError(protocol.ERR_DECODE, "incomplete request", f"missing {err}") from None
        raise IpamdError(protocol.ERR_INVALID_ENVIRONMENT, f"unknown command {command!r}")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            if line == shim.MAGIC:  # the compiled plugin: raw CNI environment and config
                try:
                    env, config_text = await shim.read_request(reader)
                except shim.ShimRequestError as err:
                    log.warning("bad request from the CNI shim: %s", err)
                    return
                writer.write(await shim.answer(self.handle, env, config_text))
                await writer.drain()
                return
            try:
                reply: dict[str, Any] = {"result": await self.handle(json.loads(line))}
            except IpamdError as err:
                log.warning("request failed: %s", err)
                reply = {"error": err.to_dict()}
            except Exception as err:
                log.exception("request failed")
                reply = {"error": IpamdError(protocol.ERR_INTERNAL, "ipamd failed", repr(err)).to_dict()}
            writer.write(protocol.encode(reply))
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
