"""A pod's DNS configuration (nameservers, search paths, options), as upstream's dns configurer.

ClusterFirst pods resolve through the cluster DNS with ``<ns>.svc.<domain>``, ``svc.<domain>``
and ``<domain>`` ahead of the node's own search paths and ``ndots:5``; Default pods get the
node's resolv.conf; None pods only their ``dnsConfig``. A pod's ``dnsConfig`` is merged last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSON = dict[str, Any]

MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_LINE_CHARS = 2048
CLUSTER_NDOTS = "ndots:5"


@dataclass(frozen=True)
class ResolvConf:
    nameservers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


def parse_resolv_conf(text: str) -> ResolvConf:
    out = ResolvConf()
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            out.nameservers.append(words[1])
        elif words[0] in ("search", "domain"):
            out.searches[:] = words[1:]  # the last search/domain line wins, as in the resolver
        elif words[0] == "options":
            out.options.extend(words[1:])
    return out


def read_resolv_conf(path: Path | None) -> ResolvConf:
    if path is None:
        return ResolvConf()
    try:
        return parse_resolv_conf(path.read_text())
    except OSError:
        return ResolvConf()


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def _merge_options(base: list[str], extra: list[JSON]) -> list[str]:
    # An option set in the pod's dnsConfig replaces the same-named one (ndots:5 -> ndots:2).
    merged: dict[str, str] = {}
    for option in base:
        merged[option.split(":", 1)[0]] = option
    for entry in extra:
        name = str(entry.get("name") or "")
        if name:
            value = entry.get("value")
            merged[name] = f"{name}:{value}" if value is not None else name
    return list(merged.values())


def _trim_searches(searches: list[str]) -> list[str]:
    kept: list[str] = []
    length = 0
    for search in searches[:MAX_SEARCH_PATHS]:
        if length + len(search) + (1 if kept else 0) > MAX_SEARCH_LINE_CHARS:
            break
        length += len(search) + (1 if kept else 0)
        kept.append(search)
    return kept


def effective_policy(spec: JSON, cluster_dns: list[str]) -> str:
    policy = str(spec.get("dnsPolicy") or "ClusterFirst")
    host_network = bool(spec.get("hostNetwork"))
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    elif policy == "ClusterFirst" and host_network:
        policy = "Default"  # a host-network pod asked for ClusterFirst gets the node's DNS
    if policy == "ClusterFirst" and not cluster_dns:
        policy = "Default"  # upstream falls back (with a warning event) when no cluster DNS is set
    return policy


def pod_dns(pod: JSON, cluster_dns: list[str], cluster_domain: str, host: ResolvConf) -> ResolvConf:
    spec = pod.get("spec") or {}
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    policy = effective_policy(spec, cluster_dns)
    if policy == "None":
        nameservers: list[str] = []
        searches: list[str] = []
        options: list[str] = []
    elif policy == "Default":
        nameservers, searches, options = list(host.nameservers), list(host.searches), list(host.options)
    else:
        nameservers = list(cluster_dns)
        searches = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain, *host.searches]
        options = [CLUSTER_NDOTS]
    config = spec.get("dnsConfig") or {}
    nameservers = _unique(nameservers + list(config.get("nameservers") or []))[:MAX_NAMESERVERS]
    searches = _trim_searches(_unique(searches + list(config.get("searches") or [])))
    options = _merge_options(options, list(config.get("options") or []))
    return ResolvConf(nameservers, searches, options)


def pod_hostname(pod: JSON) -> str:
    """The sandbox's hostname: spec.hostname, else the pod name, cut to a 63-character label."""
    spec = pod.get("spec") or {}
    name = str(spec.get("hostname") or (pod.get("metadata") or {}).get("name") or "")
    return name[:63].rstrip("-.")
