"""Waiting for an HTTPS /readyz with the cluster CA and the admin client certificate."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from kubeplane.component import pki, process
from kubeplane.component.etcd import free_port


@pytest.fixture
def cluster_pki(tmp_path: Path) -> pki.ClusterPKI:
    return pki.create_cluster_pki(tmp_path / "pki", "198.19.0.0/16")


@pytest.fixture
async def readyz_server(cluster_pki: pki.ClusterPKI) -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTPS server that, like the API server, requires client certs signed by the cluster CA
    and serves /readyz; it records the client CN of every request."""
    seen: list[str] = []

    async def readyz(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(item[0] for item in peer["subject"]) if peer else {}
        seen.append(str(subject.get("commonName", "")))
        return web.Response(text="ok")

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(cluster_pki.ca_cert))
    context.load_cert_chain(str(cluster_pki.apiserver_cert), str(cluster_pki.apiserver_key))
    context.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        yield f"https://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_wait_https_ready_trusts_the_cluster_ca_and_presents_the_admin_cert(
        readyz_server: tuple[str, list[str]], cluster_pki: pki.ClusterPKI) -> None:
    url, seen = readyz_server
    tls = process.ClientTLS(cluster_pki.ca_cert, cluster_pki.admin_cert, cluster_pki.admin_key)
    await process.wait_https_ready(f"{url}/readyz", tls, timeout=10)
    assert seen == ["kubernetes-admin"]
    assert await process.https_get(f"{url}/readyz", tls) == (200, "ok")


async def test_a_server_cert_from_another_ca_is_never_ready(
        readyz_server: tuple[str, list[str]], cluster_pki: pki.ClusterPKI, tmp_path: Path) -> None:
    url, seen = readyz_server
    other = pki.create_cluster_pki(tmp_path / "other", "198.19.0.0/16")
    tls = process.ClientTLS(other.ca_cert, other.admin_cert, other.admin_key)
    with pytest.raises(TimeoutError):
        await process.wait_https_ready(f"{url}/readyz", tls, timeout=0.5)
    assert seen == []
