"""The Service ranges heal while the API server runs, as upstream's bootstrap controller repairs
them: an address or port allocated by a replica that crashed before writing its Service (here: a
bit set straight in etcd's RangeAllocation) is freed on the second pass that finds it unused, and
an allocation the ranges lost is marked again. Nothing is freed from under a Service."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from apiserver_process import APIServerProcess, start_apiserver, stop_apiserver

from kubeplane.storage.etcd3.etcd_kv import EtcdKV

pytestmark = pytest.mark.integration

CIDR = ipaddress.ip_network("198.19.0.0/16")
NODE_PORT_BASE = 30000


@pytest.fixture
def repairing_server(etcd_url: str, tmp_path: Path) -> Iterator[APIServerProcess]:
    server = start_apiserver(tmp_path, etcd_url, f"/repair-{uuid.uuid4().hex[:8]}",
                             extra=("--service-repair-interval=0.3",))
    try:
        yield server
    finally:
        stop_apiserver(server)


def _bitmap(etcd_url: str, key: str, change: Callable[[bytearray], None] | None = None) -> bytearray:
    """The range's bitmap as stored; with ``change``, rewritten in place first (a compare-and-put)."""
    async def go() -> bytearray:
        kv = EtcdKV(etcd_url)
        try:
            while True:
                found = (await kv.range(key, "")).kvs[0]
                obj = orjson.loads(found.value)
                bits = bytearray(base64.b64decode(obj["data"]))
                if change is None:
                    return bits
                change(bits)
                obj["data"] = base64.b64encode(bytes(bits)).decode()
                if (await kv.put_if(key, orjson.dumps(obj), found.mod_revision)).succeeded:
                    return bits
        finally:
            await kv.close()
    return asyncio.run(go())


def _is_set(bits: bytearray, offset: int) -> bool:
    return bool(bits[offset >> 3] & (1 << (offset & 7)))


def _flip(offset: int, value: bool) -> Callable[[bytearray], None]:
    def change(bits: bytearray) -> None:
        if value:
            bits[offset >> 3] |= 1 << (offset & 7)
        else:
            bits[offset >> 3] &= ~(1 << (offset & 7)) & 0xFF
    return change


def _eventually(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_leaked_and_lost_allocations_are_repaired(repairing_server: APIServerProcess) -> None:
    server = repairing_server
    namespace = f"repair-{uuid.uuid4().hex[:6]}"
    server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": namespace}})
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kept"},
                            "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    status, created, _ = server.request("POST", f"/api/v1/namespaces/{namespace}/services", body)
    assert status == 201, created
    ip_offset = int(ipaddress.ip_address(created["spec"]["clusterIP"])) - int(CIDR.network_address)
    port_offset = created["spec"]["ports"][0]["nodePort"] - NODE_PORT_BASE
    ips_key = f"{server.etcd_prefix}/ranges/serviceips"
    ports_key = f"{server.etcd_prefix}/ranges/servicenodeports"
    leaked_ip = next(o for o in range(200, 400) if o != ip_offset and not _is_set(_bitmap(server.etcd_url, ips_key), o))
    leaked_port = next(o for o in range(2000, 2500) if o != port_offset)

    # A crashed replica's allocations, and the Service's own bits lost.
    _bitmap(server.etcd_url, ips_key, _flip(leaked_ip, True))
    _bitmap(server.etcd_url, ports_key, _flip(leaked_port, True))
    _bitmap(server.etcd_url, ips_key, _flip(ip_offset, False))
    _bitmap(server.etcd_url, ports_key, _flip(port_offset, False))

    def repaired() -> bool:
        ips, ports = _bitmap(server.etcd_url, ips_key), _bitmap(server.etcd_url, ports_key)
        return (not _is_set(ips, leaked_ip) and not _is_set(ports, leaked_port)
                and _is_set(ips, ip_offset) and _is_set(ports, port_offset))

    _eventually(repaired, "the leaked allocations freed and the Service's marked again")
    # The freed address can be taken by a new Service; the kept one's cannot.
    leaked_address = str(CIDR.network_address + leaked_ip)
    reuse = {**body, "metadata": {"name": "reuse"}, "spec": {"clusterIP": leaked_address, "ports": [{"port": 80}]}}
    assert server.request("POST", f"/api/v1/namespaces/{namespace}/services", reuse)[0] == 201
    taken = {**body, "metadata": {"name": "taken"},
             "spec": {"clusterIP": created["spec"]["clusterIP"], "ports": [{"port": 80}]}}
    status, refused, _ = server.request("POST", f"/api/v1/namespaces/{namespace}/services", taken)
    assert status == 422 and "provided IP is already allocated" in refused["message"]
