"""networking.k8s.io and discovery.k8s.io printers."""

from __future__ import annotations

from typing import Any

from .cells import (
    JSON,
    NONE,
    capped,
    dig,
    format_selector,
    items,
    load_balancer_addresses,
    mapping,
    name_of,
    text,
)
from .columns import AGE, NAME, Doc, string
from .duration import Ages
from .printer import Printer, Printers


def format_hosts(rules: list[Any]) -> str:
    """``formatHosts``: the first three rule hosts, "*" when none, then "+ N more..."."""
    limit = 3
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == limit:
            more = True
        if not more and text(rule, "host"):
            hosts.append(text(rule, "host"))
    if not hosts:
        return "*"
    joined = ",".join(hosts)
    # Upstream subtracts from the number of rules, hostless ones included.
    return f"{joined} + {len(rules) - limit} more..." if more else joined


def _ingress_address(ingress: JSON) -> str:
    # The server always prints wide, so addresses are never clipped here.
    return ",".join(load_balancer_addresses(dig(ingress, "status", "loadBalancer")))


def _ingress(obj: JSON, ages: Ages) -> list[Any]:
    return [
        name_of(obj),
        text(obj, "spec", "ingressClassName") or NONE,
        format_hosts(items(obj, "spec", "rules")),
        _ingress_address(obj),
        "80, 443" if items(obj, "spec", "tls") else "80",
        ages.of(obj),
    ]


def _ingress_class(obj: JSON, ages: Ages) -> list[Any]:
    parameters = NONE
    reference = dig(obj, "spec", "parameters")
    if isinstance(reference, dict):
        kind = text(reference, "kind")
        if "apiGroup" in reference and reference["apiGroup"] is not None:
            kind = f"{kind}.{reference['apiGroup']}"
        parameters = f"{kind}/{text(reference, 'name')}"
    return [name_of(obj), text(obj, "spec", "controller"), parameters, ages.of(obj)]


def _slice_ports(endpoint_slice: JSON) -> str:
    ports = []
    for port in items(endpoint_slice, "ports"):
        if port.get("port") is not None:
            ports.append(str(port["port"]))
        elif port.get("name") is not None:
            ports.append(str(port["name"]))
        else:
            ports.append("*")
    return capped(ports, len(ports))


def _slice_endpoints(endpoint_slice: JSON) -> str:
    addresses = [
        str(a) for endpoint in items(endpoint_slice, "endpoints") for a in items(endpoint, "addresses")
    ]
    return capped(addresses, len(addresses))


def _endpoint_slice(obj: JSON, ages: Ages) -> list[Any]:
    return [name_of(obj), text(obj, "addressType"), _slice_ports(obj), _slice_endpoints(obj), ages.of(obj)]


def _ip_address(obj: JSON, ages: Ages) -> list[Any]:
    parent = NONE
    reference = dig(obj, "spec", "parentRef")
    if isinstance(reference, dict):
        resource, group = text(reference, "resource"), text(reference, "group")
        parent = (f"{resource}.{group}" if group else resource).lower()
        if text(reference, "namespace"):
            parent += "/" + text(reference, "namespace")
        parent += "/" + text(reference, "name")
    return [name_of(obj), parent]


PRINTERS: Printers = {
    ("networking.k8s.io", "ingresses"): Printer(
        (
            NAME,
            string(
                "Class",
                "The name of the IngressClass resource that should be used for additional configuration",
            ),
            string("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
            string("Address", "Address is a list containing ingress points for the load-balancer"),
            string("Ports", "Ports of TLS configurations that open"),
            AGE,
        ),
        _ingress,
    ),
    ("networking.k8s.io", "ingressclasses"): Printer(
        (
            NAME,
            string("Controller", "Controller that is responsible for handling this class"),
            string("Parameters", "A reference to a resource with additional parameters"),
            AGE,
        ),
        _ingress_class,
    ),
    ("networking.k8s.io", "networkpolicies"): Printer(
        (NAME, string("Pod-Selector", Doc("networking.v1.NetworkPolicySpec", "podSelector")), AGE),
        lambda obj, ages: [
            name_of(obj),
            format_selector(mapping(obj, "spec", "podSelector")),
            ages.of(obj),
        ],
    ),
    ("networking.k8s.io", "servicecidrs"): Printer(
        (NAME, string("CIDRs", Doc("networking.v1.ServiceCIDRSpec", "cidrs")), AGE),
        lambda obj, ages: [name_of(obj), ",".join(map(str, items(obj, "spec", "cidrs"))), ages.of(obj)],
    ),
    ("networking.k8s.io", "ipaddresses"): Printer(
        (NAME, string("ParentRef", Doc("networking.v1.IPAddressSpec", "parentRef"))),
        # Upstream's row also carries an age its columns never show; it is left out here.
        _ip_address,
    ),
    ("discovery.k8s.io", "endpointslices"): Printer(
        (
            NAME,
            string("AddressType", Doc("discovery.v1.EndpointSlice", "addressType")),
            string("Ports", Doc("discovery.v1.EndpointSlice", "ports")),
            string("Endpoints", Doc("discovery.v1.EndpointSlice", "endpoints")),
            AGE,
        ),
        _endpoint_slice,
    ),
}
