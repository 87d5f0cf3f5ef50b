"""iptables inside the node's network namespace: one restore per sync, saves to see what exists.

Commands run as ``nsenter --net=<netns path> iptables-restore ...`` so the proxy process itself
stays in its own namespace (it serves metrics there and reaches the API server from there).
The binaries are Debian's alternatives, nf_tables by default; a namespace must not mix backends.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass

from kubeplane.proxy.rules import JUMPS, Jump


class IptablesError(RuntimeError):
    pass


# The initial network namespace's fixed inode number on kernels 6.x (PROC_NET_INIT_INO); older
# kernels numbered it dynamically, and there /proc/1 is the reference.
PROC_NET_INIT_INO = 0xEFFFFFF9


def in_root_netns() -> bool:
    """True when this process shares the host's initial network namespace."""
    own = os.stat("/proc/self/ns/net").st_ino
    try:
        return own == os.stat("/proc/1/ns/net").st_ino
    except OSError:  # /proc/1 unreadable (a sandbox hiding init): fall back on the fixed number
        return own == PROC_NET_INIT_INO


@dataclass
class NetnsCommand:
    """Prefixes a command so it runs in one network namespace (or here, with no path)."""

    netns_path: str = ""

    def argv(self, *command: str) -> list[str]:
        return ["nsenter", f"--net={self.netns_path}", *command] if self.netns_path else list(command)

    async def run(self, *command: str, stdin: bytes | None = None, timeout: float = 60.0) -> str:
        process = await asyncio.create_subprocess_exec(
            *self.argv(*command), stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        if process.returncode != 0:
            raise IptablesError(f"{' '.join(command)} failed ({process.returncode}): {err.decode().strip()}")
        return out.decode()


class Iptables:
    def __init__(self, netns: NetnsCommand, prefix: str = "iptables") -> None:
        self.netns = netns
        self.prefix = prefix  # iptables (the system's choice), iptables-nft or iptables-legacy

    async def restore(self, payload: str) -> None:
        # -w: wait for the xtables lock (legacy backend) instead of failing while another
        # program holds it.
        await self.netns.run(f"{self.prefix}-restore", "--noflush", "-w", "5", stdin=payload.encode())

    async def save(self) -> str:
        return await self.netns.run(f"{self.prefix}-save")


def tables(save_text: str) -> dict[str, list[str]]:
    """``iptables-save`` output split by table: the chain and rule lines of each."""
    result: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in save_text.splitlines():
        if line.startswith("*"):
            current = result.setdefault(line[1:].strip(), [])
        elif line == "COMMIT":
            current = None
        elif current is not None and line and not line.startswith("#"):
            current.append(line)
    return result


def chains(save_text: str, table: str) -> set[str]:
    return {line[1:].split()[0] for line in tables(save_text).get(table, []) if line.startswith(":")}


def missing_jumps(save_text: str, jumps: Iterable[Jump] = JUMPS) -> list[Jump]:
    """Jumps into our chains not yet in their built-in chains (iptables-save prints the matches in
    its own order, so a jump is recognised by chain, comment and target, not by its exact text)."""
    by_table = tables(save_text)
    missing = []
    for jump in jumps:
        found = any(line.startswith(f"-A {jump.chain} ") and line.endswith(f"-j {jump.target}")
                    and f'--comment "{jump.comment}"' in line for line in by_table.get(jump.table, []))
        if not found:
            missing.append(jump)
    return missing


SERVICE_LINK = "kube-svc0"
SERVICE_LINK_PEER = "kube-svc0p"


async def ensure_service_route(netns: NetnsCommand, cidr: str) -> None:
    """Route the Service range into a dead-end link in the node's namespace.

    Why a route at all: a locally generated packet is routed when the socket connects, before
    the OUTPUT chain can DNAT it, so with no default route (our nodes have none) ``connect`` to a
    ClusterIP fails with ENETUNREACH. On a real node the default route plays this part.

    Why this route (each alternative was tried in a node namespace):

    * ``local <cidr> dev lo``: the kernel then uses the ClusterIP itself as the source address,
      which the endpoint cannot answer; and any listener on 0.0.0.0 answers every ClusterIP.
    * ``<cidr> dev lo``: DNAT works, but the ICMP port-unreachable of a REJECT (a Service
      without endpoints) never reaches the socket, so clients time out instead of being refused.
    * ``<cidr> dev kube-svc0``, one end of a veth pair whose other end stays down (the kernel
      here has no dummy links; upstream's IPVS mode uses a dummy ``kube-ipvs0`` the same way):
      the source is a node address, DNAT re-routes to the endpoint, REJECT refuses at once, and a
      packet no rule catches is dropped by the link, as off-node traffic with no route would be.
    """
    try:
        await netns.run("ip", "link", "show", "dev", SERVICE_LINK)
    except IptablesError:
        await netns.run("ip", "link", "add", SERVICE_LINK, "type", "veth", "peer", "name", SERVICE_LINK_PEER)
    await netns.run("ip", "link", "set", SERVICE_LINK, "up")
    await netns.run("ip", "route", "replace", cidr, "dev", SERVICE_LINK, "proto", "static")


async def remove_service_route(netns: NetnsCommand) -> bool:
    """Delete the dead-end link (its route goes with it); False when there was none."""
    try:
        await netns.run("ip", "link", "del", SERVICE_LINK)
    except IptablesError:
        return False
    return True
