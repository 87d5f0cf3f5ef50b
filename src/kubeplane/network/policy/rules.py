"""Render the node's allow-lists as one ``iptables-restore --noflush`` payload (filter table).

::

    FORWARD (rule 1) ─► KUBEPLANE-NP-FORWARD
                          RELATED,ESTABLISHED            RETURN   (replies of allowed connections)
                          -i eni<pod a>                  KUBEPLANE-NP-E-<a>   (egress of a)
                          -o eni<pod b>                  KUBEPLANE-NP-I-<b>   (ingress of b)
    INPUT (rule 1)   ─► KUBEPLANE-NP-INPUT
                          RELATED,ESTABLISHED            RETURN
                          -i eni<pod a>                  KUBEPLANE-NP-E-<a>   (a to the node itself)
    KUBEPLANE-NP-I-<b>:   -m set --match-set <peers> src [-p tcp --dport n[:m]] RETURN ...   then DROP

Peers are ipsets (``ipsets``): per chain and port match, one ``hash:ip`` set for single addresses
(pod peers) and one ``hash:net`` set for wider ranges, so a chain has a rule per port match and
set type, however many peers the policies select. Rules that allow any address need no set.

Only pods isolated in a direction get a chain for it. An allowed packet *returns* rather than
being accepted, so it goes on through the rest of FORWARD (kube-proxy's chains, the default
policy): this agent only ever removes traffic. For the same reason the egress jumps come before
the ingress jumps: a packet between two local pods returns from the sender's egress chain and is
then checked by the receiver's ingress chain. The hooks sit first in FORWARD and INPUT so no
earlier ACCEPT (kube-proxy's KUBE-FORWARD accepts masqueraded traffic) bypasses them.

Traffic the node itself sends to its pods (kubelet probes) leaves through OUTPUT, which is not
hooked, so it is always allowed, as upstream plugins allow it.

Every sync declares (so flushes) and rewrites every chain it wants; chains of pods that are gone
are flushed and deleted in the same restore. Chain names hash the pod's namespace/name, so they
stay put across syncs and restarts.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kubeplane.component.iptables import tables
from kubeplane.network.policy.ipsets import (
    DEFAULT_PREFIX,
    HOST_SET,
    NET_SET,
    PeerSet,
    set_name,
    split_members,
)
from kubeplane.network.policy.selection import DirectionRules, PodRules, PortMatch

CHAIN_PREFIX = "KUBEPLANE-NP-"
FORWARD_CHAIN = "KUBEPLANE-NP-FORWARD"
INPUT_CHAIN = "KUBEPLANE-NP-INPUT"
TOP_CHAINS = (FORWARD_CHAIN, INPUT_CHAIN)
DENY = "DROP"  # as most policy plugins: a denied connection times out rather than being refused


@dataclass(frozen=True)
class Hook:
    """The one rule in a built-in chain that leads into ours."""

    chain: str
    target: str
    comment: str

    def rule(self) -> str:
        return f'-m comment --comment "{self.comment}" -j {self.target}'

    def matches(self, save_line: str) -> bool:
        return save_line.startswith(f"-A {self.chain} ") and save_line.endswith(f"-j {self.target}")


HOOKS = (
    Hook("FORWARD", FORWARD_CHAIN, "kubeplane network policy"),
    Hook("INPUT", INPUT_CHAIN, "kubeplane network policy: pods to their node"),
)


@dataclass(frozen=True)
class LocalPod:
    """A pod on this node: its host-side interface and its allow-lists."""

    namespace: str
    name: str
    interface: str
    rules: PodRules


@dataclass(frozen=True)
class Rendered:
    text: str
    chains: frozenset[str]  # every KUBEPLANE-NP-* chain that exists after the restore
    rule_count: int
    sets: dict[str, PeerSet] = field(default_factory=dict)  # the ipsets the rules reference


def pod_chain(direction: str, namespace: str, name: str) -> str:
    """``KUBEPLANE-NP-I-`` / ``-E-`` + 12 base32 characters of the pod's key (27 characters: chain
    names may have at most 28)."""
    digest = hashlib.sha256(f"{direction}/{namespace}/{name}".encode()).digest()
    return f"{CHAIN_PREFIX}{direction[0].upper()}-{base64.b32encode(digest).decode()[:12]}"


def is_ours(chain: str) -> bool:
    return chain.startswith(CHAIN_PREFIX)


def _port_args(port: PortMatch | None) -> list[str]:
    if port is None:
        return []
    protocol = port.protocol.lower()
    args = ["-p", protocol]
    if port.first is not None:
        last = port.last if port.last is not None else port.first
        ports = str(port.first) if last == port.first else f"{port.first}:{last}"
        args += ["-m", protocol, "--dport", ports]
    return args


def _port_key(port: PortMatch | None) -> str:
    return "any" if port is None else f"{port.protocol}:{port.first}:{port.last}"


def _port_order(port: PortMatch | None) -> tuple[bool, str, int, int]:
    if port is None:
        return (True, "", 0, 0)
    return (False, port.protocol, port.first or 0, port.last or 0)


def _direction_rules(chain: str, direction: str, rules: DirectionRules, set_prefix: str,
                     sets: dict[str, PeerSet]) -> list[str]:
    """The chain's rules; the peer sets they use are added to ``sets``. ``direction``: ``src``
    (ingress: match the sender) or ``dst`` (egress)."""
    lines = []
    peers_by_port: dict[PortMatch | None, list[str]] = defaultdict(list)
    for allow in rules.allows:
        if allow.cidr is None:
            lines.append(" ".join(["-A", chain, *_port_args(allow.port), "-j", "RETURN"]))
        else:
            peers_by_port[allow.port].append(allow.cidr)
    for port, cidrs in sorted(peers_by_port.items(), key=lambda item: _port_order(item[0])):
        hosts, nets = split_members(cidrs)
        for kind, members in ((HOST_SET, hosts), (NET_SET, nets)):
            if not members:
                continue
            name = set_name(set_prefix, chain, _port_key(port), kind)
            sets[name] = PeerSet(name, kind, tuple(members))
            lines.append(" ".join(["-A", chain, "-m", "set", "--match-set", name, direction,
                                   *_port_args(port), "-j", "RETURN"]))
    policies = ",".join(rules.policies)
    if len(policies) > 200:  # a comment may hold 256 bytes
        policies = f"{policies[:200]}..."
    lines.append(f'-A {chain} -m comment --comment "isolated by {policies}" -j {DENY}')
    return lines


def hook_fixes(save_text: str) -> list[str]:
    """Restore lines that make each hook the first rule of its built-in chain (nothing when it is)."""
    filter_lines = tables(save_text).get("filter", [])
    fixes: list[str] = []
    for hook in HOOKS:
        builtin = [line for line in filter_lines if line.startswith(f"-A {hook.chain} ")]
        ours = [line for line in builtin if hook.matches(line)]
        if len(ours) == 1 and builtin[0] == ours[0]:
            continue
        fixes.extend("-D" + line[2:] for line in ours)
        fixes.append(f"-I {hook.chain} 1 {hook.rule()}")
    return fixes


def render(pods: Sequence[LocalPod], existing: Iterable[str] = (), fixes: Sequence[str] = (),
           set_prefix: str = DEFAULT_PREFIX) -> Rendered:
    """The payload for one sync. ``existing``: our chains in the namespace now (those no longer
    wanted are deleted); ``fixes``: hook lines from ``hook_fixes``; ``set_prefix``: the agent's
    ipset name prefix."""
    sets: dict[str, PeerSet] = {}
    wanted: list[str] = list(TOP_CHAINS)
    replies = "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
    egress_jumps = [f"-A {chain} {replies}" for chain in TOP_CHAINS]
    ingress_jumps: list[str] = []  # after every egress jump (see the module docstring)
    pod_rules: list[str] = []
    for pod in sorted(pods, key=lambda p: (p.namespace, p.name)):
        comment = f'-m comment --comment "{pod.namespace}/{pod.name}"'
        if pod.rules.egress is not None:
            chain = pod_chain("egress", pod.namespace, pod.name)
            wanted.append(chain)
            egress_jumps.extend(f"-A {top} -i {pod.interface} {comment} -j {chain}" for top in TOP_CHAINS)
            pod_rules.extend(_direction_rules(chain, "dst", pod.rules.egress, set_prefix, sets))
        if pod.rules.ingress is not None:
            chain = pod_chain("ingress", pod.namespace, pod.name)
            wanted.append(chain)
            ingress_jumps.append(f"-A {FORWARD_CHAIN} -o {pod.interface} {comment} -j {chain}")
            pod_rules.extend(_direction_rules(chain, "src", pod.rules.ingress, set_prefix, sets))
    stale = sorted(set(existing) - set(wanted))
    lines = ["*filter",
             *(f":{chain} - [0:0]" for chain in [*wanted, *stale]),
             *fixes, *egress_jumps, *ingress_jumps, *pod_rules,
             *(f"-X {chain}" for chain in stale),
             "COMMIT"]
    return Rendered("\n".join(lines) + "\n", frozenset(wanted),
                    len(egress_jumps) + len(ingress_jumps) + len(pod_rules), sets)


def cleanup_payload(save_text: str) -> str | None:
    """A restore payload removing the hooks and every KUBEPLANE-NP-* chain (None: nothing to do)."""
    filter_lines = tables(save_text).get("filter", [])
    ours = sorted({line[1:].split()[0] for line in filter_lines if line.startswith(":") and is_ours(line[1:])})
    hooks = [line for line in filter_lines if any(hook.matches(line) for hook in HOOKS)]
    if not ours and not hooks:
        return None
    lines = ["*filter", *(f":{chain} - [0:0]" for chain in ours), *("-D" + line[2:] for line in hooks),
             *(f"-X {chain}" for chain in ours), "COMMIT"]
    return "\n".join(lines) + "\n"
