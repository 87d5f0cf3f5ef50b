"""The sync loop: informer events ask for a sync; a sync recomputes every local pod's allow-lists
from the caches and writes them with one ``iptables-restore --noflush``.

Syncs are rate limited as kube-proxy's (upstream's BoundedFrequencyRunner, in
``kubeplane.component.syncloop``): a request runs at once unless the last sync started less than
``min_sync_period`` ago, and every change in the meantime rides along; every ``sync_period`` a full
sync runs anyway. A full sync first reads the tables
(``iptables-save``) to put the hooks back first in their chains and to delete chains some earlier
run left; other syncs trust what the last one wrote, and skip the restore when the payload is the
same. A failed sync makes the next one full and is retried.

Peer sets (``ipsets``) are written first, in one ``ipset restore`` that only touches sets whose
members changed (a full sync lists the namespace's sets and rebuilds ours), then the iptables
restore, then sets no rule references any more are destroyed. When only peers change, the iptables
payload is the same and the ipset restore is the whole sync.

Policies are level-driven here (everything is recomputed from the caches) because one pod's labels
can change the allow-lists of every pod on the node; the work is small next to the restore.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubeplane.component.iptables import Iptables, chains
from kubeplane.component.syncloop import BoundedFrequencySync
from kubeplane.network.cni.wiring import host_veth_name
from kubeplane.network.policy.ipsets import Ipsets, PeerSet, destroy_payload, update_payload
from kubeplane.network.policy.rules import LocalPod, hook_fixes, is_ours, render
from kubeplane.network.policy.selection import ClusterView, pod_ip, rules_for_pod

log = logging.getLogger(__name__)

JSON = dict[str, Any]


@dataclass
class Snapshot:
    """What a sync reads: the informers' current caches."""

    policies: list[JSON] = field(default_factory=list)
    pods: list[JSON] = field(default_factory=list)
    namespaces: list[JSON] = field(default_factory=list)


def local_pods(node_name: str, snapshot: Snapshot) -> list[LocalPod]:
    """This node's pods with a VPC address and their allow-lists (host-network pods have no veth)."""
    view = ClusterView(snapshot.namespaces, snapshot.pods)
    result = []
    for pod in snapshot.pods:
        if (pod.get("spec") or {}).get("nodeName") != node_name or pod_ip(pod) is None:
            continue
        meta = pod.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        rules = rules_for_pod(pod, snapshot.policies, view)
        if rules.ingress is None and rules.egress is None:
            continue
        result.append(LocalPod(namespace, name, host_veth_name(namespace, name, ""), rules))
    return result


class PolicyAgent(BoundedFrequencySync):
    def __init__(self, iptables: Iptables, ipsets: Ipsets, node_name: str, snapshot: Callable[[], Snapshot],
                 min_sync_period: float = 1.0, sync_period: float = 30.0) -> None:
        super().__init__(min_sync_period, sync_period)
        self.iptables = iptables
        self.ipsets = ipsets
        # Our sets in the namespace: their members as last written, None when only listed.
        self._sets: dict[str, PeerSet | None] = {}
        self.node_name = node_name
        self.snapshot = snapshot
        self.rule_count = 0
        self._existing: frozenset[str] = frozenset()
        self._last_payload = ""

    async def sync_rules(self, full: bool) -> None:
        started = time.monotonic()
        pods = local_pods(self.node_name, self.snapshot())
        if full:
            saved = await self.iptables.save()
            existing: Iterable[str] = {chain for chain in chains(saved, "filter") if is_ours(chain)}
            fixes = hook_fixes(saved)
            self._sets = dict.fromkeys(await self.ipsets.names())
        else:
            existing, fixes = self._existing, []
        rendered = render(pods, existing, fixes, self.ipsets.prefix)
        sets_update = update_payload(rendered.sets, self._sets)
        if sets_update is not None:
            await self.ipsets.restore(sets_update)
            self._sets.update(rendered.sets)
        changed = rendered.text != self._last_payload
        if full or changed:
            await self.iptables.restore(rendered.text)
        self._existing, self._last_payload = rendered.chains, rendered.text
        stale = destroy_payload(name for name in self._sets if name not in rendered.sets)
        if stale is not None:
            await self.ipsets.restore(stale)
            self._sets = {name: self._sets[name] for name in rendered.sets}
        changed = changed or sets_update is not None
        self.rule_count = rendered.rule_count
        log.log(logging.INFO if changed else logging.DEBUG, "synced (full=%s): %d isolated pods, %d rules, %d peer sets in %.3fs",
                full, len(pods), rendered.rule_count, len(rendered.sets), time.monotonic() - started)
