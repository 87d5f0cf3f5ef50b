"""TLS bootstrap (upstream ``LoadClientCert``): with a usable ``--kubeconfig`` nothing happens;
otherwise the bootstrap kubeconfig's identity (a bootstrap token) asks for a node certificate,
which lands in the certificate directory, and a kubeconfig pointing at it is written."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from kubeplane.client import Client, ClientConfig, ConfigError, load_kubeconfig
from kubeplane.kubelet.certificate.csr import CSRDeniedError, generate_key, request_node_certificate
from kubeplane.kubelet.certificate.store import CertificateStore, KeyPair, write_kubeconfig

log = logging.getLogger(__name__)

# Kept across restarts so a kubelet restarted mid-bootstrap asks with the same key, and so finds
# its pending CSR again (the name digests the key) instead of piling up new ones.
PENDING_KEY = "kubelet-client.key.tmp"
COMPONENT = "kubelet-bootstrap"


def usable_kubeconfig(path: Path, now: datetime) -> ClientConfig | None:
    """The kubeconfig's config if it loads and its client certificate is valid ``now``."""
    try:
        config = load_kubeconfig(path)
    except (OSError, ConfigError, ValueError) as err:
        log.info("kubeconfig %s is not usable (%s): bootstrapping", path, err)
        return None
    if config.client_cert_data is None or config.client_key_data is None:
        return config  # a token or other identity: not ours to judge
    try:
        valid = KeyPair(config.client_cert_data, config.client_key_data).valid_at(now)
    except ValueError as err:
        log.info("kubeconfig %s has an unreadable certificate (%s): bootstrapping", path, err)
        return None
    if not valid:
        log.info("kubeconfig %s has a certificate outside its validity: bootstrapping", path)
    return config if valid else None


def _pending_key(cert_dir: Path) -> bytes:
    path = cert_dir / PENDING_KEY
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = generate_key()
    cert_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


async def load_client_cert(kubeconfig: Path, bootstrap_kubeconfig: Path, cert_dir: Path, node_name: str,
                           max_backoff: float = 60.0) -> ClientConfig:
    """The kubelet's client config, bootstrapping it first when needed. A denied or failed CSR,
    or an unreachable API server, is logged and retried with exponential backoff (a new key after
    a denial) until it succeeds: upstream's kubelet waits the same way instead of exiting."""
    if (config := usable_kubeconfig(kubeconfig, datetime.now(UTC))) is not None:
        return config
    bootstrap = load_kubeconfig(bootstrap_kubeconfig)
    store = CertificateStore(cert_dir)
    delay = 1.0
    async with Client(bootstrap, component=COMPONENT) as client:
        while True:
            key = _pending_key(cert_dir)
            try:
                cert = await request_node_certificate(client, node_name, key)
                break
            except CSRDeniedError as err:
                log.error("TLS bootstrap: %s; retrying with a new key in %.0fs", err, delay)
                (cert_dir / PENDING_KEY).unlink(missing_ok=True)
            except Exception as err:  # unreachable server, timeout, ...: retried
                log.error("TLS bootstrap: requesting a client certificate failed: %s; retrying in %.0fs",
                          err, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff)
    pair_file = store.update(cert, key)
    (cert_dir / PENDING_KEY).unlink(missing_ok=True)
    write_kubeconfig(kubeconfig, bootstrap.server, bootstrap.ca_data, store.current_path)
    log.info("TLS bootstrap: client certificate for system:node:%s stored in %s", node_name, pair_file)
    return load_kubeconfig(kubeconfig)
