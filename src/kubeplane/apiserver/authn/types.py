"""What every authenticator shares: the result of a token check, the failure it raises, and the
read-only view of cluster objects (service accounts, pods, secrets, nodes) tokens are checked against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubeplane.apiserver.authz import UserInfo

JSON = dict[str, Any]

AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
ANONYMOUS = UserInfo(ANONYMOUS_USER, (UNAUTHENTICATED_GROUP,))


class AuthenticationError(Exception):
    """A credential this authenticator recognises but rejects (expired, forged, revoked ...).

    The message is for the server log and a TokenReview's ``status.error``; an HTTP client only
    ever sees upstream's bare ``401 Unauthorized``."""


@dataclass(frozen=True)
class TokenResult:
    user: UserInfo
    # The audiences the token was found valid for (the intersection with the requested ones).
    audiences: tuple[str, ...] = ()


class TokenAuthenticator(Protocol):
    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        """A user for the token, None if the token is not this authenticator's to judge, or raise
        AuthenticationError if it is but is not valid."""
        ...


class ObjectReader(Protocol):
    """Current objects, read consistently: a token must stop working as soon as its object is gone."""

    async def get(self, resource: str, namespace: str, name: str) -> JSON | None: ...


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """Upstream's AuthenticatedGroupAdder: every authenticated user is in system:authenticated."""
    if AUTHENTICATED_GROUP in user.groups or UNAUTHENTICATED_GROUP in user.groups:
        return user
    return UserInfo(user.name, (*user.groups, AUTHENTICATED_GROUP), user.uid, user.extra)
