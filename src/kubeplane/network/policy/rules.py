"""Render the node's allow-lists as one ``iptables-restore --noflush`` payload (filter table).

::

    FORWARD (rule 1) ─► KUBEPLANE-NP-FORWARD
                          RELATED,ESTABLISHED            RETURN   (replies of allowed connections)
                          -i eni<pod a>                  KUBEPLANE-NP-E-<a>   (egress of a)
                          -o eni<pod b>                  KUBEPLANE-NP-I-<b>   (ingress of b)
    INPUT (rule 1)   ─► KUBEPLANE-NP-INPUT
                          RELATED,ESTABLISHED            RETURN
                          -i eni<pod a>                  KUBEPLANE-NP-E-<a>   (a to the node itself)
    KUBEPLANE-NP-I-<b>:   -s <peer> [-p tcp --dport n[:m]] RETURN ...   then DROP

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubeplane.component.iptables import tables
from kubeplane.network.policy.selection import Allow, DirectionRules, PodRules

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


def pod_chain(direction: str, namespace: str, name: str) -> str:
    """``KUBEPLANE-NP-I-`` / ``-E-`` + 12 base32 characters of the pod's key (27 characters: chain
    names may have at most 28)."""
    digest = hashlib.sha256(f"{direction}/{namespace}/{name}".encode()).digest()
    return f"{CHAIN_PREFIX}{direction[0].upper()}-{base64.b32encode(digest).decode()[:12]}"


def is_ours(chain: str) -> bool:
    return chain.startswith(CHAIN_PREFIX)


def _port_args(allow: Allow) -> list[str]:
    if allow.port is None:
        return []
    protocol = allow.port.protocol.lower()
    args = ["-p", protocol]
    if allow.port.first is not None:
        last = allow.port.last if allow.port.last is not None else allow.port.first
        ports = str(allow.port.first) if last == allow.port.first else f"{allow.port.first}:{last}"
        args += ["-m", protocol, "--dport", ports]
    return args


def _allow_rule(chain: str, address_flag: str, allow: Allow) -> str:
    address = [address_flag, allow.cidr] if allow.cidr else []
    return " ".join(["-A", chain, *address, *_port_args(allow), "-j", "RETURN"])


def _direction_rules(chain: str, address_flag: str, rules: DirectionRules) -> list[str]:
    lines = [_allow_rule(chain, address_flag, allow) for allow in rules.allows]
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


def render(pods: Sequence[LocalPod], existing: Iterable[str] = (), fixes: Sequence[str] = ()) -> Rendered:
    """The payload for one sync. ``existing``: our chains in the namespace now (those no longer
    wanted are deleted); ``fixes``: hook lines from ``hook_fixes``."""
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
            pod_rules.extend(_direction_rules(chain, "-d", pod.rules.egress))
        if pod.rules.ingress is not None:
            chain = pod_chain("ingress", pod.namespace, pod.name)
            wanted.append(chain)
            ingress_jumps.append(f"-A {FORWARD_CHAIN} -o {pod.interface} {comment} -j {chain}")
            pod_rules.extend(_direction_rules(chain, "-s", pod.rules.ingress))
    stale = sorted(set(existing) - set(wanted))
    lines = ["*filter",
             *(f":{chain} - [0:0]" for chain in [*wanted, *stale]),
             *fixes, *egress_jumps, *ingress_jumps, *pod_rules,
             *(f"-X {chain}" for chain in stale),
             "COMMIT"]
    return Rendered("\n".join(lines) + "\n", frozenset(wanted),
                    len(egress_jumps) + len(ingress_jumps) + len(pod_rules))


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
