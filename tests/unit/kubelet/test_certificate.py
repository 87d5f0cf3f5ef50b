"""The kubelet's client certificate: the CSR it sends, waiting for it to be issued or denied,
the certificate directory, the bootstrap decision and the rotation deadline and swap."""

from __future__ import annotations

import asyncio
import base64
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeplane.client import AlreadyExists, ClientConfig, load_kubeconfig
from kubeplane.client.rest import MODIFIED, WatchEvent
from kubeplane.component.pki import cert_pem, create_ca, issue_client_cert, key_pem
from kubeplane.controllers.certificates.signer import ClusterSigner
from kubeplane.kubelet.certificate import (
    CertificateManager,
    CertificateStore,
    CSRDeniedError,
    RotatingClientConfig,
    request_node_certificate,
    rotation_deadline,
)
from kubeplane.kubelet.certificate.bootstrap import usable_kubeconfig
from kubeplane.kubelet.certificate.csr import build_request, csr_name, generate_key
from kubeplane.kubelet.certificate.store import KeyPair, write_kubeconfig

CA = create_ca("test-ca")
SIGNER = ClusterSigner(CA.cert, CA.key)


def sign(csr: dict[str, Any], lifetime: int | None = None) -> str:
    request = x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"]))
    pem = SIGNER.sign(request, set(csr["spec"]["usages"]), lifetime, datetime.now(UTC))
    return base64.b64encode(pem).decode()


class FakeCSRClient:
    """Just enough of ``Client`` for CSRs: creates are kept; the test decides what the watch says."""

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.created: list[dict[str, Any]] = []
        self.events: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self.config = config

    async def create(self, resource: Any, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if any(c["metadata"]["name"] == body["metadata"]["name"] for c in self.created):
            raise AlreadyExists(409, "AlreadyExists", "exists", {})
        self.created.append(body)
        return body

    async def list(self, resource: Any, **_: Any) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": "1"}, "items": []}

    async def watch(self, resource: Any, **_: Any) -> Any:
        while True:
            yield await self.events.get()

    def decide(self, condition: str | None = None, lifetime: int | None = None) -> None:
        csr = self.created[-1]
        status: dict[str, Any] = {"conditions": [{"type": condition or "Approved", "status": "True",
                                                  "reason": "Testing", "message": "by the test"}]}
        if condition is None:
            status["certificate"] = sign(csr, lifetime)
        self.events.put_nowait(WatchEvent(MODIFIED, {**csr, "status": status}))


def test_the_request_is_a_node_client_csr_with_an_ec_p256_key() -> None:
    key = generate_key()
    request = x509.load_pem_x509_csr(build_request("ip-198-18-0-5.ec2.internal", key))
    assert request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "system:node:ip-198-18-0-5.ec2.internal"
    assert [a.value for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:nodes"]
    public = request.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    assert request.is_signature_valid


def test_the_csr_name_is_a_digest_of_key_and_subject() -> None:
    key, other = generate_key(), generate_key()
    name = csr_name("n1", key)
    assert name.startswith("node-csr-") and len(name) <= 253
    assert csr_name("n1", key) == name
    assert csr_name("n1", other) != name and csr_name("n2", key) != name


async def test_request_creates_the_csr_and_returns_the_issued_certificate() -> None:
    client = FakeCSRClient()
    key = generate_key()
    task = asyncio.create_task(request_node_certificate(client, "n1", key, timeout=10))  # type: ignore[arg-type]
    while not client.created:
        await asyncio.sleep(0.01)
    spec = client.created[0]["spec"]
    assert spec["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
    assert spec["usages"] == ["digital signature", "client auth"]
    assert client.created[0]["metadata"]["name"] == csr_name("n1", key)
    client.decide()
    cert = x509.load_pem_x509_certificate(await task)
    assert cert.subject.rfc4514_string() == "CN=system:node:n1,O=system:nodes"


async def test_a_denied_csr_raises_with_its_reason() -> None:
    client = FakeCSRClient()
    task = asyncio.create_task(request_node_certificate(client, "n1", generate_key(), timeout=10))  # type: ignore[arg-type]
    while not client.created:
        await asyncio.sleep(0.01)
    client.decide("Denied")
    with pytest.raises(CSRDeniedError, match="denied: Testing by the test"):
        await task


def test_store_keeps_each_pair_and_points_current_at_the_newest(tmp_path: Path) -> None:
    store = CertificateStore(tmp_path / "pki")
    assert store.current() is None
    first = issue_client_cert(CA, "system:node:n1", ["system:nodes"])
    second = issue_client_cert(CA, "system:node:n1", ["system:nodes"])
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    path1 = store.update(cert_pem(first.cert), key_pem(first.key), t0)
    path2 = store.update(cert_pem(second.cert), key_pem(second.key), t0 + timedelta(seconds=1))
    assert path1.name == "kubelet-client-2026-01-01-00-00-00.pem" and path1.exists()
    assert store.current_path.is_symlink() and store.current_path.resolve() == path2.resolve()
    current = store.current()
    assert current is not None and current.certificate.serial_number == second.cert.serial_number
    assert oct(path2.stat().st_mode & 0o777) == "0o600"
    again = store.update(cert_pem(first.cert), key_pem(first.key), t0)  # same second: a new file
    assert again.name == "kubelet-client-2026-01-01-00-00-00-1.pem" and path1.read_bytes() != b""
    assert store.current_path.resolve() == again.resolve()


def test_the_written_kubeconfig_reads_the_current_pair(tmp_path: Path) -> None:
    store = CertificateStore(tmp_path / "pki")
    pair = issue_client_cert(CA, "system:node:n1", ["system:nodes"])
    store.update(cert_pem(pair.cert), key_pem(pair.key))
    kubeconfig = tmp_path / "kubelet.kubeconfig"
    write_kubeconfig(kubeconfig, "https://127.0.0.1:6443", cert_pem(CA.cert), store.current_path)
    user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
    assert user == {"client-certificate": str(store.current_path), "client-key": str(store.current_path)}
    config = load_kubeconfig(kubeconfig)
    assert config.client_cert_data is not None
    assert x509.load_pem_x509_certificate(config.client_cert_data).serial_number == pair.cert.serial_number
    assert usable_kubeconfig(kubeconfig, datetime.now(UTC)) is not None
    assert usable_kubeconfig(kubeconfig, datetime.now(UTC) + timedelta(days=3650)) is None  # expired
    assert usable_kubeconfig(tmp_path / "missing", datetime.now(UTC)) is None


def test_rotation_deadline_is_between_70_and_90_percent_of_the_lifetime() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=10)
    assert rotation_deadline(start, end, lambda: 0.0) == start + timedelta(days=7)
    assert rotation_deadline(start, end, lambda: 1.0) == start + timedelta(days=9)
    assert rotation_deadline(start, end, lambda: 0.5) == start + timedelta(days=8)


async def test_rotation_stores_a_new_certificate_and_swaps_the_tls_credentials(tmp_path: Path) -> None:
    old = issue_client_cert(CA, "system:node:n1", ["system:nodes"])
    base = ClientConfig("https://127.0.0.1:1", ca_data=cert_pem(CA.cert), client_cert_data=cert_pem(old.cert),
                        client_key_data=key_pem(old.key))
    config = RotatingClientConfig.of(base)
    assert config.tls is not None and config.ssl_context() is config.tls.context
    client = FakeCSRClient(config)
    store = CertificateStore(tmp_path / "pki")
    manager = CertificateManager(client, store, "n1", config.tls,  # type: ignore[arg-type]
                                 initial=KeyPair(cert_pem(old.cert), key_pem(old.key)), rng=lambda: 0.0)
    old_deadline = manager.next_deadline()
    assert old.cert.not_valid_before_utc < old_deadline < old.cert.not_valid_after_utc
    task = asyncio.create_task(manager.rotate())
    while not client.created:
        await asyncio.sleep(0.01)
    client.decide(lifetime=3600)
    pair = await task
    current = store.current()
    assert current is not None and current.cert_pem == pair.cert_pem
    assert pair.certificate.serial_number != old.cert.serial_number
    # The next deadline follows the new, one-hour certificate: 70% in.
    lifetime = pair.certificate.not_valid_after_utc - pair.certificate.not_valid_before_utc
    assert manager.next_deadline() == pair.certificate.not_valid_before_utc + lifetime * 0.7
    # The shared context now presents the new certificate: a TLS server asking for it sees it.
    assert await presented_certificate(config.tls.context, tmp_path) == pair.certificate.serial_number


async def presented_certificate(client_context: ssl.SSLContext, tmp_path: Path) -> int:
    """The serial of the client certificate a fresh connection made with ``client_context`` shows."""
    server_pair = issue_client_cert(CA, "localhost")  # any certificate the client's check can skip
    (tmp_path / "s.crt").write_bytes(cert_pem(server_pair.cert))
    (tmp_path / "s.key").write_bytes(key_pem(server_pair.key))
    (tmp_path / "ca.crt").write_bytes(cert_pem(CA.cert))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")
    server_context.load_verify_locations(tmp_path / "ca.crt")
    server_context.verify_mode = ssl.CERT_REQUIRED
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        seen.set_result(x509.load_der_x509_certificate(der).serial_number)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    client_context.check_hostname = False
    client_context.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
    serial = await asyncio.wait_for(seen, 10)
    writer.close()
    server.close()
    await server.wait_closed()
    return serial


async def test_a_kubelet_stopped_while_bootstrapping_stops() -> None:
    from kubeplane.kubelet.app import _unless_stopped

    stop = asyncio.Event()
    never = asyncio.Event()
    waiting = asyncio.create_task(_unless_stopped(never.wait(), stop))
    await asyncio.sleep(0)
    stop.set()
    assert await asyncio.wait_for(waiting, 10) is None
    assert await _unless_stopped(asyncio.sleep(0, "done"), asyncio.Event()) == "done"
