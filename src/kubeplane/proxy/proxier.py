"""The iptables proxier: tracked changes in, one ``iptables-restore`` per sync out.

Syncs are rate limited as upstream's BoundedFrequencyRunner does
(``kubeplane.component.syncloop``): a change asks for a sync, and every ``sync_period`` a full sync
runs even with nothing pending. A full sync reads the namespace's tables first (to re-insert
jumps someone removed and delete chains a previous run left behind) and rewrites every chain; a
partial sync rewrites the top-level chains and only the changed Services' own chains. A failed
sync keeps its changes pending, makes the next one full and is retried.

A full sync of many Services is written in slices: nf_tables restores cost more than linearly in
the size of one transaction (iptables 1.8.9 on 2 loaded cores: 3,000 Services in one restore 37 s,
the same in three restores of 1,000 about 5 s), so the per-service chains go first, in
transactions of ``SLICE_SERVICES`` Services, and one last transaction rewrites the top-level
chains that lead to them and deletes stale chains. Until then the old top-level chains stay in
place, so traffic sees the old ruleset, with each Service's chains updated as a partial sync does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kubeplane.component.iptables import Iptables, chains, tables
from kubeplane.component.syncloop import BoundedFrequencySync
from kubeplane.proxy.changes import ChangeTracker
from kubeplane.proxy.iptables import ensure_service_route, missing_jumps, remove_service_route
from kubeplane.proxy.metrics import Health, ProxyMetrics
from kubeplane.proxy.model import ZONE_LABEL, Endpoint, ServicePort, ServicePortName
from kubeplane.proxy.rules import (
    FILTER_CHAINS,
    JUMPS,
    NAT_CHAINS,
    RenderOptions,
    is_service_chain,
    render,
    render_service_chains,
)

log = logging.getLogger(__name__)

JSON = dict[str, Any]

SLICE_SERVICES = 1000  # Services per transaction in a full sync (a slice restores in well under 1 s)


def _key(obj: JSON) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace", ""), meta.get("name", ""))


class Proxier(BoundedFrequencySync):
    def __init__(self, iptables: Iptables, options: RenderOptions, min_sync_period: float = 1.0,
                 sync_period: float = 30.0, service_cidr: str = "", metrics: ProxyMetrics | None = None) -> None:
        super().__init__(min_sync_period, sync_period)
        self.iptables = iptables
        self.options = options
        self.service_cidr = service_cidr
        self.metrics = metrics or ProxyMetrics()
        self.health = Health(grace=2 * sync_period)
        self.tracker = ChangeTracker()
        self._existing_chains: set[str] = set()

    # -- event handlers (informer callbacks: record and ask for a sync, nothing more) -------------

    def on_service(self, service: JSON, deleted: bool = False) -> None:
        if self.tracker.service_changed(_key(service), None if deleted else service):
            self.request_sync()

    def on_endpoint_slice(self, endpoint_slice: JSON, deleted: bool = False) -> None:
        if self.tracker.slice_changed(_key(endpoint_slice), None if deleted else endpoint_slice):
            self.request_sync()

    def on_node(self, node: JSON | None) -> None:
        """This node's zone (topology hints) and addresses (firewall exemptions) changed: every
        Service may render differently, so the next sync is a full one."""
        labels = ((node or {}).get("metadata") or {}).get("labels") or {}
        addresses = ((node or {}).get("status") or {}).get("addresses") or []
        node_ips = tuple(sorted(a["address"] for a in addresses
                                if a.get("type") in ("InternalIP", "ExternalIP") and ":" not in a.get("address", "")))
        updated = replace(self.options, zone=labels.get(ZONE_LABEL, ""), node_ips=node_ips)
        if updated != self.options:
            self.options = updated
            self._need_full = True
            self.request_sync()

    async def _write_service_chains_in_slices(self, services: Mapping[ServicePortName, ServicePort],
                                              endpoints: Mapping[ServicePortName, tuple[Endpoint, ...]]) -> int:
        """Write every Service's own chains, ``SLICE_SERVICES`` Services per restore; the rules
        written (0: too few Services to be worth it, nothing written)."""
        names = sorted({port_name.service for port_name in services})
        if len(names) <= SLICE_SERVICES:
            return 0
        written = 0
        for start in range(0, len(names), SLICE_SERVICES):
            text, count = render_service_chains(services, endpoints, self.options,
                                                set(names[start:start + SLICE_SERVICES]))
            await self.iptables.restore(text)
            written += count
        return written

    def request_sync(self, *_: object) -> None:
        self.metrics.last_queued.set_to_current_time()
        self.health.queued()
        super().request_sync()

    # -- one sync --------------------------------------------------------------------------------

    async def sync_rules(self, full: bool) -> None:
        started = time.monotonic()
        pending = self.tracker.take_pending()
        try:
            if full:
                saved = await self.iptables.save()
                existing = chains(saved, "nat")
                jumps = missing_jumps(saved)
                if self.service_cidr:
                    await ensure_service_route(self.iptables.netns, self.service_cidr)
            else:
                existing, jumps = self._existing_chains, []
            services, endpoints = self.tracker.service_port_map(), self.tracker.endpoints_map()
            changed: set[tuple[str, str]] | None = None if full else pending.services
            sliced_rules = 0
            if full:
                sliced_rules = await self._write_service_chains_in_slices(services, endpoints)
                if sliced_rules:
                    changed = set()  # every Service's chains are in place: only the top level is left
            rendered = render(services, endpoints, self.options, existing, changed, jumps)
            await self.iptables.restore(rendered.text)
            rendered.rule_counts["nat"] += sliced_rules
        except Exception:
            self.metrics.restore_failures.inc()
            self.tracker.restore_pending(pending)
            raise
        self._existing_chains = rendered.nat_chains
        elapsed = time.monotonic() - started
        self.metrics.sync_duration.observe(elapsed)
        (self.metrics.full_sync_duration if full else self.metrics.partial_sync_duration).observe(elapsed)
        self.metrics.last_sync.set_to_current_time()
        self.metrics.service_changes.inc(pending.service_changes)
        self.metrics.endpoint_changes.inc(pending.endpoint_changes)
        for table, count in rendered.rule_counts.items():
            self.metrics.rules.labels(table).set(count)
        for policy, count in rendered.no_local_endpoints.items():
            self.metrics.no_local_endpoints.labels(policy).set(count)
        now = time.time()
        for trigger in pending.trigger_times:
            self.metrics.network_programming.observe(max(0.0, now - trigger))
        if not self.tracker.has_pending():
            self.health.updated()
        log.debug("synced (full=%s, %d services changed) in %.3fs", full, len(pending.services), elapsed)


async def cleanup(iptables: Iptables) -> bool:
    """Remove every jump and KUBE-* chain a proxier wrote, and the Service-range link
    (``kube-proxy --cleanup``); True when there was something to remove."""
    removed_link = await remove_service_route(iptables.netns)
    saved = await iptables.save()
    by_table = tables(saved)
    ours = {"filter": set(FILTER_CHAINS), "nat": set(NAT_CHAINS)}
    payload = []
    for table in ("filter", "nat"):
        present = chains(saved, table)
        remove = sorted(c for c in present if c in ours[table] or is_service_chain(c))
        jump_lines = [line for line in by_table.get(table, [])
                      if any(line.startswith(f"-A {j.chain} ") and line.endswith(f"-j {j.target}")
                             and f'--comment "{j.comment}"' in line for j in JUMPS if j.table == table)]
        if not remove and not jump_lines:
            continue
        payload.append(f"*{table}")
        payload.extend(f":{chain} - [0:0]" for chain in remove)
        payload.extend("-D" + line[2:] for line in jump_lines)
        payload.extend(f"-X {chain}" for chain in remove)
        payload.append("COMMIT")
    if not payload:
        return removed_link
    await iptables.restore("\n".join(payload) + "\n")
    return True
