"""Services: the strategy that keeps a Service's type-dependent fields consistent when its ``type``
changes (upstream pkg/registry/core/service/strategy.go), and the store that allocates and releases
cluster IPs, node ports and health-check node ports (upstream pkg/registry/core/service/storage/alloc.go).

A Service is a discriminated union on ``spec.type``. On an update that moves to a type which no
longer needs a value the server filled in, and whose value the client sent back unchanged (what
``kubectl edit`` does), the value is dropped and what it held is released after the write; a value
the client changed is left for validation to refuse. Values a new type needs are allocated. The
rules about the fields themselves are pure functions in ``service_fields.py``.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

from kubeplane.apiserver.registry.allocator import (
    AlreadyAllocatedError,
    NodePortAllocator,
    OutOfRangeError,
    RangeFullError,
    ServiceIPAllocator,
)
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.core.service_fields import (
    Allocation,
    allocations_of,
    carry_allocated_values,
    drop_type_dependent_fields,
    has_type_errors,
    is_headless,
    needs_cluster_ip,
    needs_health_check_node_port,
    needs_node_ports,
    node_port_numbers,
    normalize_cluster_ips,
    ports_of,
    service_type,
    spec_of,
    type_dependent_causes,
    type_dependent_update_causes,
)
from kubeplane.apiserver.registry.store import Producer, Store
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.machinery import errors
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f
from kubeplane.storage.interface import ListOptions

JSON = dict[str, Any]
_ALLOCATION_ERRORS = (OutOfRangeError, AlreadyAllocatedError, RangeFullError)


# -- strategy ------------------------------------------------------------------------------------

class ServiceStrategy(Strategy):
    has_status_subresource = True
    return_deleted_object = True

    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        super().prepare_for_update(ctx, new, old)
        carry_allocated_values(new, old)
        normalize_cluster_ips(new, old)
        drop_type_dependent_fields(new, old)

    def validate(self, ctx: RequestContext, obj: JSON) -> list[Cause]:
        causes = super().validate(ctx, obj)
        if has_type_errors(causes):
            return causes
        return f.dedupe(causes + type_dependent_causes(obj))

    def validate_update(self, ctx: RequestContext, new: JSON, old: JSON) -> list[Cause]:
        causes = super().validate_update(ctx, new, old)
        if has_type_errors(causes):
            return causes
        return f.dedupe(type_dependent_update_causes(new, old) + causes + type_dependent_causes(new))


# -- store ---------------------------------------------------------------------------------------

@dataclass
class _UpdateAttempt:
    """One attempt of an update (the storage retries on conflict): what it allocated, and what the
    old object held that it no longer needs, released only once the write succeeded."""
    allocated: list[Allocation] = field(default_factory=list)
    to_release: list[Allocation] = field(default_factory=list)


@dataclass
class _UpdateTransaction:
    attempts: list[_UpdateAttempt] = field(default_factory=list)


_current_update: contextvars.ContextVar[_UpdateTransaction | None] = \
    contextvars.ContextVar("service_update", default=None)


class ServiceStore(Store):
    ip_allocator: ServiceIPAllocator
    port_allocator: NodePortAllocator

    def configure(self, ips: ServiceIPAllocator, ports: NodePortAllocator) -> ServiceStore:
        self.ip_allocator = ips
        self.port_allocator = ports
        return self

    # -- errors as upstream words them --------------------------------------------------------------
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

    def _port_detail(self, exc: Exception) -> str:
        if isinstance(exc, OutOfRangeError):
            rng = f"{self.port_allocator.base}-{self.port_allocator.base + self.port_allocator.size - 1}"
            return f"provided port is not in the valid range. The range of valid ports is {rng}"
        if isinstance(exc, AlreadyAllocatedError):
            return "provided port is already allocated"
        return "range is full"

    def _port_error(self, name: str, index: int, port: int, exc: Exception) -> errors.StatusError:
        if isinstance(exc, RangeFullError):
            return errors.internal("failed to allocate a nodePort: range is full")
        return errors.invalid("", "Service", name, [Cause(
            "FieldValueInvalid", f"Invalid value: {port}: {self._port_detail(exc)}",
            f"spec.ports[{index}].nodePort")])

    # -- allocation steps --------------------------------------------------------------------------
    async def _allocate_cluster_ip(self, name: str, spec: JSON, allocated: list[Allocation]) -> None:
        """allocClusterIPs: the requested address, or any free one; headless Services get none."""
        if is_headless(spec):
            spec["clusterIPs"] = ["None"]
            return
        requested = (spec.get("clusterIPs") or [spec.get("clusterIP")])[0] or None
        try:
            ip = await self.ip_allocator.allocate(requested)
        except _ALLOCATION_ERRORS as exc:
            raise self._ip_error(name, requested or "", exc) from exc
        allocated.append(("ip", ip))
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]

    async def _allocate_port(self, name: str, index: int, requested: int | None,
                             allocated: list[Allocation]) -> int:
        try:
            got = await self.port_allocator.allocate(requested)
        except _ALLOCATION_ERRORS as exc:
            raise self._port_error(name, index, requested or 0, exc) from exc
        allocated.append(("port", got))
        return got

    async def _allocate_health_check_port(self, spec: JSON, allocated: list[Allocation]) -> None:
        """allocHealthCheckNodePort: upstream answers a failure here with an internal error."""
        requested = spec.get("healthCheckNodePort") or None
        try:
            got = await self.port_allocator.allocate(requested)
        except _ALLOCATION_ERRORS as exc:
            if requested:
                raise errors.internal(f"failed to allocate requested HealthCheck NodePort {requested}: "
                                      f"{self._port_detail(exc)}") from exc
            raise errors.internal(f"failed to allocate a HealthCheck NodePort: {self._port_detail(exc)}") from exc
        allocated.append(("hcport", got))
        spec["healthCheckNodePort"] = got

    @staticmethod
    def _allocates_new_node_ports(spec: JSON) -> bool:
        """shouldAllocateNodePorts: a LoadBalancer may opt out (requested ports are still honoured)."""
        if service_type(spec) == "LoadBalancer":
            return spec.get("allocateLoadBalancerNodePorts") is not False
        return service_type(spec) == "NodePort"

    async def _allocate_for_create(self, obj: JSON, allocated: list[Allocation]) -> None:
        """allocateCreate."""
        name = obj["metadata"].get("name", "")
        spec = obj.setdefault("spec", {})
        if needs_cluster_ip(spec):
            await self._allocate_cluster_ip(name, spec, allocated)
        if needs_node_ports(spec):
            # initNodePorts: ports that share a number (53/TCP and 53/UDP) share a node port, the one
            # requested on any of them if any is.
            by_number: dict[Any, int] = {}
            for index, port in enumerate(ports_of(spec)):
                if not port.get("nodePort") and not self._allocates_new_node_ports(spec):
                    continue
                shared = by_number.get(port.get("port"))
                if shared is None:
                    requested = next((p["nodePort"] for p in ports_of(spec)[index:]
                                      if p.get("port") == port.get("port") and p.get("nodePort")), None)
                    port["nodePort"] = by_number[port.get("port")] = \
                        await self._allocate_port(name, index, requested, allocated)
                elif not port.get("nodePort"):
                    port["nodePort"] = shared
                elif port["nodePort"] != shared:
                    await self._allocate_port(name, index, port["nodePort"], allocated)
        if needs_health_check_node_port(spec):
            await self._allocate_health_check_port(spec, allocated)

    async def _update_cluster_ips(self, name: str, spec: JSON, old_spec: JSON, attempt: _UpdateAttempt) -> None:
        """updateClusterIPs: ExternalName to another type allocates, the reverse releases; otherwise
        the address is immutable (validation) and nothing moves."""
        if not needs_cluster_ip(old_spec) and needs_cluster_ip(spec):
            await self._allocate_cluster_ip(name, spec, attempt.allocated)
        elif needs_cluster_ip(old_spec) and not needs_cluster_ip(spec):
            attempt.to_release += [a for a in allocations_of({"spec": old_spec}) if a[0] == "ip"]

    async def _update_node_ports(self, name: str, spec: JSON, old_spec: JSON, attempt: _UpdateAttempt) -> None:
        """txnUpdateNodePorts / updateNodePorts."""
        held = node_port_numbers(old_spec) if needs_node_ports(old_spec) else []
        kept: list[int] = []
        if needs_node_ports(spec):
            for index, port in enumerate(ports_of(spec)):
                number = port.get("nodePort")
                if not number and not self._allocates_new_node_ports(spec):
                    continue
                if not number:
                    port["nodePort"] = await self._allocate_port(name, index, None, attempt.allocated)
                elif number not in held and number not in kept:
                    await self._allocate_port(name, index, number, attempt.allocated)
                kept.append(port["nodePort"])
        attempt.to_release += [("port", number) for number in dict.fromkeys(held) if number not in kept]

    async def _update_health_check_port(self, spec: JSON, old_spec: JSON, attempt: _UpdateAttempt) -> None:
        """updateHealthCheckNodePort (a change while both need one is refused by validation)."""
        needed, needs = needs_health_check_node_port(old_spec), needs_health_check_node_port(spec)
        if needs and not needed:
            await self._allocate_health_check_port(spec, attempt.allocated)
        elif needed and not needs and old_spec.get("healthCheckNodePort"):
            attempt.to_release.append(("hcport", old_spec["healthCheckNodePort"]))

    async def _release(self, allocations: list[Allocation]) -> None:
        for what, value in allocations:
            if what == "ip":
                await self.ip_allocator.release(value)
            else:
                await self.port_allocator.release(value)

    # -- store hooks -------------------------------------------------------------------------------
    async def before_create(self, ctx: RequestContext, obj: JSON) -> None:
        allocated: list[Allocation] = []
        try:
            await self._allocate_for_create(obj, allocated)
        except BaseException:
            await self._release(allocated)
            raise
        if ctx.dry_run:
            await self._release(allocated)

    async def rollback_create(self, ctx: RequestContext, obj: JSON) -> None:
        if not ctx.dry_run:
            await self._release(allocations_of(obj))

    async def update(self, ctx: RequestContext, name: str, produce: Producer,
                     strategy: Strategy | None = None) -> tuple[JSON, bool]:
        """Releases what the old object held only after the write succeeded (upstream's commit), and
        what an attempt allocated when its write did not happen (upstream's revert)."""
        transaction = _UpdateTransaction()
        token = _current_update.set(transaction)
        try:
            result = await super().update(ctx, name, produce, strategy)
        except BaseException:
            if transaction.attempts:
                await self._release(transaction.attempts[-1].allocated)
            raise
        finally:
            _current_update.reset(token)
        if transaction.attempts and not ctx.dry_run:
            await self._release(transaction.attempts[-1].to_release)
        return result

    async def before_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        transaction = _current_update.get()
        if transaction is None:  # called outside update(): keep the attempts to ourselves
            transaction = _UpdateTransaction()
        if transaction.attempts:
            # The storage retries after a conflict: the previous attempt's write never happened.
            await self._release(transaction.attempts[-1].allocated)
        attempt = _UpdateAttempt()
        transaction.attempts.append(attempt)
        name = new["metadata"].get("name", "")
        spec, old_spec = new.setdefault("spec", {}), spec_of(old)
        try:
            await self._update_cluster_ips(name, spec, old_spec, attempt)
            await self._update_node_ports(name, spec, old_spec, attempt)
            await self._update_health_check_port(spec, old_spec, attempt)
        except BaseException:
            await self._release(attempt.allocated)
            attempt.allocated.clear()
            raise
        if ctx.dry_run:
            # A dry run shows the values but keeps nothing.
            await self._release(attempt.allocated)
            attempt.allocated.clear()

    async def after_delete(self, ctx: RequestContext, obj: JSON) -> None:
        await self._release(allocations_of(obj))

    async def repair(self) -> None:
        result = await self.storage.get_list(self.prefix(""), ListOptions())
        ips: set[int] = set()
        ports: set[int] = set()
        for svc in result.items:
            for what, value in allocations_of(svc):
                try:
                    if what == "ip":
                        ips.add(self.ip_allocator.offset(value))
                    else:
                        ports.add(self.port_allocator.offset(value))
                except OutOfRangeError:
                    continue
        await self.ip_allocator.range.repair(ips)
        await self.port_allocator.range.repair(ports)
