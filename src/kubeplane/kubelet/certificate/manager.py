"""Client certificate rotation (client-go's certificate manager): renew at a jittered 70-90% of
the certificate's lifetime with a fresh key and a CSR made as the node itself (approved as
``selfnodeclient``), keep the pair in the certificate directory and swap the client's TLS
credentials, so new connections use it without a restart."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from kubeplane.client import Client
from kubeplane.kubelet.certificate.csr import generate_key, request_node_certificate
from kubeplane.kubelet.certificate.store import CertificateStore, KeyPair, ReloadableTLS

log = logging.getLogger(__name__)

MIN_FRACTION, MAX_FRACTION = 0.7, 0.9
INITIAL_BACKOFF = timedelta(seconds=2)
MAX_BACKOFF = timedelta(minutes=5)


def rotation_deadline(not_before: datetime, not_after: datetime, rng: Callable[[], float] = random.random) -> datetime:
    """When to renew: a uniformly jittered 70-90% of the way through the validity, so a fleet
    issued together does not renew together."""
    lifetime = not_after - not_before
    return not_before + lifetime * (MIN_FRACTION + (MAX_FRACTION - MIN_FRACTION) * rng())


class CertificateManager:
    def __init__(self, client: Client, store: CertificateStore, node_name: str, tls: ReloadableTLS,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 rng: Callable[[], float] = random.random, initial: KeyPair | None = None) -> None:
        # The pair in use before the first rotation when the cert dir has none (a kubeconfig with
        # its own certificate, not a bootstrapped one), as upstream's manager starts from it.
        self.initial = initial
        self.client = client
        self.store = store
        self.node_name = node_name
        self.tls = tls
        self.now = now
        self.rng = rng

    def next_deadline(self) -> datetime:
        """The rotation time of the current certificate (now, if there is none)."""
        current = self.store.current() or self.initial
        if current is None:
            return self.now()
        cert = current.certificate
        return rotation_deadline(cert.not_valid_before_utc, cert.not_valid_after_utc, self.rng)

    async def rotate(self) -> KeyPair:
        """Get, store and start using a new certificate; raises what went wrong."""
        key = generate_key()
        cert = await request_node_certificate(self.client, self.node_name, key)
        pair = KeyPair(cert, key)
        self.store.update(cert, key, self.now())
        self.tls.reload(pair)
        log.info("rotated the client certificate of system:node:%s; it expires %s", self.node_name,
                 pair.certificate.not_valid_after_utc.isoformat())
        return pair

    async def run(self) -> None:
        """Rotate at each deadline until cancelled; failures are logged and retried with backoff."""
        backoff = INITIAL_BACKOFF
        while True:
            wait = (self.next_deadline() - self.now()).total_seconds()
            if wait > 0:
                log.info("client certificate rotation in %.0fs", wait)
                await asyncio.sleep(wait)
            try:
                await self.rotate()
                backoff = INITIAL_BACKOFF
            except asyncio.CancelledError:
                raise
            except Exception as err:  # keep the current certificate, try again
                log.error("client certificate rotation failed: %s; retrying in %.0fs", err,
                          backoff.total_seconds())
                await asyncio.sleep(backoff.total_seconds())
                backoff = min(backoff * 2, MAX_BACKOFF)
