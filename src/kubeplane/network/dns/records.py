"""The records one Service yields, per the Kubernetes DNS specification (schema 1.1.0).

Pure functions over the Service and its EndpointSlices as JSON dicts:

* ClusterIP Services: ``<svc>.<ns>.svc.<zone>`` A/AAAA for each ClusterIP, a PTR back from each
  address, and for each *named* port an SRV ``_<port>._<proto>.<svc>...`` pointing at the Service.
* Headless Services (``clusterIP: None``): A/AAAA at the Service name for every ready endpoint
  address, ``<hostname>.<svc>...`` for each endpoint (its ``hostname`` field, which the
  EndpointSlice controller fills from a pod's ``hostname``/``subdomain``, else the dashed address
  as CoreDNS does), SRV per named endpoint port and endpoint, and PTRs to the endpoint names.
* ExternalName Services: a CNAME to the external name.

An endpoint is ready when its ``ready`` condition is not false (unset means ready, per the
EndpointSlice API), or when the Service publishes not-ready addresses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubeplane.network.dns.names import dashed, normalize, parse_ip, reverse_name

JSON = dict[str, Any]

A, AAAA, CNAME, PTR, SRV, TXT, SOA, NS = "A", "AAAA", "CNAME", "PTR", "SRV", "TXT", "SOA", "NS"

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Weight shared out among a name's SRV targets (RFC 2782 leaves the numbers to us; the spec too).
SRV_TOTAL_WEIGHT = 100


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Record:
    """One resource record: ``value`` is an address (A/AAAA), a name (CNAME/PTR/NS), text (TXT)
    or an Srv. Names are normalized (lower case, no trailing dot)."""

    name: str
    rtype: str
    value: str | Srv


def address_record(name: str, address: str) -> Record | None:
    parsed = parse_ip(address)
    if parsed is None:
        return None
    return Record(name, A if parsed.version == 4 else AAAA, str(parsed))


def service_domain(name: str, namespace: str, zone: str) -> str:
    return normalize(f"{name}.{namespace}.svc.{zone}")


def is_headless(service: JSON) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def cluster_ips(service: JSON) -> list[str]:
    spec = service.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [ip for ip in ips if ip != "None"]


def _srv_name(port: JSON, base: str) -> str | None:
    name = port.get("name")
    if not name:
        return None  # unnamed ports have no SRV record
    return normalize(f"_{name}._{str(port.get('protocol') or 'TCP').lower()}.{base}")


def _srv_records(targets: dict[str, list[tuple[int, str]]]) -> list[Record]:
    """SRV records for ``{srv name: [(port, target), ...]}``, the weight spread over the targets."""
    out: list[Record] = []
    for name, entries in targets.items():
        unique = list(dict.fromkeys(entries))
        weight = max(1, SRV_TOTAL_WEIGHT // len(unique))
        out.extend(Record(name, SRV, Srv(0, weight, port, target)) for port, target in unique)
    return out


def endpoint_ready(endpoint: JSON, publish_not_ready: bool) -> bool:
    if publish_not_ready:
        return True
    return (endpoint.get("conditions") or {}).get("ready") is not False


def ready_endpoints(service: JSON, slices: Iterable[JSON]) -> list[tuple[JSON, JSON]]:
    """(slice, endpoint) for every ready IP endpoint of the Service's slices."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    out: list[tuple[JSON, JSON]] = []
    for endpoint_slice in slices:
        if endpoint_slice.get("addressType") not in ("IPv4", "IPv6"):
            continue  # FQDN slices are not addresses DNS can serve
        for endpoint in endpoint_slice.get("endpoints") or []:
            if endpoint_ready(endpoint, publish):
                out.append((endpoint_slice, endpoint))
    return out


def _cluster_ip_records(service: JSON, base: str) -> list[Record]:
    out: list[Record] = []
    for ip in cluster_ips(service):
        record = address_record(base, ip)
        if record is not None:
            out.append(record)
            out.append(Record(reverse_name(ip), PTR, base))
    targets: dict[str, list[tuple[int, str]]] = {}
    for port in (service.get("spec") or {}).get("ports") or []:
        srv_name = _srv_name(port, base)
        if srv_name is not None and port.get("port"):
            targets.setdefault(srv_name, []).append((int(port["port"]), base))
    return out + _srv_records(targets)


def _headless_records(service: JSON, slices: Iterable[JSON], base: str) -> list[Record]:
    out: list[Record] = []
    targets: dict[str, list[tuple[int, str]]] = {}
    for endpoint_slice, endpoint in ready_endpoints(service, slices):
        for address in endpoint.get("addresses") or []:
            hostname = normalize(endpoint.get("hostname") or dashed(address))
            endpoint_name = f"{hostname}.{base}"
            at_service = address_record(base, address)
            if at_service is None:
                continue
            out.append(at_service)
            out.append(Record(endpoint_name, at_service.rtype, at_service.value))
            out.append(Record(reverse_name(address), PTR, endpoint_name))
            # Headless SRV records carry the endpoint's own port (the target port), as CoreDNS
            # does: there is no virtual IP translating the Service port.
            for port in endpoint_slice.get("ports") or []:
                srv_name = _srv_name(port, base)
                if srv_name is not None and port.get("port"):
                    targets.setdefault(srv_name, []).append((int(port["port"]), endpoint_name))
    return out + _srv_records(targets)


def service_records(service: JSON, slices: Iterable[JSON], zone: str) -> list[Record]:
    """Every record the Service contributes, without duplicates, in a stable order."""
    metadata = service.get("metadata") or {}
    base = service_domain(metadata.get("name", ""), metadata.get("namespace", ""), zone)
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        external = normalize(spec.get("externalName") or "")
        return [Record(base, CNAME, external)] if external else []
    records = _headless_records(service, slices, base) if is_headless(service) \
        else _cluster_ip_records(service, base)
    return list(dict.fromkeys(records))
