"""The certificate directory (``--cert-dir``) as upstream keeps it: each issued certificate and
its key in one ``kubelet-client-<timestamp>.pem``, and ``kubelet-client-current.pem`` a symlink
to the newest, swapped atomically so a reader never sees half a pair. Also the kubeconfig that
points at the symlink, and a client config whose TLS credentials can be swapped in place."""

from __future__ import annotations

import base64
import os
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubeplane.client import ClientConfig
from kubeplane.client.config import load_cert_chain_from_memory

PAIR_PREFIX = "kubelet-client"
CURRENT = f"{PAIR_PREFIX}-current.pem"


@dataclass(frozen=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def valid_at(self, now: datetime) -> bool:
        cert = self.certificate
        return cert.not_valid_before_utc <= now < cert.not_valid_after_utc


def split_pem(data: bytes) -> KeyPair:
    """The certificate(s) and the private key of a combined PEM file."""
    certs: list[bytes] = []
    keys: list[bytes] = []
    block: list[bytes] = []
    in_key = False
    for line in data.splitlines(keepends=True):
        if line.startswith(b"-----BEGIN"):
            block, in_key = [], b"PRIVATE KEY" in line
        block.append(line)
        if line.startswith(b"-----END"):
            (keys if in_key else certs).append(b"".join(block))
    if not certs or not keys:
        raise ValueError("no certificate and private key in the file")
    serialization.load_pem_private_key(keys[0], password=None)  # raises on a damaged key
    return KeyPair(b"".join(certs), keys[0])


class CertificateStore:
    def __init__(self, cert_dir: Path) -> None:
        self.cert_dir = cert_dir

    @property
    def current_path(self) -> Path:
        return self.cert_dir / CURRENT

    def current(self) -> KeyPair | None:
        """The current pair, or None if there is none or it cannot be read."""
        try:
            return split_pem(self.current_path.read_bytes())
        except (OSError, ValueError):
            return None

    def update(self, cert_pem: bytes, key_pem: bytes, now: datetime | None = None) -> Path:
        """Keep a new pair and make it current; returns the pair's own file."""
        self.cert_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d-%H-%M-%S")
        pair = self.cert_dir / f"{PAIR_PREFIX}-{stamp}.pem"
        suffix = 0
        while pair.exists():  # two pairs in one second: never rewrite the file current points at
            suffix += 1
            pair = self.cert_dir / f"{PAIR_PREFIX}-{stamp}-{suffix}.pem"
        fd = os.open(pair, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(cert_pem.rstrip(b"\n") + b"\n" + key_pem)
        # A symlink is replaced atomically by renaming a new one over it.
        link = self.cert_dir / f".{CURRENT}.tmp"
        link.unlink(missing_ok=True)
        link.symlink_to(pair.name)
        os.replace(link, self.current_path)
        return pair


def write_kubeconfig(path: Path, server: str, ca_data: bytes | None, pair_file: Path) -> None:
    """The kubelet's kubeconfig, reading its certificate and key from the current-pair symlink
    (upstream's layout: rotation changes the symlink, never this file)."""
    cluster: dict[str, object] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    config = {"apiVersion": "v1", "kind": "Config",
              "clusters": [{"name": "default-cluster", "cluster": cluster}],
              "users": [{"name": "default-auth", "user": {"client-certificate": str(pair_file),
                                                          "client-key": str(pair_file)}}],
              "contexts": [{"name": "default-context",
                            "context": {"cluster": "default-cluster", "user": "default-auth"}}],
              "current-context": "default-context"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(yaml.safe_dump(config, sort_keys=False))
    os.replace(tmp, path)


class ReloadableTLS:
    """One SSL context for a client's whole life, whose client certificate can be replaced:
    OpenSSL copies the context's certificate into each new connection, so after ``reload`` new
    connections present the new certificate while open ones finish with the old."""

    def __init__(self, base: ClientConfig) -> None:
        context = ClientConfig.ssl_context(base)
        if context is None:
            raise ValueError("certificate rotation needs an https:// server")
        self.context: ssl.SSLContext = context

    def reload(self, pair: KeyPair) -> None:
        load_cert_chain_from_memory(self.context, pair.cert_pem, pair.key_pem)


@dataclass(frozen=True)
class RotatingClientConfig(ClientConfig):
    """A client config whose ``ssl_context`` is the shared reloadable one."""

    tls: ReloadableTLS | None = field(default=None, compare=False)

    @classmethod
    def of(cls, base: ClientConfig) -> RotatingClientConfig:
        rotating = cls(**{name: getattr(base, name) for name in base.__dataclass_fields__})
        object.__setattr__(rotating, "tls", ReloadableTLS(base))
        return rotating

    def ssl_context(self) -> ssl.SSLContext | None:
        return self.tls.context if self.tls is not None else super().ssl_context()
