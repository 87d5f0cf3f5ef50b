"""Asking the cluster for a node client certificate: a CertificateSigningRequest for
``system:node:<name>`` in ``system:nodes`` (signer kube-apiserver-client-kubelet), then waiting
for the approver and the signer to act on it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeplane.client import AlreadyExists, Client, Resource
from kubeplane.client.rest import ADDED, ERROR, MODIFIED

log = logging.getLogger(__name__)

CSRS = Resource("certificates.k8s.io", "v1", "certificatesigningrequests", namespaced=False,
                kind="CertificateSigningRequest")
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
CLIENT_USAGES = ("digital signature", "client auth")


class CSRDeniedError(Exception):
    """The CSR was denied or failed: retrying the same request will not help."""


def generate_key() -> bytes:
    """A fresh EC P-256 private key, PEM (what upstream's kubelet generates)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def node_subject(node_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP),
                      x509.NameAttribute(NameOID.COMMON_NAME, NODE_USER_PREFIX + node_name)])


def build_request(node_name: str, key_pem: bytes) -> bytes:
    """The PEM certificate request for ``node_name``'s client identity, signed by ``key_pem``."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the kubelet's client key must be an EC key")
    request = x509.CertificateSigningRequestBuilder().subject_name(node_subject(node_name)).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM)


def csr_name(node_name: str, key_pem: bytes) -> str:
    """``node-csr-<digest>``: upstream digests the public key, subject and usages, so asking again
    with the same key (a kubelet restarted mid-bootstrap) finds the same CSR instead of a new one.
    Upstream encodes the digest base64url; lowercase base32 here, because our API server checks CSR
    names as DNS subdomains (upstream accepts any name)."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha512()
    for part in (public, node_subject(node_name).rfc4514_string().encode(), *(u.encode() for u in CLIENT_USAGES)):
        digest.update(len(part).to_bytes(4, "big") + part)
    return "node-csr-" + base64.b32encode(digest.digest()).decode().rstrip("=").lower()


def csr_object(name: str, request_pem: bytes, expiration_seconds: int | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"request": base64.b64encode(request_pem).decode(),
                               "signerName": KUBELET_CLIENT_SIGNER, "usages": list(CLIENT_USAGES)}
    if expiration_seconds is not None:
        spec["expirationSeconds"] = expiration_seconds
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name}, "spec": spec}


def issued_certificate(csr: dict[str, object]) -> bytes | None:
    """The certificate once approved and signed; raises ``CSRDeniedError`` if denied or failed."""
    status = csr.get("status") or {}
    assert isinstance(status, dict)
    for condition in status.get("conditions") or ():
        if condition.get("type") in ("Denied", "Failed") and condition.get("status", "True") == "True":
            raise CSRDeniedError(f"certificate signing request {csr['metadata']['name']} "  # type: ignore[index]
                                 f"{condition['type'].lower()}: {condition.get('reason', '')} "
                                 f"{condition.get('message', '')}".rstrip())
    certificate = status.get("certificate")
    return base64.b64decode(certificate) if certificate else None


async def request_node_certificate(client: Client, node_name: str, key_pem: bytes,
                                   expiration_seconds: int | None = None, timeout: float = 900.0) -> bytes:
    """Create (or find) the CSR for ``key_pem`` and wait until it carries a certificate (PEM).
    Raises ``CSRDeniedError`` when it is denied or failed, ``TimeoutError`` after ``timeout``."""
    name = csr_name(node_name, key_pem)
    body = csr_object(name, build_request(node_name, key_pem), expiration_seconds)
    with contextlib.suppress(AlreadyExists):
        await client.create(CSRS, body)
        log.info("certificate signing request %s created for system:node:%s", name, node_name)
    async with asyncio.timeout(timeout):
        return await _wait_issued(client, name)


async def _wait_issued(client: Client, name: str) -> bytes:
    while True:
        # List then watch from the list's resourceVersion: nothing between the two is missed.
        listed = await client.list(CSRS, field_selector=f"metadata.name={name}")
        for item in listed.get("items") or ():
            if (certificate := issued_certificate(item)) is not None:
                return certificate
        version = (listed.get("metadata") or {}).get("resourceVersion")
        async with contextlib.aclosing(client.watch(CSRS, resource_version=version, name=name,
                                                    timeout_seconds=60)) as events:
            async for event in events:
                if event.type == ERROR:
                    break  # e.g. 410: list again
                if event.type in (ADDED, MODIFIED) and (certificate := issued_certificate(event.object)):
                    return certificate
