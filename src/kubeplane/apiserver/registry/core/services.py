"""Services: the strategy that keeps a Service's type-dependent fields consistent when its ``type``
changes (upstream pkg/registry/core/service/strategy.go), and the store that allocates and releases
cluster IPs, node ports and health-check node ports (upstream pkg/registry/core/service/storage/alloc.go).

A Service is a discriminated union on ``spec.type``. On an update that moves to a type which no
longer needs a value the server filled in, and whose value the client sent back unchanged (what
``kubectl edit`` does), the value is dropped and what it held is released after the write; a value
the client changed is left for validation to refuse. Values a new type needs are allocated.
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
from kubeplane.apiserver.registry.store import Producer, Store
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.machinery import errors
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f
from kubeplane.storage.interface import ListOptions

JSON = dict[str, Any]
# One allocator holding: ("ip", "198.19.0.7"), ("port", 30080) or ("hcport", 31000).
Allocation = tuple[str, Any]

_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
_ALLOCATION_ERRORS = (OutOfRangeError, AlreadyAllocatedError, RangeFullError)


# -- what each type needs (upstream strategy.go's needs*/same* helpers) ---------------------------

def service_type(spec: JSON) -> str:
    return str(spec.get("type") or "ClusterIP")


def needs_cluster_ip(spec: JSON) -> bool:
    """needsClusterIP: every type but ExternalName has clusterIP/clusterIPs ("None" counts)."""
    return service_type(spec) != "ExternalName"


def needs_node_ports(spec: JSON) -> bool:
    """needsNodePort."""
    return service_type(spec) in _NODE_PORT_TYPES


def needs_health_check_node_port(spec: JSON) -> bool:
    """needsHCNodePort / apiservice.NeedsHealthCheck: a LoadBalancer with externalTrafficPolicy Local."""
    return service_type(spec) == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def needs_external_traffic_policy(spec: JSON) -> bool:
    """needsExternalTrafficPolicy."""
    return service_type(spec) in _NODE_PORT_TYPES


def is_load_balancer(spec: JSON) -> bool:
    """canSetLoadBalancerClass; also the only type allocateLoadBalancerNodePorts applies to."""
    return service_type(spec) == "LoadBalancer"


def is_headless(spec: JSON) -> bool:
    ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
    return ips[0] == "None"


def _ports(spec: JSON) -> list[JSON]:
    return [p for p in spec.get("ports") or () if isinstance(p, dict)]


def node_port_numbers(spec: JSON) -> list[int]:
    """collectServiceNodePorts: every non-zero nodePort, in port order."""
    return [p["nodePort"] for p in _ports(spec) if isinstance(p.get("nodePort"), int) and p["nodePort"]]


def same_cluster_ips(old: JSON, new: JSON) -> bool:
    return (old.get("clusterIP") or "") == (new.get("clusterIP") or "") and \
        list(old.get("clusterIPs") or ()) == list(new.get("clusterIPs") or ())


def same_node_ports(old: JSON, new: JSON) -> bool:
    """sameNodePorts: ports may be added, removed or changed as long as no net-new nodePort appears."""
    return set(node_port_numbers(new)) <= set(node_port_numbers(old))


def _same(old: JSON, new: JSON, key: str) -> bool:
    # Go compares an unset pointer, nil slice or zero value equal to itself, and "" to unset.
    return (old.get(key) or None) == (new.get(key) or None)


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
        if _has_type_errors(causes):
            return causes
        return f.dedupe(causes + type_dependent_causes(obj))

    def validate_update(self, ctx: RequestContext, new: JSON, old: JSON) -> list[Cause]:
        causes = super().validate_update(ctx, new, old)
        if _has_type_errors(causes):
            return causes
        return f.dedupe(type_dependent_update_causes(new, old) + causes + type_dependent_causes(new))


def _spec(obj: JSON) -> JSON:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _has_type_errors(causes: list[Cause]) -> bool:
    return any(c.type == f.TYPE_INVALID for c in causes)


def carry_allocated_values(new: JSON, old: JSON) -> None:
    """patchAllocatedValues: a client that replaces a Service without the values the server allocated
    (``kubectl replace`` of a hand-written manifest) keeps them while the type still needs them."""
    spec, old_spec = new.setdefault("spec", {}), _spec(old)
    if not isinstance(spec, dict):
        return
    if needs_cluster_ip(old_spec) and needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if needs_node_ports(old_spec) and needs_node_ports(spec):
        # Upstream maps node ports by port name: the client may have changed the rest of the port.
        by_name = {p.get("name") or "": p.get("nodePort") for p in _ports(old_spec)}
        for port in _ports(spec):
            if not port.get("nodePort") and by_name.get(port.get("name") or ""):
                port["nodePort"] = by_name[port.get("name") or ""]
    if needs_health_check_node_port(old_spec) and needs_health_check_node_port(spec) and \
            not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def normalize_cluster_ips(new: JSON, old: JSON) -> None:
    """NormalizeClusterIPs on update: work out what a client meant from clusterIP, which old clients
    set alone, and clusterIPs."""
    spec, old_spec = _spec(new), _spec(old)
    old_ip, new_ip = old_spec.get("clusterIP") or "", spec.get("clusterIP") or ""
    old_ips, new_ips = list(old_spec.get("clusterIPs") or ()), list(spec.get("clusterIPs") or ())
    if old_ips and not new_ips and old_ip == new_ip:
        # An old client that sent clusterIP only.
        spec["clusterIPs"] = new_ips = old_ips
    if old_ip == new_ip:
        return
    if old_ip and not new_ip:
        # Clearing clusterIP with clusterIPs untouched clears both (e.g. on a move to ExternalName).
        if new_ips == old_ips:
            spec.pop("clusterIPs", None)
    elif new_ips == old_ips:
        spec["clusterIPs"] = [new_ip]


def drop_type_dependent_fields(new: JSON, old: JSON) -> None:
    """dropTypeDependentFields: on an update, wipe what the new type does not use when the client did
    not also change it (a changed value is left for validation to refuse). Whatever was allocated for
    a wiped value is released by the store after the write."""
    spec, old_spec = _spec(new), _spec(old)
    if needs_cluster_ip(old_spec) and not needs_cluster_ip(spec):
        if same_cluster_ips(old_spec, spec):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if _same(old_spec, spec, "ipFamilies"):
            spec.pop("ipFamilies", None)
        if _same(old_spec, spec, "ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if needs_node_ports(old_spec) and not needs_node_ports(spec) and same_node_ports(old_spec, spec):
        for port in _ports(spec):
            port.pop("nodePort", None)
    if needs_health_check_node_port(old_spec) and not needs_health_check_node_port(spec) and \
            _same(old_spec, spec, "healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)
    if is_load_balancer(old_spec) and not is_load_balancer(spec):
        # Upstream wipes it only when both are set and equal (an explicit null is the client's choice).
        if spec.get("allocateLoadBalancerNodePorts") is not None and \
                spec.get("allocateLoadBalancerNodePorts") == old_spec.get("allocateLoadBalancerNodePorts"):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if _same(old_spec, spec, "loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
    if needs_external_traffic_policy(old_spec) and not needs_external_traffic_policy(spec) and \
            _same(old_spec, spec, "externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)
    # A load balancer's status goes with the type (its de-provisioning is the controller's business).
    # Upstream clears it on any update of a non-LoadBalancer; its status validation already refuses
    # ingress on those, so only a move away from LoadBalancer can leave one behind, which is when
    # this clears it (our status validation does not refuse it, and a status write must stay).
    status = new.get("status")
    if is_load_balancer(old_spec) and not is_load_balancer(spec) and isinstance(status, dict) and \
            "loadBalancer" in status:
        status["loadBalancer"] = {}


def type_dependent_causes(obj: JSON) -> list[Cause]:
    """The rules of upstream's ValidateService about fields that only some types may carry, which
    the shared Service validation does not check."""
    spec = _spec(obj)
    causes: list[Cause] = []
    if service_type(spec) == "ExternalName":
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if spec.get(key):
                causes.append(f.forbidden(f"spec.{key}", "may not be set for ExternalName services"))
    hc_port = spec.get("healthCheckNodePort")
    if hc_port and not needs_health_check_node_port(spec):
        causes.append(f.invalid("spec.healthCheckNodePort", hc_port,
                                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    if not is_load_balancer(spec):
        for key in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if spec.get(key) is not None:
                causes.append(f.forbidden(f"spec.{key}", "may only be used when `type` is 'LoadBalancer'"))
    return causes


def type_dependent_update_causes(new: JSON, old: JSON) -> list[Cause]:
    """validateServiceExternalTrafficFieldsUpdate and validateLoadBalancerClassField's update rule."""
    spec, old_spec = _spec(new), _spec(old)
    causes: list[Cause] = []
    if needs_health_check_node_port(old_spec) and needs_health_check_node_port(spec) and \
            not _same(old_spec, spec, "healthCheckNodePort"):
        causes.append(f.forbidden("spec.healthCheckNodePort", f.FIELD_IMMUTABLE))
    if is_load_balancer(old_spec) and is_load_balancer(spec) and not _same(old_spec, spec, "loadBalancerClass"):
        causes.append(f.invalid("spec.loadBalancerClass", spec.get("loadBalancerClass"), "may not change once set"))
    return causes


# -- store ---------------------------------------------------------------------------------------

def allocations_of(obj: JSON) -> list[Allocation]:
    """What a stored Service holds in the allocators. Only values its type uses count: a value a type
    does not use was never allocated for it (upstream releases by type as well)."""
    spec = _spec(obj)
    out: list[Allocation] = []
    if needs_cluster_ip(spec):
        ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
        out += [("ip", ip) for ip in ips if isinstance(ip, str) and ip and ip != "None"]
    if needs_node_ports(spec):
        out += [("port", port) for port in dict.fromkeys(node_port_numbers(spec))]
    hc_port = spec.get("healthCheckNodePort")
    if needs_health_check_node_port(spec) and isinstance(hc_port, int) and hc_port:
        out.append(("hcport", hc_port))
    return out


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
            for index, port in enumerate(_ports(spec)):
                if not port.get("nodePort") and not self._allocates_new_node_ports(spec):
                    continue
                shared = by_number.get(port.get("port"))
                if shared is None:
                    requested = next((p["nodePort"] for p in _ports(spec)[index:]
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
            for index, port in enumerate(_ports(spec)):
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
        spec, old_spec = new.setdefault("spec", {}), _spec(old)
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
