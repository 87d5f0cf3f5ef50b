"""Core-group printers other than pods and events."""

from __future__ import annotations

import ipaddress
from typing import Any

from .cells import (
    JSON,
    NONE,
    UNSET,
    containers_and_images,
    count,
    dig,
    format_labels,
    items,
    load_balancer_addresses,
    mapping,
    name_of,
    text,
)
from .columns import AGE, CONTAINERS_WIDE, IMAGES_WIDE, NAME, Doc, integer, selector_wide, string
from .duration import Ages
from .printer import Printer, Printers

_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
_LEGACY_NODE_ROLE_LABEL = "kubernetes.io/role"
_BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
_ACCESS_MODE_ABBREVIATIONS = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def _pod_templates(obj: JSON, ages: Ages) -> list[Any]:
    names, images = containers_and_images(items(obj, "template", "spec", "containers"))
    return [name_of(obj), names, images, format_labels(mapping(obj, "template", "metadata", "labels"))]


def _replication_controller(obj: JSON, ages: Ages) -> list[Any]:
    names, images = containers_and_images(items(obj, "spec", "template", "spec", "containers"))
    return [
        name_of(obj),
        count(obj, "spec", "replicas"),
        count(obj, "status", "replicas"),
        count(obj, "status", "readyReplicas"),
        ages.of(obj),
        names,
        images,
        format_labels(mapping(obj, "spec", "selector")),
    ]


def _service_external_ip(service: JSON) -> str:
    service_type = text(service, "spec", "type")
    external_ips = [str(ip) for ip in items(service, "spec", "externalIPs")]
    if service_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) or NONE
    if service_type == "LoadBalancer":
        # The server always prints wide, so addresses are never clipped here.
        addresses = load_balancer_addresses(dig(service, "status", "loadBalancer"))
        return ",".join(addresses + external_ips) or "<pending>"
    if service_type == "ExternalName":
        return text(service, "spec", "externalName")
    return "<unknown>"


def _service_ports(service: JSON) -> str:
    pieces = []
    for port in items(service, "spec", "ports"):
        protocol = text(port, "protocol")
        node_port = count(port, "nodePort")
        if node_port > 0:
            pieces.append(f"{count(port, 'port')}:{node_port}/{protocol}")
        else:
            pieces.append(f"{count(port, 'port')}/{protocol}")
    return ",".join(pieces) or NONE


def _service(obj: JSON, ages: Ages) -> list[Any]:
    cluster_ips = items(obj, "spec", "clusterIPs")
    cluster_ip = str(cluster_ips[0]) if cluster_ips else text(obj, "spec", "clusterIP")
    return [
        name_of(obj),
        text(obj, "spec", "type"),
        cluster_ip or NONE,
        _service_external_ip(obj),
        _service_ports(obj),
        ages.of(obj),
        format_labels(mapping(obj, "spec", "selector")),
    ]


def _host_port(ip: str, port: int) -> str:
    """``net.JoinHostPort``: IPv6 literals get brackets."""
    try:
        is_v6 = isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address)
    except ValueError:
        is_v6 = ":" in ip
    return f"[{ip}]:{port}" if is_v6 else f"{ip}:{port}"


def format_endpoints(endpoints: JSON) -> str:
    """``formatEndpoints``: up to three ``ip:port`` pairs, then "+ N more..."."""
    subsets = items(endpoints, "subsets")
    if not subsets:
        return NONE
    shown: list[str] = []
    total = 0
    limit = 3
    for subset in subsets:
        addresses = [text(address, "ip") for address in items(subset, "addresses")]
        ports = items(subset, "ports")
        if not ports:
            # Headless services may publish addresses without ports.
            total += len(addresses)
            shown.extend(addresses[: max(0, limit - len(shown))])
            continue
        for port in ports:
            total += len(addresses)
            pairs = [_host_port(ip, count(port, "port")) for ip in addresses]
            shown.extend(pairs[: max(0, limit - len(shown))])
    joined = ",".join(shown)
    return f"{joined} + {total - limit} more..." if total > limit else joined


def _endpoints(obj: JSON, ages: Ages) -> list[Any]:
    return [name_of(obj), format_endpoints(obj), ages.of(obj)]


def node_roles(node: JSON) -> list[str]:
    roles = set()
    for key, value in mapping(node, "metadata", "labels").items():
        if key.startswith(_NODE_ROLE_PREFIX) and key[len(_NODE_ROLE_PREFIX) :]:
            roles.add(key[len(_NODE_ROLE_PREFIX) :])
        elif key == _LEGACY_NODE_ROLE_LABEL and value:
            roles.add(str(value))
    return sorted(roles)


def _node_status(node: JSON) -> str:
    status = []
    ready = next((c for c in items(node, "status", "conditions") if c.get("type") == "Ready"), None)
    if ready is not None:
        status.append("Ready" if ready.get("status") == "True" else "NotReady")
    else:
        status.append("Unknown")
    if dig(node, "spec", "unschedulable") is True:
        status.append("SchedulingDisabled")
    return ",".join(status)


def _node_address(node: JSON, address_type: str) -> str:
    for address in items(node, "status", "addresses"):
        if address.get("type") == address_type:
            return text(address, "address")
    return NONE


def _node(obj: JSON, ages: Ages) -> list[Any]:
    info = mapping(obj, "status", "nodeInfo")
    return [
        name_of(obj),
        _node_status(obj),
        ",".join(node_roles(obj)) or NONE,
        ages.of(obj),
        text(info, "kubeletVersion"),
        _node_address(obj, "InternalIP"),
        _node_address(obj, "ExternalIP"),
        text(info, "osImage") or "<unknown>",
        text(info, "kernelVersion") or "<unknown>",
        text(info, "containerRuntimeVersion") or "<unknown>",
    ]


def access_modes(modes: list[Any]) -> str:
    """``GetAccessModesAsString``: abbreviations in a fixed order, duplicates dropped."""
    return ",".join(short for mode, short in _ACCESS_MODE_ABBREVIATIONS if mode in modes)


def _quantity(resources: JSON, name: str) -> str:
    # A missing quantity prints as Go's zero Quantity does.
    value = resources.get(name)
    return str(value) if value is not None else "0"


def _terminating_phase(obj: JSON) -> str:
    if dig(obj, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    return text(obj, "status", "phase")


def _storage_class(obj: JSON) -> str:
    annotations = mapping(obj, "metadata", "annotations")
    if _BETA_STORAGE_CLASS_ANNOTATION in annotations:
        return str(annotations[_BETA_STORAGE_CLASS_ANNOTATION])
    return text(obj, "spec", "storageClassName")


def _persistent_volume(obj: JSON, ages: Ages) -> list[Any]:
    claim = dig(obj, "spec", "claimRef")
    claim_ref = f"{text(claim, 'namespace')}/{text(claim, 'name')}" if claim is not None else ""
    return [
        name_of(obj),
        _quantity(mapping(obj, "spec", "capacity"), "storage"),
        access_modes(items(obj, "spec", "accessModes")),
        text(obj, "spec", "persistentVolumeReclaimPolicy"),
        _terminating_phase(obj),
        claim_ref,
        _storage_class(obj),
        text(obj, "spec", "volumeAttributesClassName") or UNSET,
        text(obj, "status", "reason"),
        ages.of(obj),
        text(obj, "spec", "volumeMode") or UNSET,
    ]


def _persistent_volume_claim(obj: JSON, ages: Ages) -> list[Any]:
    bound = bool(text(obj, "spec", "volumeName"))
    return [
        name_of(obj),
        _terminating_phase(obj),
        text(obj, "spec", "volumeName"),
        _quantity(mapping(obj, "status", "capacity"), "storage") if bound else "",
        access_modes(items(obj, "status", "accessModes")) if bound else "",
        _storage_class(obj),
        text(obj, "spec", "volumeAttributesClassName") or UNSET,
        ages.of(obj),
        text(obj, "spec", "volumeMode") or UNSET,
    ]


def _resource_quota(obj: JSON, ages: Ages) -> list[Any]:
    hard = mapping(obj, "status", "hard")
    used = mapping(obj, "status", "used")
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        column = limits if resource.split(".")[0] == "limits" and "." in resource else requests
        column.append(f"{resource}: {_quantity(used, resource)}/{hard[resource]}")
    return [name_of(obj), ", ".join(requests), ", ".join(limits), ages.of(obj)]


def _component_status(obj: JSON, ages: Ages) -> list[Any]:
    status, message, error = "Unknown", "", ""
    for condition in items(obj, "conditions"):
        if condition.get("type") == "Healthy":
            status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            message, error = text(condition, "message"), text(condition, "error")
            break
    return [name_of(obj), status, message, error]


_TEMPLATE_COLUMNS = (CONTAINERS_WIDE, IMAGES_WIDE)

PRINTERS: Printers = {
    ("", "podtemplates"): Printer(
        (
            NAME,
            string("Containers", "Names of each container in the template."),
            string("Images", "Images referenced by each container in the template."),
            string("Pod Labels", "The labels for the pod template."),
        ),
        _pod_templates,
    ),
    ("", "replicationcontrollers"): Printer(
        (
            NAME,
            integer("Desired", Doc("core.v1.ReplicationControllerSpec", "replicas")),
            integer("Current", Doc("core.v1.ReplicationControllerStatus", "replicas")),
            integer("Ready", Doc("core.v1.ReplicationControllerStatus", "readyReplicas")),
            AGE,
            *_TEMPLATE_COLUMNS,
            selector_wide(Doc("core.v1.ReplicationControllerSpec", "selector")),
        ),
        _replication_controller,
    ),
    ("", "services"): Printer(
        (
            NAME,
            string("Type", Doc("core.v1.ServiceSpec", "type")),
            string("Cluster-IP", Doc("core.v1.ServiceSpec", "clusterIP")),
            string("External-IP", Doc("core.v1.ServiceSpec", "externalIPs")),
            string("Port(s)", Doc("core.v1.ServiceSpec", "ports")),
            AGE,
            selector_wide(Doc("core.v1.ServiceSpec", "selector")),
        ),
        _service,
    ),
    ("", "endpoints"): Printer(
        (NAME, string("Endpoints", Doc("core.v1.Endpoints", "subsets")), AGE),
        _endpoints,
    ),
    ("", "nodes"): Printer(
        (
            NAME,
            string("Status", "The status of the node"),
            string("Roles", "The roles of the node"),
            AGE,
            string("Version", Doc("core.v1.NodeSystemInfo", "kubeletVersion")),
            string("Internal-IP", Doc("core.v1.NodeStatus", "addresses"), wide=True),
            string("External-IP", Doc("core.v1.NodeStatus", "addresses"), wide=True),
            string("OS-Image", Doc("core.v1.NodeSystemInfo", "osImage"), wide=True),
            string("Kernel-Version", Doc("core.v1.NodeSystemInfo", "kernelVersion"), wide=True),
            string("Container-Runtime", Doc("core.v1.NodeSystemInfo", "containerRuntimeVersion"), wide=True),
        ),
        _node,
    ),
    ("", "namespaces"): Printer(
        (NAME, string("Status", "The status of the namespace"), AGE),
        lambda obj, ages: [name_of(obj), text(obj, "status", "phase"), ages.of(obj)],
    ),
    ("", "secrets"): Printer(
        (
            NAME,
            string("Type", Doc("core.v1.Secret", "type")),
            string("Data", Doc("core.v1.Secret", "data")),
            AGE,
        ),
        lambda obj, ages: [name_of(obj), text(obj, "type"), len(mapping(obj, "data")), ages.of(obj)],
    ),
    ("", "serviceaccounts"): Printer(
        (NAME, string("Secrets", Doc("core.v1.ServiceAccount", "secrets")), AGE),
        lambda obj, ages: [name_of(obj), len(items(obj, "secrets")), ages.of(obj)],
    ),
    ("", "configmaps"): Printer(
        (NAME, string("Data", Doc("core.v1.ConfigMap", "data")), AGE),
        lambda obj, ages: [
            name_of(obj),
            len(mapping(obj, "data")) + len(mapping(obj, "binaryData")),
            ages.of(obj),
        ],
    ),
    ("", "persistentvolumes"): Printer(
        (
            NAME,
            string("Capacity", Doc("core.v1.PersistentVolumeSpec", "capacity")),
            string("Access Modes", Doc("core.v1.PersistentVolumeSpec", "accessModes")),
            string("Reclaim Policy", Doc("core.v1.PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
            string("Status", Doc("core.v1.PersistentVolumeStatus", "phase")),
            string("Claim", Doc("core.v1.PersistentVolumeSpec", "claimRef")),
            string("StorageClass", "StorageClass of the pv"),
            string("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
            string("Reason", Doc("core.v1.PersistentVolumeStatus", "reason")),
            AGE,
            string("VolumeMode", Doc("core.v1.PersistentVolumeSpec", "volumeMode"), wide=True),
        ),
        _persistent_volume,
    ),
    ("", "persistentvolumeclaims"): Printer(
        (
            NAME,
            string("Status", Doc("core.v1.PersistentVolumeClaimStatus", "phase")),
            string("Volume", Doc("core.v1.PersistentVolumeClaimSpec", "volumeName")),
            string("Capacity", Doc("core.v1.PersistentVolumeClaimStatus", "capacity")),
            string("Access Modes", Doc("core.v1.PersistentVolumeClaimStatus", "accessModes")),
            string("StorageClass", "StorageClass of the pvc"),
            string("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
            AGE,
            string("VolumeMode", Doc("core.v1.PersistentVolumeClaimSpec", "volumeMode"), wide=True),
        ),
        _persistent_volume_claim,
    ),
    ("", "resourcequotas"): Printer(
        (
            NAME,
            string(
                "Request",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            string(
                "Limit",
                "Limits control the maximum amount of cpu/memory that a container may use independent "
                "of contention on the node.",
            ),
            AGE,
        ),
        _resource_quota,
    ),
    ("", "componentstatuses"): Printer(
        (
            NAME,
            string("Status", "Status of the component conditions"),
            string("Message", "Message of the component conditions"),
            string("Error", "Error of the component conditions"),
        ),
        _component_status,
    ),
}
