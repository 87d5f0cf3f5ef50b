"""Render the whole iptables ruleset for one node as one ``iptables-restore --noflush`` payload.

The shape is upstream's iptables proxier (pkg/proxy/iptables), so rules read as on a real node:

* nat ``KUBE-SERVICES`` matches each ClusterIP/externalIP/load-balancer IP and port and jumps to
  the service port's chain; its last rule sends traffic for local addresses to ``KUBE-NODEPORTS``.
* ``KUBE-SVC-<hash>`` (cluster policy) and ``KUBE-SVL-<hash>`` (local policy) pick an endpoint:
  ClientIP affinity first (``-m recent --rcheck``), then ``-m statistic --mode random`` with
  probability 1/(n-i) so each of n endpoints gets 1/n of new connections.
* ``KUBE-EXT-<hash>`` handles traffic to "external" destinations (NodePort, externalIPs, LB IPs):
  masquerade for Cluster policy; for Local policy, pods and the node itself short-circuit to the
  cluster chain and the rest goes to the local chain, keeping the client address.
* ``KUBE-FW-<hash>`` admits load-balancer traffic only from ``loadBalancerSourceRanges``.
* ``KUBE-SEP-<hash>`` marks hairpin traffic (an endpoint reaching itself) for masquerade and DNATs.
* filter ``KUBE-SERVICES`` / ``KUBE-EXTERNAL-SERVICES`` REJECT traffic to Services without any
  endpoint (connection refused at once, not a timeout) and DROP traffic whose policy is Local
  when this node has no local endpoint.

Every sync declares (and so flushes) the top-level KUBE-* chains and rewrites them. Per-service
chains of Services that did not change since the last sync are left out (``--noflush`` keeps
them), which keeps a sync small when one Service of thousands changes; chains no longer wanted
are flushed and deleted. Nothing but KUBE-* chains and the jumps into them is ever written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kubeplane.proxy.categorize import categorize
from kubeplane.proxy.model import Endpoint, ServicePort, ServicePortName

MASQ_MARK = "0x4000"

# Top-level chains, declared (and so flushed and rewritten) by every sync.
FILTER_CHAINS = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS",
                 "KUBE-PROXY-FIREWALL")
NAT_CHAINS = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")


@dataclass(frozen=True)
class Jump:
    """A rule in a built-in chain that leads into one of ours (the only rules outside KUBE-*)."""

    table: str
    chain: str
    target: str
    comment: str
    match: str = ""  # extra match arguments before the comment

    def rule(self) -> str:
        match = f"{self.match} " if self.match else ""
        return f'{match}-m comment --comment "{self.comment}" -j {self.target}'


JUMPS = (
    Jump("filter", "INPUT", "KUBE-NODEPORTS", "kubernetes health check service ports"),
    Jump("filter", "INPUT", "KUBE-EXTERNAL-SERVICES", "kubernetes externally-visible service portals",
         "-m conntrack --ctstate NEW"),
    Jump("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules"),
    Jump("filter", "FORWARD", "KUBE-SERVICES", "kubernetes service portals", "-m conntrack --ctstate NEW"),
    Jump("filter", "FORWARD", "KUBE-EXTERNAL-SERVICES", "kubernetes externally-visible service portals",
         "-m conntrack --ctstate NEW"),
    Jump("filter", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", "-m conntrack --ctstate NEW"),
    Jump("filter", "INPUT", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall",
         "-m conntrack --ctstate NEW"),
    Jump("filter", "OUTPUT", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall",
         "-m conntrack --ctstate NEW"),
    Jump("filter", "FORWARD", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall",
         "-m conntrack --ctstate NEW"),
    Jump("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals"),
    Jump("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals"),
    Jump("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules"),
)


@dataclass(frozen=True)
class RenderOptions:
    node_name: str
    zone: str = ""
    cluster_cidr: str = ""  # pods' addresses: traffic from elsewhere to a ClusterIP is masqueraded
    masquerade_all: bool = False
    # CIDRs whose local addresses accept NodePorts; empty: every local address except loopback.
    nodeport_cidrs: tuple[str, ...] = ()
    node_ips: tuple[str, ...] = ()


@dataclass
class Rendered:
    text: str
    nat_chains: set[str]  # every per-service nat chain that exists after this payload applies
    rule_counts: dict[str, int]  # rules in the payload per table
    no_local_endpoints: dict[str, int] = field(default_factory=lambda: {"internal": 0, "external": 0})


def _quote(text: str) -> str:
    return f'"{text}"' if " " in text else text


def probability(remaining: int) -> str:
    return f"{1.0 / remaining:0.10f}"


def is_service_chain(name: str) -> bool:
    return name.startswith(SERVICE_CHAIN_PREFIXES)


class _Table:
    def __init__(self, name: str) -> None:
        self.name = name
        self.chains: list[str] = []
        self.rules: list[str] = []
        self.trailer: list[str] = []  # chain deletions: after every rule that referenced them is gone

    def chain(self, name: str) -> None:
        self.chains.append(f":{name} - [0:0]")

    def rule(self, chain: str, *args: str) -> None:
        self.rules.append(" ".join(("-A", chain, *args)))

    def text(self, jumps: Iterable[Jump]) -> str:
        inserts = [f"-I {jump.chain} 1 {jump.rule()}" for jump in jumps if jump.table == self.name]
        return "\n".join((f"*{self.name}", *self.chains, *inserts, *self.rules, *self.trailer, "COMMIT")) + "\n"


class _Renderer:
    def __init__(self, options: RenderOptions) -> None:
        self.options = options
        self.filter = _Table("filter")
        self.nat = _Table("nat")
        self.active: set[str] = set()
        self.no_local = {"internal": 0, "external": 0}

    def if_not_local(self) -> tuple[str, ...]:
        return ("!", "-s", self.options.cluster_cidr) if self.options.cluster_cidr else ()

    def static_rules(self) -> None:
        for name in FILTER_CHAINS:
            self.filter.chain(name)
        for name in NAT_CHAINS:
            self.nat.chain(name)
        self.filter.rule("KUBE-FORWARD", "-m", "comment", "--comment", '"kubernetes forwarding rules"',
                         "-m", "mark", "--mark", f"{MASQ_MARK}/{MASQ_MARK}", "-j", "ACCEPT")
        self.filter.rule("KUBE-FORWARD", "-m", "comment", "--comment", '"kubernetes forwarding conntrack rule"',
                         "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
        # Packets marked on the way in are masqueraded on the way out; the mark is cleared first
        # so a packet re-entering the stack (hairpin through a bridge) is not masqueraded twice.
        self.nat.rule("KUBE-POSTROUTING", "-m", "mark", "!", "--mark", f"{MASQ_MARK}/{MASQ_MARK}", "-j", "RETURN")
        self.nat.rule("KUBE-POSTROUTING", "-j", "MARK", "--xor-mark", MASQ_MARK)
        self.nat.rule("KUBE-POSTROUTING", "-m", "comment", "--comment",
                      '"kubernetes service traffic requiring SNAT"', "-j", "MASQUERADE", "--random-fully")
        self.nat.rule("KUBE-MARK-MASQ", "-j", "MARK", "--or-mark", MASQ_MARK)

    def nodeports_tail(self) -> None:
        comment = ("-m", "comment", "--comment", '"kubernetes service nodeports; NOTE: this must be the last rule '
                   'in this chain"')
        if not self.options.nodeport_cidrs:
            # Loopback NodePorts would need route_localnet; like upstream without it, leave them out.
            self.nat.rule("KUBE-SERVICES", *comment, "-m", "addrtype", "--dst-type", "LOCAL",
                          "!", "-d", "127.0.0.0/8", "-j", "KUBE-NODEPORTS")
            return
        for cidr in self.options.nodeport_cidrs:
            if ipaddress.IPv4Network(cidr, strict=False).subnet_of(ipaddress.IPv4Network("127.0.0.0/8")):
                continue
            self.nat.rule("KUBE-SERVICES", *comment, "-d", cidr, "-m", "addrtype", "--dst-type", "LOCAL",
                          "-j", "KUBE-NODEPORTS")

    def service_port(self, port: ServicePort, endpoints: tuple[Endpoint, ...], write_chains: bool) -> None:
        name = str(port.name)
        proto = port.protocol
        groups = categorize(endpoints, port, self.options.node_name, self.options.zone)
        has_endpoints = groups.has_any
        uses_cluster_chain = bool(groups.cluster) and port.uses_cluster_endpoints
        uses_local_chain = bool(groups.local) and port.uses_local_endpoints
        internal_chain = port.local_chain if port.internal_policy_local else port.cluster_chain
        has_internal = has_endpoints and (not port.internal_policy_local or bool(groups.local))
        external_policy_chain = port.local_chain if port.external_policy_local else port.cluster_chain
        has_external = has_endpoints and (not port.external_policy_local or bool(groups.local))
        uses_external_chain = has_endpoints and port.externally_accessible
        uses_firewall = has_endpoints and bool(port.load_balancer_ips) and bool(port.load_balancer_source_ranges)
        lb_chain = port.firewall_chain if uses_firewall else port.external_chain

        if not has_endpoints:
            internal_target = external_target = "REJECT"
            internal_comment = external_comment = f'"{name} has no endpoints"'
        else:
            internal_target = external_target = ""
            internal_comment = external_comment = ""
            if not has_internal:
                internal_target, internal_comment = "DROP", f'"{name} has no local endpoints"'
                self.no_local["internal"] += 1
            if not has_external:
                external_target, external_comment = "DROP", f'"{name} has no local endpoints"'
                self.no_local["external"] += 1

        match = ("-m", proto, "-p", proto)
        vip = (*match, "-d", port.cluster_ip, "--dport", str(port.port))
        if has_internal:
            self.nat.rule("KUBE-SERVICES", "-m", "comment", "--comment", f'"{name} cluster IP"', *vip,
                          "-j", internal_chain)
        else:
            self.filter.rule("KUBE-SERVICES", "-m", "comment", "--comment", internal_comment, *vip,
                             "-j", internal_target)

        for external_ip in port.external_ips:
            dest = (*match, "-d", external_ip, "--dport", str(port.port))
            if has_endpoints:
                self.nat.rule("KUBE-SERVICES", "-m", "comment", "--comment", f'"{name} external IP"', *dest,
                              "-j", port.external_chain)
            if not has_external:
                self.filter.rule("KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", external_comment, *dest,
                                 "-j", external_target)

        for lb_ip in port.load_balancer_ips:
            dest = (*match, "-d", lb_ip, "--dport", str(port.port))
            if has_endpoints:
                self.nat.rule("KUBE-SERVICES", "-m", "comment", "--comment", f'"{name} loadbalancer IP"', *dest,
                              "-j", lb_chain)
            if uses_firewall:
                # What the KUBE-FW chain did not DNAT (a source outside the ranges) is dropped here.
                self.filter.rule("KUBE-PROXY-FIREWALL", "-m", "comment", "--comment",
                                 f'"{name} traffic not accepted by {port.firewall_chain}"', *dest, "-j", "DROP")
            if not has_external:
                self.filter.rule("KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", external_comment, *dest,
                                 "-j", external_target)

        if port.node_port:
            if has_endpoints:
                self.nat.rule("KUBE-NODEPORTS", "-m", "comment", "--comment", _quote(name), *match,
                              "--dport", str(port.node_port), "-j", port.external_chain)
            if not has_external:
                self.filter.rule("KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", external_comment,
                                 "-m", "addrtype", "--dst-type", "LOCAL", *match, "--dport", str(port.node_port),
                                 "-j", external_target)

        # Per-service chains: known to exist whether or not this sync rewrites them.
        wanted: list[str] = []
        if uses_external_chain:
            wanted.append(port.external_chain)
        if uses_firewall:
            wanted.append(port.firewall_chain)
        if uses_cluster_chain:
            wanted.append(port.cluster_chain)
        if uses_local_chain:
            wanted.append(port.local_chain)
        wanted.extend(endpoint.chain(port.name) for endpoint in groups.reachable)
        self.active.update(wanted)
        if not write_chains:
            return
        for chain in wanted:
            self.nat.chain(chain)

        if has_internal:
            if self.options.masquerade_all:
                self.nat.rule(internal_chain, "-m", "comment", "--comment", f'"{name} cluster IP"', *vip,
                              "-j", "KUBE-MARK-MASQ")
            elif self.options.cluster_cidr:
                # Off-cluster clients reaching a ClusterIP through this node get masqueraded, so
                # replies come back through this node.
                self.nat.rule(internal_chain, "-m", "comment", "--comment", f'"{name} cluster IP"', *vip,
                              *self.if_not_local(), "-j", "KUBE-MARK-MASQ")

        if uses_external_chain:
            self.external_chain_rules(port, name, has_external, external_policy_chain)
        if uses_firewall:
            self.firewall_chain_rules(port, name)
        if uses_cluster_chain:
            self.balance(port, port.cluster_chain, groups.cluster)
        if uses_local_chain:
            self.balance(port, port.local_chain, groups.local)
        for endpoint in groups.reachable:
            self.endpoint_chain(port, endpoint)

    def external_chain_rules(self, port: ServicePort, name: str, has_external: bool, policy_chain: str) -> None:
        chain = port.external_chain
        if not port.external_policy_local:
            # The endpoint may be on another node: masquerade so replies come back through here.
            self.nat.rule(chain, "-m", "comment", "--comment", f'"masquerade traffic for {name} external destinations"',
                          "-j", "KUBE-MARK-MASQ")
        else:
            if self.options.cluster_cidr:
                # A pod going to an external destination of its own cluster is treated as if it
                # went out and came back in through a load balancer: no traffic policy applies.
                self.nat.rule(chain, "-m", "comment", "--comment", f'"pod traffic for {name} external destinations"',
                              "-s", self.options.cluster_cidr, "-j", port.cluster_chain)
            # The node's own traffic has a node address as source: masquerade it and let it use
            # any endpoint.
            self.nat.rule(chain, "-m", "comment", "--comment",
                          f'"masquerade LOCAL traffic for {name} external destinations"',
                          "-m", "addrtype", "--src-type", "LOCAL", "-j", "KUBE-MARK-MASQ")
            self.nat.rule(chain, "-m", "comment", "--comment", f'"route LOCAL traffic for {name} external destinations"',
                          "-m", "addrtype", "--src-type", "LOCAL", "-j", port.cluster_chain)
        if has_external:
            self.nat.rule(chain, "-j", policy_chain)

    def firewall_chain_rules(self, port: ServicePort, name: str) -> None:
        args = ("-m", "comment", "--comment", f'"{name} loadbalancer IP"')
        node_ips = [ipaddress.IPv4Address(ip) for ip in self.options.node_ips]
        allow_from_node = False
        for cidr in port.load_balancer_source_ranges:
            self.nat.rule(port.firewall_chain, *args, "-s", cidr, "-j", port.external_chain)
            network = ipaddress.ip_network(cidr, strict=False)
            allow_from_node = allow_from_node or any(ip in network for ip in node_ips)
        if allow_from_node:
            # A node reaching its own LB IP loops back with the LB IP as source.
            for lb_ip in port.load_balancer_ips:
                self.nat.rule(port.firewall_chain, *args, "-s", lb_ip, "-j", port.external_chain)

    def balance(self, port: ServicePort, chain: str, endpoints: tuple[Endpoint, ...]) -> None:
        name = str(port.name)
        if port.affinity_seconds:
            for endpoint in endpoints:
                sep = endpoint.chain(port.name)
                self.nat.rule(chain, "-m", "comment", "--comment", f'"{name} -> {endpoint}"',
                              "-m", "recent", "--name", sep, "--rcheck", "--seconds", str(port.affinity_seconds),
                              "--reap", "-j", sep)
        count = len(endpoints)
        for index, endpoint in enumerate(endpoints):
            pick = ("-m", "statistic", "--mode", "random", "--probability", probability(count - index)) \
                if index < count - 1 else ()
            self.nat.rule(chain, "-m", "comment", "--comment", f'"{name} -> {endpoint}"', *pick,
                          "-j", endpoint.chain(port.name))

    def endpoint_chain(self, port: ServicePort, endpoint: Endpoint) -> None:
        sep = endpoint.chain(port.name)
        comment = ("-m", "comment", "--comment", _quote(str(port.name)))
        # Hairpin: an endpoint reaching its own Service may be sent to itself; without SNAT it
        # would answer itself directly and the client would drop the reply.
        self.nat.rule(sep, *comment, "-s", endpoint.ip, "-j", "KUBE-MARK-MASQ")
        affinity = ("-m", "recent", "--name", sep, "--set") if port.affinity_seconds else ()
        self.nat.rule(sep, *comment, *affinity, "-m", port.protocol, "-p", port.protocol,
                      "-j", "DNAT", "--to-destination", str(endpoint))


def render(services: Mapping[ServicePortName, ServicePort],
           endpoints: Mapping[ServicePortName, tuple[Endpoint, ...]],
           options: RenderOptions, existing_chains: Iterable[str],
           changed: set[tuple[str, str]] | None = None, missing_jumps: Iterable[Jump] = ()) -> Rendered:
    """The payload for one sync. ``changed`` names the Services whose chains must be rewritten
    (None: all of them); ``existing_chains`` are the per-service nat chains present now, so the
    ones no longer wanted are deleted; ``missing_jumps`` are inserted into the built-in chains."""
    renderer = _Renderer(options)
    renderer.static_rules()
    for port_name in sorted(services):
        port = services[port_name]
        write = changed is None or port_name.service in changed
        renderer.service_port(port, endpoints.get(port_name, ()), write)
    renderer.nodeports_tail()
    for chain in sorted(set(existing_chains) - renderer.active):
        if is_service_chain(chain):
            renderer.nat.chain(chain)  # declaring flushes it, so it can be deleted
            renderer.nat.trailer.append(f"-X {chain}")
    jumps = list(missing_jumps)
    text = renderer.filter.text(jumps) + renderer.nat.text(jumps)
    counts = {"filter": len(renderer.filter.rules), "nat": len(renderer.nat.rules)}
    return Rendered(text, renderer.active, counts, renderer.no_local)


def render_service_chains(services: Mapping[ServicePortName, ServicePort],
                          endpoints: Mapping[ServicePortName, tuple[Endpoint, ...]],
                          options: RenderOptions, only: set[tuple[str, str]]) -> tuple[str, int]:
    """A nat payload with only the per-service chains of the Services in ``only``, and the one
    top-level chain they jump to (KUBE-MARK-MASQ, declared with its single rule so the payload
    stands alone); with the number of the Services' rules in it. No top-level chain refers to these chains yet, so a full
    sync can write them in several transactions before the one that rewrites KUBE-SERVICES."""
    renderer = _Renderer(options)
    renderer.nat.chain("KUBE-MARK-MASQ")
    renderer.nat.rule("KUBE-MARK-MASQ", "-j", "MARK", "--or-mark", MASQ_MARK)
    for port_name in sorted(services):
        if port_name.service in only:
            renderer.service_port(services[port_name], endpoints.get(port_name, ()), True)
    # service_port also adds the port's top-level rules (KUBE-SERVICES, KUBE-NODEPORTS, filter):
    # those belong to the final transaction.
    rules = [rule for rule in renderer.nat.rules
             if rule.split(" ", 2)[1] == "KUBE-MARK-MASQ" or is_service_chain(rule.split(" ", 2)[1])]
    text = "\n".join(("*nat", *renderer.nat.chains, *rules, "COMMIT")) + "\n"
    return text, len(rules) - 1  # the Services' own rules, as the full payload would count them
