"""Domain-name helpers shared by the record builder and the resolver.

Names are kept as lower-case text without the trailing dot (``web.default.svc.cluster.local``):
the Kubernetes DNS specification makes every comparison case-insensitive, and plain strings make
the record index a dict lookup. The wire layer (``wire.py``) adds the dot back.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def normalize(name: str) -> str:
    """``Web.Default.SVC.cluster.local.`` -> ``web.default.svc.cluster.local``."""
    return name.rstrip(".").lower()


def is_subdomain(name: str, domain: str) -> bool:
    """Whether ``name`` is ``domain`` or lies under it (both normalized)."""
    return name == domain or name.endswith("." + domain)


def relative_labels(name: str, domain: str) -> list[str]:
    """The labels of ``name`` left of ``domain`` (``name`` must be under it)."""
    if name == domain:
        return []
    return name[: -len(domain) - 1].split(".")


def ancestors(name: str, domain: str) -> list[str]:
    """The names strictly between ``name`` and ``domain``, nearest first. Those names exist in the
    zone as empty non-terminals once ``name`` has a record, so they answer NODATA, not NXDOMAIN."""
    out: list[str] = []
    labels = relative_labels(name, domain)
    for cut in range(1, len(labels)):
        out.append(".".join(labels[cut:]) + "." + domain)
    return out


def parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def reverse_name(address: str) -> str:
    """``10.0.0.1`` -> ``1.0.0.10.in-addr.arpa`` (and nibbles under ip6.arpa for IPv6)."""
    return ipaddress.ip_address(address).reverse_pointer.lower()


def dashed(address: str) -> str:
    """An address as one DNS label: ``10.0.0.1`` -> ``10-0-0-1``, ``fd00::1`` -> ``fd00--1``.
    Used as the system-assigned hostname of an endpoint that has none (as CoreDNS does)."""
    return address.replace(".", "-").replace(":", "-")


def undash(label: str) -> IPAddress | None:
    """The address a pod-record label spells (``10-0-0-1``, ``fd00--1``), or None.

    A label with exactly three dashes is read as IPv4 and anything else with dashes as IPv6; the
    canonical text must round-trip, so ``010-0-0-1`` is not an address (no leading zeros)."""
    if "-" not in label:
        return None
    if label.count("-") == 3:
        address = parse_ip(label.replace("-", "."))
        return address if address is not None and dashed(str(address)) == label else None
    address = parse_ip(label.replace("-", ":"))
    if address is None or address.version != 6:
        return None
    return address
