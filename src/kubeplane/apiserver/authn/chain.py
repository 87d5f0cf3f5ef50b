"""The request authenticator kube-apiserver builds: client certificate, then bearer tokens (each
token authenticator in turn), then anonymous; every authenticated user joins system:authenticated.

A bad credential is never downgraded to anonymous: a bearer token no authenticator accepts is
401, as upstream's fail-on-error union does, even with anonymous access enabled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kubeplane.apiserver.authn.types import (
    ANONYMOUS,
    AuthenticationError,
    TokenAuthenticator,
    TokenResult,
    with_authenticated_group,
)
from kubeplane.apiserver.authn.x509 import user_from_peer_cert
from kubeplane.apiserver.authz import UserInfo

log = logging.getLogger(__name__)


class Unauthenticated(Exception):
    """The request carried a credential that did not check out: answer 401."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None if there is no bearer header.
    An empty bearer token is a bad credential (upstream's invalidToken), not an absent one."""
    if not authorization:
        return None
    parts = authorization.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer":
        return None
    if not parts[1]:
        raise Unauthenticated("invalid bearer token")
    return parts[1]


class AudienceAgnostic:
    """Upstream's WrapAudienceAgnosticToken: a token kind without audiences (bootstrap tokens) is good
    for the API server's own audiences only."""

    def __init__(self, inner: TokenAuthenticator, api_audiences: Sequence[str]) -> None:
        self.inner = inner
        self.api_audiences = tuple(api_audiences)

    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        wanted = tuple(audiences) or self.api_audiences
        matched = tuple(a for a in wanted if a in self.api_audiences) if self.api_audiences else wanted
        if self.api_audiences and not matched:
            return None
        result = await self.inner.authenticate_token(token, matched)
        return TokenResult(result.user, matched) if result is not None else None


class RequestAuthenticator:
    def __init__(self, tokens: Sequence[TokenAuthenticator] = (), anonymous: bool = True,
                 api_audiences: Sequence[str] = ()) -> None:
        self.tokens = list(tokens)
        self.anonymous = anonymous
        self.api_audiences = tuple(api_audiences)

    async def authenticate(self, peer_cert: dict[str, Any] | None, authorization: str | None) -> UserInfo | None:
        """The request's user; None when there is no credential and anonymous access is off.
        Raises Unauthenticated for a credential that is present but not valid."""
        user = user_from_peer_cert(peer_cert)
        if user is not None:
            return with_authenticated_group(user)
        token = bearer_token(authorization)
        if token is not None:
            result = await self.authenticate_token(token, self.api_audiences)
            return with_authenticated_group(result.user)
        return ANONYMOUS if self.anonymous else None

    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult:
        """The first token authenticator's answer; Unauthenticated (with every reason) if none accepts it."""
        reasons: list[str] = []
        for authenticator in self.tokens:
            try:
                result = await authenticator.authenticate_token(token, audiences)
            except AuthenticationError as exc:
                reasons.append(str(exc))
                continue
            except Exception as exc:  # e.g. etcd unreachable: refuse rather than guess
                log.warning("token authenticator %s failed: %r", type(authenticator).__name__, exc)
                reasons.append("token could not be verified")
                continue
            if result is not None:
                return result
        message = "[" + ", ".join(reasons) + "]" if len(reasons) > 1 else (reasons[0] if reasons else "")
        log.info("bearer token refused: %s", message or "no authenticator recognised it")
        raise Unauthenticated(message or "invalid bearer token")
