"""Service rules (upstream ValidateService / ValidateServiceUpdate)."""

from __future__ import annotations

import ipaddress

from kubeplane.machinery.errors import Cause

from . import field as f
from . import names, pod
from ._access import JSON, lst, obj, objs, text

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _ports(spec: JSON, service_type: object) -> list[Cause]:
    causes: list[Cause] = []
    ports = objs(spec, "ports")
    seen: set[str] = set()
    for i, port in ports:
        path = f.index("spec.ports", i)
        name = text(port, "name")
        if len(ports) > 1 and not name:
            causes.append(f.required(f.child(path, "name")))
        if name:
            causes += f.invalid_all(f.child(path, "name"), name, names.dns1123_label(name))
            if name in seen:
                causes.append(f.duplicate(f.child(path, "name"), name))
            seen.add(name)
        number = port.get("port")
        if isinstance(number, int) and not isinstance(number, bool):
            causes += f.invalid_all(f.child(path, "port"), number, names.port_number(number))
        elif number is None:
            causes.append(f.required(f.child(path, "port")))
        causes += f.one_of(f.child(path, "protocol"), port.get("protocol"), pod.PROTOCOLS)
        target = port.get("targetPort")
        if target not in (None, 0, ""):
            causes += pod.port_reference(f.child(path, "targetPort"), target)
        node_port = port.get("nodePort")
        if node_port and service_type == "ClusterIP":
            causes.append(f.forbidden(f.child(path, "nodePort"), "may not be used when `type` is 'ClusterIP'"))
    return causes


def service(obj_: JSON, minor: str) -> list[Cause]:
    spec = obj(obj_, "spec")
    service_type = spec.get("type")
    causes = f.one_of("spec.type", service_type, SERVICE_TYPES)
    cluster_ip = text(spec, "clusterIP")
    headless = cluster_ip == "None"
    if not lst(spec, "ports") and not headless and service_type != "ExternalName":
        causes.append(f.required("spec.ports"))
    causes += _ports(spec, service_type)
    if service_type == "ExternalName":
        external_name = text(spec, "externalName")
        if not external_name:
            causes.append(f.required("spec.externalName"))
        else:
            causes += f.invalid_all("spec.externalName", external_name,
                                    names.dns1123_subdomain(external_name.removesuffix(".")))
        if cluster_ip:
            causes.append(f.forbidden("spec.clusterIP", "may not be set for ExternalName services"))
    elif cluster_ip and not headless and not _is_ip(cluster_ip):
        causes.append(f.invalid("spec.clusterIPs[0]", cluster_ip, IP_MSG))
    causes += f.one_of("spec.sessionAffinity", spec.get("sessionAffinity"), ("ClientIP", "None"))
    if service_type in ("NodePort", "LoadBalancer"):
        causes += f.one_of("spec.externalTrafficPolicy", spec.get("externalTrafficPolicy"), ("Cluster", "Local"),
                           required_when_empty=False)
    elif spec.get("externalTrafficPolicy"):
        causes.append(f.invalid("spec.externalTrafficPolicy", spec["externalTrafficPolicy"],
                                "may only be set for externally-accessible services"))
    causes += f.one_of("spec.internalTrafficPolicy", spec.get("internalTrafficPolicy"), ("Cluster", "Local"),
                       required_when_empty=False)
    causes += f.one_of("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"),
                       ("PreferDualStack", "RequireDualStack", "SingleStack"), required_when_empty=False)
    for i, family in enumerate(lst(spec, "ipFamilies")):
        causes += f.one_of(f.index("spec.ipFamilies", i), family, ("IPv4", "IPv6"))
    return causes


def service_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    new_spec, old_spec = obj(new, "spec"), obj(old, "spec")
    old_ip = text(old_spec, "clusterIP")
    # Changing to or from ExternalName releases or allocates the IP, so only then may it change.
    if old_ip and "ExternalName" not in (new_spec.get("type"), old_spec.get("type")):
        return f.immutable("spec.clusterIP", new_spec.get("clusterIP"), old_ip)
    return []
