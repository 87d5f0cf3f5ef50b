"""Defaults for core/v1 kinds other than Pod (upstream pkg/apis/core/v1/defaults.go)."""

from __future__ import annotations

from . import pod as pod_defaults
from ._util import JSON, child, items, setdefault, setdefault_if_empty


def service(obj: JSON, minor: str) -> None:
    spec = child(obj, "spec")
    if spec is None:
        return
    setdefault_if_empty(spec, "sessionAffinity", "None")
    setdefault_if_empty(spec, "type", "ClusterIP")
    service_type = spec.get("type")
    for port in items(spec, "ports"):
        setdefault_if_empty(port, "protocol", "TCP")
        # An unset IntOrString is Go's zero value (int 0); it defaults to the service port.
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if spec.get("sessionAffinity") == "ClientIP" and spec.get("sessionAffinityConfig") is None:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if service_type in ("NodePort", "LoadBalancer"):
        setdefault_if_empty(spec, "externalTrafficPolicy", "Cluster")
    if service_type == "LoadBalancer":
        setdefault(spec, "allocateLoadBalancerNodePorts", True)
    if service_type != "ExternalName":
        setdefault_if_empty(spec, "internalTrafficPolicy", "Cluster")
        _ip_families(spec)


def _ip_families(spec: JSON) -> None:
    # Upstream does this in the service REST storage, for a single-stack IPv4 cluster: headless
    # services without a selector prefer dual stack, everything else is single stack.
    headless_without_selector = spec.get("clusterIP") == "None" and not spec.get("selector")
    setdefault(spec, "ipFamilyPolicy", "PreferDualStack" if headless_without_selector else "SingleStack")
    if not spec.get("ipFamilies"):
        spec["ipFamilies"] = ["IPv4"]


def secret(obj: JSON, minor: str) -> None:
    setdefault_if_empty(obj, "type", "Opaque")


def namespace(obj: JSON, minor: str) -> None:
    meta = child(obj, "metadata")
    name = meta.get("name") if meta is not None else None
    if meta is not None and isinstance(name, str) and name:
        labels = child(meta, "labels", create=True)
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = name
    status = child(obj, "status", create=True)
    if status is not None:
        setdefault_if_empty(status, "phase", "Active")


def claim_spec(spec: JSON | None) -> None:
    if spec is not None:
        setdefault_if_empty(spec, "volumeMode", "Filesystem")


def persistent_volume_claim(obj: JSON, minor: str) -> None:
    claim_spec(child(obj, "spec"))
    status = child(obj, "status", create=True)
    if status is not None:
        setdefault_if_empty(status, "phase", "Pending")


def persistent_volume(obj: JSON, minor: str) -> None:
    spec = child(obj, "spec")
    if spec is not None:
        setdefault_if_empty(spec, "persistentVolumeReclaimPolicy", "Retain")
        setdefault_if_empty(spec, "volumeMode", "Filesystem")
    status = child(obj, "status", create=True)
    if status is not None:
        setdefault_if_empty(status, "phase", "Pending")


def replication_controller(obj: JSON, minor: str) -> None:
    spec = child(obj, "spec")
    if spec is None:
        return
    template = child(spec, "template")
    template_meta = child(template, "metadata") if template is not None else None
    template_labels = template_meta.get("labels") if template_meta is not None else None
    if isinstance(template_labels, dict) and template_labels:
        # The v1 API lets a controller omit its selector and labels: both come from the template.
        if not spec.get("selector"):
            spec["selector"] = dict(template_labels)
        meta = child(obj, "metadata", create=True)
        if meta is not None and not meta.get("labels"):
            meta["labels"] = dict(template_labels)
    setdefault(spec, "replicas", 1)
    pod_defaults.pod_template(template)


def pod_template(obj: JSON, minor: str) -> None:
    pod_defaults.pod_template(child(obj, "template"))


def endpoints(obj: JSON, minor: str) -> None:
    for subset in items(obj, "subsets"):
        for port in items(subset, "ports"):
            setdefault_if_empty(port, "protocol", "TCP")


def node(obj: JSON, minor: str) -> None:
    status = child(obj, "status")
    if status is not None and status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])
