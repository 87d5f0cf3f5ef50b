"""Idempotent netlink steps inside one named network namespace, through pyroute2.

Each ``ensure_*`` call reads the kernel's current state first and changes only what differs, so
the fabric can re-apply a whole VPC after a reboot or a half-finished operation. Sysctls are the
one thing netlink cannot set here; they are written through /proc/sys from a short-lived thread
that has joined the namespace (setns(2) moves only the calling thread, so the process and its
other threads stay where they are).
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pyroute2 import IPRoute, netns  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from kubeplane.network.vpc.names import netns_path

_T = TypeVar("_T")
RT_SCOPE_LINK = 253
RTPROT_STATIC = 4
MAIN_TABLE = 254


def netns_exists(name: str) -> bool:
    return os.path.exists(netns_path(name))


def list_netns() -> list[str]:
    return list(netns.listnetns())


def create_netns(name: str) -> None:
    if not netns_exists(name):
        netns.create(name)


def delete_netns(name: str) -> bool:
    """Unmount and unlink a namespace. Its interfaces die with it (and so do their veth peers in
    other namespaces) once no process holds it any more."""
    if not netns_exists(name):
        return False
    try:
        netns.remove(name)
    except FileNotFoundError:
        return False
    return True


def run_in_netns(name: str, action: Callable[[], _T]) -> _T:
    """Run ``action`` in a fresh thread that has joined namespace ``name``; return its result."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            netns.setns(netns_path(name), flags=0)
            outcome["value"] = action()
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=target, name=f"netns-{name}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    value: _T = outcome["value"]
    return value


def write_sysctls(name: str, values: Mapping[str, str]) -> None:
    """``values`` maps dotted sysctl keys (net.ipv4.ip_forward) to values, set inside ``name``."""
    def write_all() -> None:
        for key, value in values.items():
            path = "/proc/sys/" + key.replace(".", "/")
            with open(path, "w") as handle:
                handle.write(value)
    run_in_netns(name, write_all)


def socket_in_netns(name: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM,
                    proto: int = 0) -> socket.socket:
    """A socket that lives in namespace ``name`` (a socket keeps the namespace it was made in)."""
    return run_in_netns(name, lambda: socket.socket(family, kind, proto))


class Netns:
    """A netlink connection into one existing namespace. Use as a context manager."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ipr = IPRoute(netns=name, flags=0)

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.ipr.close()

    # ---- links ----------------------------------------------------------------------------

    def link_index(self, ifname: str) -> int | None:
        found = self.ipr.link_lookup(ifname=ifname)
        return found[0] if found else None

    def link_names(self) -> list[str]:
        return [link.get("ifname") for link in self.ipr.link("dump")]

    def link_mac(self, index: int) -> str:
        [link] = self.ipr.link("get", index=index)
        address: str = link.get("address")
        return address

    def set_up(self, ifname: str) -> None:
        index = self.link_index(ifname)
        if index is None:
            raise LookupError(f"no interface {ifname} in namespace {self.name}")
        self.ipr.link("set", index=index, state="up")

    def delete_link(self, ifname: str) -> bool:
        index = self.link_index(ifname)
        if index is None:
            return False
        try:
            self.ipr.link("del", index=index)
        except NetlinkError as err:
            if err.code != errno.ENODEV:
                raise
            return False
        return True

    def add_veth_into(self, ifname: str, peer_netns: str, peer_ifname: str, peer_mac: str) -> None:
        """Create a veth pair whose peer is born directly in ``peer_netns``: neither end ever
        exists in the root namespace, not even for a moment."""
        self.ipr.link("add", ifname=ifname, kind="veth",
                      peer={"ifname": peer_ifname, "address": peer_mac, "net_ns_fd": peer_netns})

    # ---- addresses ------------------------------------------------------------------------

    def ensure_only_ipv4(self, ifname: str, address: str, prefixlen: int) -> None:
        """Make ``address/prefixlen`` the interface's one IPv4 address (stale ones are removed)."""
        index = self.link_index(ifname)
        if index is None:
            raise LookupError(f"no interface {ifname} in namespace {self.name}")
        present = False
        for entry in self.ipr.addr("dump", index=index, family=socket.AF_INET):
            current = (entry.get("address"), entry["prefixlen"])
            if current == (address, prefixlen):
                present = True
            else:
                self.ipr.addr("del", index=index, address=current[0], prefixlen=current[1])
        if not present:
            self.ipr.addr("add", index=index, address=address, prefixlen=prefixlen)

    # ---- routes ---------------------------------------------------------------------------

    def replace_route(self, dst: str, ifname: str, gateway: str | None = None,
                      table: int = MAIN_TABLE) -> None:
        """Add or overwrite a route (``replace`` is netlink's own idempotent form)."""
        index = self.link_index(ifname)
        if index is None:
            raise LookupError(f"no interface {ifname} in namespace {self.name}")
        spec: dict[str, Any] = {"dst": dst, "oif": index, "table": table, "proto": RTPROT_STATIC}
        if gateway is None:
            spec["scope"] = RT_SCOPE_LINK
        else:
            spec["gateway"] = gateway
        self.ipr.route("replace", **spec)

    def host_routes_via(self, ifname: str) -> set[str]:
        """Destinations of the static /32 routes that leave through ``ifname`` (main table)."""
        index = self.link_index(ifname)
        if index is None:
            return set()
        found: set[str] = set()
        for route in self.ipr.route("dump", family=socket.AF_INET, table=MAIN_TABLE):
            if (route.get("oif") == index and route["dst_len"] == 32
                    and route["proto"] == RTPROT_STATIC):
                found.add(route.get("dst"))
        return found

    def delete_route(self, dst: str, ifname: str) -> None:
        index = self.link_index(ifname)
        if index is None:
            return
        try:
            self.ipr.route("del", dst=dst, oif=index, table=MAIN_TABLE)
        except NetlinkError as err:
            if err.code != errno.ESRCH:
                raise

    def routes(self, table: int | None = None) -> list[dict[str, Any]]:
        """IPv4 routes as plain dicts (dst, dst_len, gateway, oif, table), for checks and tests."""
        result = []
        for route in self.ipr.route("dump", family=socket.AF_INET):
            entry = {"dst": route.get("dst"), "dst_len": route["dst_len"], "gateway": route.get("gateway"),
                     "oif": route.get("oif"), "table": route.get("table")}
            if table is None or entry["table"] == table:
                result.append(entry)
        return result

    # ---- policy rules ---------------------------------------------------------------------

    def source_rules(self) -> dict[int, tuple[str | None, int]]:
        """IPv4 rules by priority: (source address, table)."""
        rules = {}
        for rule in self.ipr.rule("dump", family=socket.AF_INET):
            rules[rule.get("priority", 0)] = (rule.get("src"), rule.get("table"))
        return rules

    def ensure_source_rule(self, priority: int, source: str, table: int) -> None:
        current = self.source_rules().get(priority)
        if current == (source, table):
            return
        if current is not None:
            self.ipr.rule("del", priority=priority, family=socket.AF_INET)
        self.ipr.rule("add", priority=priority, src=source, src_len=32, table=table, family=socket.AF_INET)

    def delete_rule(self, priority: int) -> None:
        try:
            self.ipr.rule("del", priority=priority, family=socket.AF_INET)
        except NetlinkError as err:
            if err.code != errno.ENOENT:
                raise
