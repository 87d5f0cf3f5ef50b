"""Services: ClusterIP and NodePort allocation on create and type changes, release on delete."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.registry.allocator import (
    AlreadyAllocatedError,
    NodePortAllocator,
    OutOfRangeError,
    RangeFullError,
    ServiceIPAllocator,
)
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.store import Store
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.machinery import errors
from kubeplane.machinery.errors import Cause
from kubeplane.storage.interface import ListOptions

JSON = dict[str, Any]

_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


class ServiceStrategy(Strategy):
    has_status_subresource = True
    return_deleted_object = True

    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        super().prepare_for_update(ctx, new, old)
        carry_allocated_values(new, old)


def carry_allocated_values(new: JSON, old: JSON) -> None:
    """A client that replaces a Service without the values the server allocated (``kubectl
    replace`` of a hand-written manifest) keeps them, as upstream's patchAllocatedValues does."""
    spec = new.setdefault("spec", {})
    old_spec = old.get("spec") or {}
    if _wants_cluster_ip(spec) and not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
    if _wants_node_ports(spec):
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                     for p in old_spec.get("ports") or ()}
        for port in spec.get("ports") or ():
            if not port.get("nodePort"):
                previous = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                if previous:
                    port["nodePort"] = previous


def _wants_cluster_ip(spec: JSON) -> bool:
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None"


def _wants_node_ports(spec: JSON) -> bool:
    return spec.get("type") in _NODE_PORT_TYPES


class ServiceStore(Store):
    ip_allocator: ServiceIPAllocator
    port_allocator: NodePortAllocator

    def configure(self, ips: ServiceIPAllocator, ports: NodePortAllocator) -> ServiceStore:
        self.ip_allocator = ips
        self.port_allocator = ports
        return self

    def _ip_error(self, name: str, ip: str, exc: Exception) -> errors.StatusError:
        if isinstance(exc, OutOfRangeError):
            detail = (f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                      f"The range of valid IPs is {self.ip_allocator.network}")
        elif isinstance(exc, AlreadyAllocatedError):
            detail = f"failed to allocate IP {ip}: provided IP is already allocated"
        else:
            return errors.internal("failed to allocate a serviceIP: range is full")
        return errors.invalid("", "Service", name, [Cause(
            "FieldValueInvalid", f'Invalid value: []string{{"{ip}"}}: {detail}', "spec.clusterIPs")])

    def _port_error(self, name: str, index: int, port: int, exc: Exception) -> errors.StatusError:
        if isinstance(exc, OutOfRangeError):
            rng = f"{self.port_allocator.base}-{self.port_allocator.base + self.port_allocator.size - 1}"
            detail = f"provided port is not in the valid range. The range of valid ports is {rng}"
        elif isinstance(exc, AlreadyAllocatedError):
            detail = "provided port is already allocated"
        else:
            return errors.internal("failed to allocate a nodePort: range is full")
        return errors.invalid("", "Service", name, [Cause(
            "FieldValueInvalid", f"Invalid value: {port}: {detail}", f"spec.ports[{index}].nodePort")])

    async def _allocate(self, obj: JSON, old: JSON | None, undo: list[tuple[str, Any]]) -> None:
        name = obj["metadata"].get("name", "")
        spec = obj.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        if _wants_cluster_ip(spec) and not (old and old_spec.get("clusterIP")):
            requested = spec.get("clusterIP") or None
            try:
                ip = await self.ip_allocator.allocate(requested)
            except (OutOfRangeError, AlreadyAllocatedError, RangeFullError) as exc:
                raise self._ip_error(name, requested or "", exc) from exc
            undo.append(("ip", ip))
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        elif spec.get("clusterIP") == "None":
            spec["clusterIPs"] = ["None"]
        if _wants_node_ports(spec):
            old_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort")
                         for p in old_spec.get("ports") or () if p.get("nodePort")}
            for index, port in enumerate(spec.get("ports") or ()):
                existing = old_ports.get((port.get("port"), port.get("protocol")))
                requested_port = port.get("nodePort")
                if requested_port and requested_port == existing:
                    continue
                try:
                    got = await self.port_allocator.allocate(requested_port or None)
                except (OutOfRangeError, AlreadyAllocatedError, RangeFullError) as exc:
                    raise self._port_error(name, index, requested_port or 0, exc) from exc
                undo.append(("port", got))
                port["nodePort"] = got

    async def _release(self, allocations: list[tuple[str, Any]]) -> None:
        for what, value in allocations:
            if what == "ip":
                await self.ip_allocator.release(value)
            else:
                await self.port_allocator.release(value)

    @staticmethod
    def _allocations_of(obj: JSON) -> list[tuple[str, Any]]:
        spec = obj.get("spec") or {}
        out: list[tuple[str, Any]] = [("ip", ip) for ip in spec.get("clusterIPs") or () if ip != "None"]
        out += [("port", p["nodePort"]) for p in spec.get("ports") or () if p.get("nodePort")]
        return out

    async def before_create(self, ctx: RequestContext, obj: JSON) -> None:
        undo: list[tuple[str, Any]] = []
        try:
            await self._allocate(obj, None, undo)
        except BaseException:
            await self._release(undo)
            raise
        if ctx.dry_run:
            await self._release(undo)

    async def rollback_create(self, ctx: RequestContext, obj: JSON) -> None:
        if not ctx.dry_run:
            await self._release(self._allocations_of(obj))

    async def before_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        spec = new.setdefault("spec", {})
        if not _wants_node_ports(spec):
            for port in spec.get("ports") or ():
                port.pop("nodePort", None)
        undo: list[tuple[str, Any]] = []
        try:
            await self._allocate(new, old, undo)
        except BaseException:
            await self._release(undo)
            raise
        if ctx.dry_run:
            await self._release(undo)
            return
        # What the old object held and the new one does not is released once; a retried update
        # may release twice, which is harmless for a bitmap.
        kept = set(self._allocations_of(new))
        await self._release([a for a in self._allocations_of(old) if a not in kept])

    async def after_delete(self, ctx: RequestContext, obj: JSON) -> None:
        await self._release(self._allocations_of(obj))

    async def repair(self) -> None:
        result = await self.storage.get_list(self.prefix(""), ListOptions())
        ips: set[int] = set()
        ports: set[int] = set()
        for svc in result.items:
            for what, value in self._allocations_of(svc):
                try:
                    if what == "ip":
                        ips.add(self.ip_allocator.offset(value))
                    else:
                        ports.add(self.port_allocator.offset(value))
                except OutOfRangeError:
                    continue
        await self.ip_allocator.range.repair(ips)
        await self.port_allocator.range.repair(ports)
