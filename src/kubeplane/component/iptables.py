"""Commands in a node's network namespace, iptables among them: one restore per sync, saves to
see what exists. Shared by kube-proxy (``kubeplane.proxy``) and the NetworkPolicy agent.

Commands run as ``nsenter --net=<netns path> iptables-restore ...`` so the calling process itself
stays in its own namespace (it serves metrics there and reaches the API server from there).
The binaries are Debian's alternatives, nf_tables by default; a namespace must not mix backends.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass


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


def refuse_root_netns(netns_path: str, log: logging.Logger) -> bool:
    """True (and logged) when a node agent without ``--netns`` would program the host's own root
    namespace: a kubeplane node is always a namespace of its own."""
    if netns_path or not in_root_netns():
        return False
    log.error("refusing to program the host's root network namespace: pass --netns=<node netns path>")
    return True


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


# How long one restore may take. nf_tables restores grow faster than their payload: measured on
# 2 loaded cores (iptables 1.8.9), a full kube-proxy sync of 1,000 Services (~11,000 lines)
# took 2.5 s and of 10,000 Services (~107,000 lines) 137 s. A fixed limit either kills big syncs
# (the old 60 s did, at 10,000 Services, so the proxier never programmed anything) or waits far
# too long for a hung small one, so the limit grows with the square of the line count, about
# twice the measured time at 10,000 Services. (kube-proxy now writes big full syncs in slices of
# ~11,000 lines, each well inside the floor; the scaling guards any other large payload.)
RESTORE_TIMEOUT_FLOOR = 60.0
RESTORE_SECONDS_PER_SQUARED_LINE = 2.5e-8  # 107,000 lines -> 60 + 286 s


def restore_timeout(payload: str) -> float:
    lines = payload.count("\n")
    return RESTORE_TIMEOUT_FLOOR + RESTORE_SECONDS_PER_SQUARED_LINE * lines * lines


class Iptables:
    def __init__(self, netns: NetnsCommand, prefix: str = "iptables", restore_timeout: float | None = None) -> None:
        self.netns = netns
        self.prefix = prefix  # iptables (the system's choice), iptables-nft or iptables-legacy
        self.restore_timeout = restore_timeout  # seconds; None: scaled to the payload

    async def restore(self, payload: str) -> None:
        timeout = self.restore_timeout if self.restore_timeout is not None else restore_timeout(payload)
        # -w: wait for the xtables lock (legacy backend) instead of failing while another
        # program holds it.
        await self.netns.run(f"{self.prefix}-restore", "--noflush", "-w", "5", stdin=payload.encode(), timeout=timeout)

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
