"""Builders for Service and EndpointSlice objects, and a parser for rendered restore payloads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


def service(name: str, cluster_ip: str, ports: list[JSON] | None = None, namespace: str = "ns", **spec: Any) -> JSON:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip,
                     "ports": ports if ports is not None else [{"name": "http", "port": 80, "protocol": "TCP"}],
                     **spec}}


def endpoint(ip: str, node: str = "node-a", ready: bool = True, serving: bool | None = None,
             terminating: bool | None = None, zones: list[str] | None = None) -> JSON:
    conditions: JSON = {"ready": ready}
    if serving is not None:
        conditions["serving"] = serving
    if terminating is not None:
        conditions["terminating"] = terminating
    out: JSON = {"addresses": [ip], "conditions": conditions, "nodeName": node}
    if zones is not None:
        out["hints"] = {"forZones": [{"name": zone} for zone in zones]}
    return out


def endpoint_slice(service_name: str, endpoints: list[JSON], port: int = 8080, port_name: str = "http",
                   namespace: str = "ns", name: str | None = None, trigger_time: str | None = None) -> JSON:
    meta: JSON = {"name": name or f"{service_name}-abc", "namespace": namespace,
                  "labels": {"kubernetes.io/service-name": service_name}}
    if trigger_time:
        meta["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": trigger_time}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta, "addressType": "IPv4",
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}], "endpoints": endpoints}


@dataclass
class Table:
    chains: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # -I and -X lines

    def chain_rules(self, chain: str) -> list[str]:
        return [rule for rule in self.rules if rule.startswith(f"-A {chain} ")]

    def targets(self, chain: str) -> list[str]:
        return [rule.rsplit("-j ", 1)[1].split()[0] for rule in self.chain_rules(chain)]


def parse(payload: str) -> dict[str, Table]:
    """A restore payload by table; also checks it is well formed (each table COMMITs, every
    -A names a chain declared in this payload or a built-in one)."""
    tables: dict[str, Table] = {}
    current: Table | None = None
    for line in payload.splitlines():
        if line.startswith("*"):
            assert current is None, "table not committed"
            current = tables.setdefault(line[1:], Table())
        elif line == "COMMIT":
            current = None
        else:
            assert current is not None, f"line outside a table: {line}"
            if line.startswith(":"):
                current.chains.append(line[1:].split()[0])
            elif line.startswith("-A "):
                current.rules.append(line)
            else:
                current.other.append(line)
    assert current is None, "last table not committed"
    return tables


def probabilities(rules: list[str]) -> list[float | None]:
    out: list[float | None] = []
    for rule in rules:
        match = re.search(r"--probability (\S+)", rule)
        out.append(float(match.group(1)) if match else None)
    return out
