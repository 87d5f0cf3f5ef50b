"""Per-controller API clients (kube-controller-manager's ``--use-service-account-credentials``).

Without the flag every controller shares the controller manager's own client. With it, each
controller acts as ``system:serviceaccount:kube-system:<its service account>``, so RBAC grants
it only its ``system:controller:<name>`` role: the builder gets or creates that service account
with the manager's own ("root") client, asks the TokenRequest API for a token, and hands out a
client that sends it as a bearer token instead of the manager's certificate. Tokens are renewed
on demand once 80% of their lifetime has passed (upstream's dynamic client builder leaves a 20%
leeway), so a controller never sends an expired one while the API answers. Shared informers keep
using the root client, as upstream's do.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from kubeplane.client import AlreadyExists, ApiError, Client, Clock, NotFound, RealClock
from kubeplane.client.resource import SERVICEACCOUNTS

log = logging.getLogger(__name__)

JSON = dict[str, Any]

CONTROLLER_NAMESPACE = "kube-system"
# Upstream's defaults: one-hour tokens, renewed when less than 20% of their lifetime is left.
DEFAULT_EXPIRATION_SECONDS = 3600
REFRESH_AT_FRACTION = 0.8


class ClientBuilder(Protocol):
    """Hands each controller the client it acts through (no builder: the manager's own client)."""

    def client_for(self, service_account: str) -> Client: ...

    async def close(self) -> None: ...


class ServiceAccountTokenSource:
    """A service account's token from the TokenRequest API, renewed at 80% of its lifetime.

    The service account is created on first use (and again if someone deletes it). If renewal
    fails while the current token is still valid, the current token is kept and renewal is tried
    again on the next request; only an expired token turns a failed renewal into an error.
    """

    def __init__(self, root: Client, name: str, namespace: str = CONTROLLER_NAMESPACE,
                 expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS, clock: Clock | None = None) -> None:
        self.root = root
        self.name = name
        self.namespace = namespace
        self.expiration_seconds = expiration_seconds
        self.clock = clock or RealClock()
        self._token = ""
        self._refresh_at = 0.0  # clock.now() after which the token is renewed
        self._expires_at = 0.0  # clock.now() after which it is no longer sent
        self._lock = asyncio.Lock()  # concurrent workers share one renewal

    def needs_refresh(self) -> bool:
        return not self._token or self.clock.now() >= self._refresh_at

    async def token(self) -> str:
        if not self.needs_refresh():
            return self._token
        async with self._lock:
            if self.needs_refresh():  # another request may have renewed it while we waited
                await self._renew()
            return self._token

    async def _renew(self) -> None:
        try:
            issued = await self._request_token()
        except ApiError as err:
            if self._token and self.clock.now() < self._expires_at:
                log.warning("renewing the token of %s/%s failed (the current one is still valid): %s",
                            self.namespace, self.name, err)
                return
            raise
        self._token = issued["status"]["token"]
        lifetime = self._lifetime(issued)
        now = self.clock.now()
        self._refresh_at = now + REFRESH_AT_FRACTION * lifetime
        self._expires_at = now + lifetime
        log.info("got a token for %s/%s valid for %ds", self.namespace, self.name, lifetime)

    async def _request_token(self) -> JSON:
        await self._ensure_service_account()
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "spec": {"expirationSeconds": self.expiration_seconds}}
        try:
            return await self.root.create(SERVICEACCOUNTS, request, namespace=self.namespace,
                                          subresource="token", name=self.name)
        except NotFound:
            # The account was deleted since we saw it: make it again once.
            await self._ensure_service_account(known_missing=True)
            return await self.root.create(SERVICEACCOUNTS, request, namespace=self.namespace,
                                          subresource="token", name=self.name)

    async def _ensure_service_account(self, known_missing: bool = False) -> None:
        if not known_missing:
            try:
                await self.root.get(SERVICEACCOUNTS, self.name, self.namespace)
                return
            except NotFound:
                pass
        account = {"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": self.name, "namespace": self.namespace}}
        try:
            await self.root.create(SERVICEACCOUNTS, account, namespace=self.namespace)
            log.info("created service account %s/%s", self.namespace, self.name)
        except AlreadyExists:
            pass  # another replica (or an earlier run) made it

    def _lifetime(self, issued: JSON) -> float:
        """Seconds the issued token lives: from its expirationTimestamp, measured against the wall
        clock, but never longer than asked for (a skewed clock must not postpone renewal)."""
        asked = float(self.expiration_seconds)
        stamp = (issued.get("status") or {}).get("expirationTimestamp")
        if not stamp:
            return asked
        try:
            expiry = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            return asked
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)
        remaining = (expiry - self.clock.wall()).total_seconds()
        return max(0.0, min(asked, remaining))


class ServiceAccountClientBuilder:
    """One client per service account, each with its own refreshed token; the manager's TLS
    client certificate is left out so the token is what authenticates (upstream's
    ``AnonymousClientConfig``)."""

    def __init__(self, root: Client, namespace: str = CONTROLLER_NAMESPACE,
                 expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS, clock: Clock | None = None) -> None:
        self.root = root
        self.namespace = namespace
        self.expiration_seconds = expiration_seconds
        self.clock = clock or RealClock()
        self._clients: dict[str, Client] = {}

    def client_for(self, service_account: str) -> Client:
        if service_account not in self._clients:
            source = ServiceAccountTokenSource(self.root, service_account, self.namespace,
                                               self.expiration_seconds, self.clock)
            config = replace(self.root.config, client_cert_data=None, client_key_data=None, token=None,
                             token_file=None, token_source=source)
            # Same field manager as the root client: managedFields name the controller manager.
            self._clients[service_account] = Client(config, component="controller-manager",
                                                    field_manager=self.root.field_manager)
        return self._clients[service_account]

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
