"""A Service's type-dependent fields, as upstream's pkg/registry/core/service/strategy.go keeps
them: what each ``spec.type`` needs, the values an update carries over or drops when the type
changes, and the validation upstream adds for those fields. Pure functions over plain dicts; the
strategy and the allocating store (``services.py``) use them."""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f

JSON = dict[str, Any]
# One allocator holding: ("ip", "198.19.0.7"), ("port", 30080) or ("hcport", 31000).
Allocation = tuple[str, Any]

_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


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


def ports_of(spec: JSON) -> list[JSON]:
    return [p for p in spec.get("ports") or () if isinstance(p, dict)]


def node_port_numbers(spec: JSON) -> list[int]:
    """collectServiceNodePorts: every non-zero nodePort, in port order."""
    return [p["nodePort"] for p in ports_of(spec) if isinstance(p.get("nodePort"), int) and p["nodePort"]]


def same_cluster_ips(old: JSON, new: JSON) -> bool:
    return (old.get("clusterIP") or "") == (new.get("clusterIP") or "") and \
        list(old.get("clusterIPs") or ()) == list(new.get("clusterIPs") or ())


def same_node_ports(old: JSON, new: JSON) -> bool:
    """sameNodePorts: ports may be added, removed or changed as long as no net-new nodePort appears."""
    return set(node_port_numbers(new)) <= set(node_port_numbers(old))


def _same(old: JSON, new: JSON, key: str) -> bool:
    # Go compares an unset pointer, nil slice or zero value equal to itself, and "" to unset.
    return (old.get(key) or None) == (new.get(key) or None)


def spec_of(obj: JSON) -> JSON:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def has_type_errors(causes: list[Cause]) -> bool:
    return any(c.type == f.TYPE_INVALID for c in causes)


def carry_allocated_values(new: JSON, old: JSON) -> None:
    """patchAllocatedValues: a client that replaces a Service without the values the server allocated
    (``kubectl replace`` of a hand-written manifest) keeps them while the type still needs them."""
    spec, old_spec = new.setdefault("spec", {}), spec_of(old)
    if not isinstance(spec, dict):
        return
    if needs_cluster_ip(old_spec) and needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if needs_node_ports(old_spec) and needs_node_ports(spec):
        # Upstream maps node ports by port name: the client may have changed the rest of the port.
        by_name = {p.get("name") or "": p.get("nodePort") for p in ports_of(old_spec)}
        for port in ports_of(spec):
            if not port.get("nodePort") and by_name.get(port.get("name") or ""):
                port["nodePort"] = by_name[port.get("name") or ""]
    if needs_health_check_node_port(old_spec) and needs_health_check_node_port(spec) and \
            not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def normalize_cluster_ips(new: JSON, old: JSON) -> None:
    """NormalizeClusterIPs on update: work out what a client meant from clusterIP, which old clients
    set alone, and clusterIPs."""
    spec, old_spec = spec_of(new), spec_of(old)
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
    spec, old_spec = spec_of(new), spec_of(old)
    if needs_cluster_ip(old_spec) and not needs_cluster_ip(spec):
        if same_cluster_ips(old_spec, spec):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if _same(old_spec, spec, "ipFamilies"):
            spec.pop("ipFamilies", None)
        if _same(old_spec, spec, "ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if needs_node_ports(old_spec) and not needs_node_ports(spec) and same_node_ports(old_spec, spec):
        for port in ports_of(spec):
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
    spec = spec_of(obj)
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
    spec, old_spec = spec_of(new), spec_of(old)
    causes: list[Cause] = []
    if needs_health_check_node_port(old_spec) and needs_health_check_node_port(spec) and \
            not _same(old_spec, spec, "healthCheckNodePort"):
        causes.append(f.forbidden("spec.healthCheckNodePort", f.FIELD_IMMUTABLE))
    if is_load_balancer(old_spec) and is_load_balancer(spec) and not _same(old_spec, spec, "loadBalancerClass"):
        causes.append(f.invalid("spec.loadBalancerClass", spec.get("loadBalancerClass"), "may not change once set"))
    return causes


def allocations_of(obj: JSON) -> list[Allocation]:
    """What a stored Service holds in the allocators. Only values its type uses count: a value a type
    does not use was never allocated for it (upstream releases by type as well)."""
    spec = spec_of(obj)
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
