"""Peer address sets: one ipset per (pod chain, port match, set type), so an isolated pod's rule
count grows with the ports its policies name, not with the number of peers.

* pod peers and other single addresses go into a ``hash:ip`` set, wider CIDRs (ipBlocks, already
  cut around their ``except`` ranges by ``selection``) into a ``hash:net`` set;
* names are stable (a hash of the chain, the port match and the type), so when only the peers
  change (a pod comes or goes) the iptables rules stay byte for byte the same and only the set's
  members are rewritten;
* a set that is live (referenced by rules) is never edited in place: its new members go into a
  scratch set of the same type, which is then exchanged with ``ipset swap``, so the kernel goes
  from the old member list to the new one at once and traffic never meets a half-built set;
* every change of one sync is a single ``ipset -exist restore`` inside the node's namespace, run
  before the iptables restore that references the sets; sets nothing references any more are
  destroyed by a second restore after it (the kernel refuses to destroy a referenced set).

Sets belong to the network namespace they were made in, so deleting the node namespace
(``kubeplane down``) destroys them; ``--cleanup`` destroys them explicitly.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubeplane.component.iptables import NetnsCommand

DEFAULT_PREFIX = "KPNP-"
MAX_PREFIX = 10  # name = prefix + 16 hash characters (+ "-N" for the scratch set) within ipset's 31
HOST_SET = "hash:ip"
NET_SET = "hash:net"
# Fixed so that ``create -exist`` of a live set always repeats its exact parameters (ipset refuses a
# create that differs); memory grows with the members, not with this limit.
MAX_ELEMENTS = 262144
SCRATCH_SUFFIX = "-N"


@dataclass(frozen=True)
class PeerSet:
    name: str
    kind: str  # HOST_SET or NET_SET
    members: tuple[str, ...]  # sorted, in the form ``ipset add`` takes


def set_name(prefix: str, chain: str, port_key: str, kind: str) -> str:
    digest = hashlib.sha256(f"{chain}/{port_key}/{kind}".encode()).digest()
    return f"{prefix}{base64.b32encode(digest).decode()[:16]}"


def check_prefix(prefix: str) -> str:
    if not prefix or len(prefix) > MAX_PREFIX or not all(c.isalnum() or c in "-_" for c in prefix):
        raise ValueError(f"ipset prefix {prefix!r}: 1-{MAX_PREFIX} letters, digits, '-' or '_'")
    return prefix


def split_members(cidrs: Iterable[str]) -> tuple[list[str], list[str]]:
    """(host addresses, networks) of ``cidrs``; a /0 becomes two /1s (``hash:net`` takes no /0)."""
    hosts: set[str] = set()
    nets: set[ipaddress.IPv4Network] = set()
    for cidr in cidrs:
        network = ipaddress.IPv4Network(cidr, strict=False)
        if network.prefixlen == 32:
            hosts.add(str(network.network_address))
        elif network.prefixlen == 0:
            nets.update(network.subnets(new_prefix=1))
        else:
            nets.add(network)
    return (sorted(hosts, key=lambda h: ipaddress.IPv4Address(h)), [str(n) for n in sorted(nets)])


def _create(name: str, kind: str) -> str:
    return f"create {name} {kind} family inet maxelem {MAX_ELEMENTS}"


def update_payload(wanted: Mapping[str, PeerSet], known: Mapping[str, PeerSet | None]) -> str | None:
    """``ipset restore`` lines that give every wanted set exactly its members (None: nothing to do).

    ``known``: the sets that exist in the namespace, with their members when this agent wrote them
    (None: found by listing, content unknown). A set not known to exist is created and filled
    directly: no rule can reference it yet. Any other changed set is rebuilt in a scratch set and
    swapped in."""
    lines: list[str] = []
    for name, peer_set in sorted(wanted.items()):
        if name in known and known[name] == peer_set:
            continue
        target = name
        if name in known:
            target = name + SCRATCH_SUFFIX
            lines.append(_create(name, peer_set.kind))  # a no-op under -exist; makes swap's partner sure
        lines += [_create(target, peer_set.kind), f"flush {target}",
                  *(f"add {target} {member}" for member in peer_set.members)]
        if target != name:
            lines += [f"swap {target} {name}", f"destroy {target}"]
    return "\n".join(lines) + "\n" if lines else None


def destroy_payload(names: Iterable[str]) -> str | None:
    lines = [f"destroy {name}" for name in sorted(names)]
    return "\n".join(lines) + "\n" if lines else None


class Ipsets:
    """``ipset`` in one network namespace."""

    def __init__(self, netns: NetnsCommand, prefix: str = DEFAULT_PREFIX) -> None:
        self.netns = netns
        self.prefix = check_prefix(prefix)

    async def restore(self, payload: str) -> None:
        # -exist: creating an existing identical set, adding a present member or destroying a
        # missing set is not an error, so a retried payload converges.
        await self.netns.run("ipset", "-exist", "restore", stdin=payload.encode())

    async def names(self) -> set[str]:
        """The sets of this agent (by prefix) that exist now, scratch sets included."""
        listing = await self.netns.run("ipset", "list", "-n")
        return {name for name in listing.split() if name.startswith(self.prefix)}

    async def destroy_all(self) -> bool:
        payload = destroy_payload(await self.names())
        if payload is None:
            return False
        await self.restore(payload)
        return True
