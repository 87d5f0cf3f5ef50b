"""Bootstrap tokens (``<id>.<secret>``) kept as ``bootstrap.kubernetes.io/token`` Secrets in kube-system.

Nodes joining a cluster present one; the user is ``system:bootstrap:<id>`` in ``system:bootstrappers``
plus the Secret's auth-extra-groups. Like upstream, a token that does not check out is "not mine"
(the next authenticator may know it) and the reason only goes to the log.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from kubeplane.apiserver.authn.types import ObjectReader, TokenResult
from kubeplane.apiserver.authz import UserInfo
from kubeplane.machinery.bootstraptoken import SECRET_NAMESPACE, SECRET_PREFIX, SECRET_TYPE, seconds_left
from kubeplane.machinery.bootstraptoken import secret_data as _data

log = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
USER_PREFIX = "system:bootstrap:"
DEFAULT_GROUP = "system:bootstrappers"
EXTRA_GROUP_PATTERN = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")


class BootstrapTokenAuthenticator:
    """Audience-agnostic, as upstream's: wrap it in ``AudienceAgnostic`` in a chain."""

    def __init__(self, objects: ObjectReader, clock: Callable[[], float] = time.time) -> None:
        self.objects = objects
        self.clock = clock

    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        match = TOKEN_PATTERN.match(token)
        if match is None:
            return None
        token_id, token_secret = match.groups()
        name = SECRET_PREFIX + token_id
        secret = await self.objects.get("secrets", SECRET_NAMESPACE, name)
        if secret is None:
            log.info("bootstrap secret %s/%s not found", SECRET_NAMESPACE, name)
            return None
        if secret["metadata"].get("deletionTimestamp"):
            log.info("bootstrap secret %s/%s is being deleted", SECRET_NAMESPACE, name)
            return None
        if secret.get("type") != SECRET_TYPE:
            log.info("secret %s/%s is not of type %s", SECRET_NAMESPACE, name, SECRET_TYPE)
            return None
        stored = _data(secret, "token-secret")
        if not hmac.compare_digest(stored.encode(), token_secret.encode()):
            log.info("bootstrap token %s: secret does not match", token_id)
            return None
        if _data(secret, "token-id") != token_id:
            log.info("bootstrap secret %s has a mismatching token-id", name)
            return None
        if seconds_left(secret, datetime.fromtimestamp(self.clock(), UTC)) == 0.0:
            log.info("bootstrap token %s has expired", token_id)
            return None
        if _data(secret, "usage-bootstrap-authentication") != "true":
            log.info("bootstrap token %s is not usable for authentication", token_id)
            return None
        groups = [DEFAULT_GROUP]
        for group in filter(None, (g.strip() for g in _data(secret, "auth-extra-groups").split(","))):
            if not EXTRA_GROUP_PATTERN.match(group):
                log.info("bootstrap token %s has an invalid extra group %r", token_id, group)
                return None
            if group not in groups:
                groups.append(group)
        return TokenResult(UserInfo(USER_PREFIX + token_id, tuple(groups)), tuple(audiences))
