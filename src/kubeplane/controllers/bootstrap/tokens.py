"""Reading bootstrap token Secrets (``kube-system/bootstrap-token-<id>``, type
``bootstrap.kubernetes.io/token``) as the bootstrap controllers need them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubeplane.client import Resource
from kubeplane.machinery import bootstraptoken as bt
from kubeplane.machinery.bootstraptoken import secret_data

JSON = dict[str, Any]

SECRETS = Resource("", "v1", "secrets", kind="Secret")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
# Only kube-system's bootstrap token Secrets: the other Secrets are none of these controllers' business.
TOKEN_SECRETS_SELECTOR = f"metadata.namespace={bt.SECRET_NAMESPACE},type={bt.SECRET_TYPE}"

__all__ = ["CONFIGMAPS", "SECRETS", "TOKEN_SECRETS_SELECTOR", "is_expired", "is_token_secret", "secret_data",
           "signing_token", "time_left"]


def is_token_secret(secret: JSON) -> bool:
    return secret.get("type") == bt.SECRET_TYPE and secret["metadata"].get("namespace") == bt.SECRET_NAMESPACE


def time_left(secret: JSON, now: datetime) -> float | None:
    """Seconds until the token expires (0 once expired); None when it never expires."""
    return bt.seconds_left(secret, now)


def is_expired(secret: JSON, now: datetime) -> bool:
    return time_left(secret, now) == 0.0


def signing_token(secret: JSON, now: datetime) -> tuple[str, str] | None:
    """(token id, token secret) when the Secret is a valid, unexpired token meant for signing."""
    if not is_token_secret(secret) or secret["metadata"].get("deletionTimestamp"):
        return None
    token_id, token_secret = secret_data(secret, "token-id"), secret_data(secret, "token-secret")
    if not bt.TOKEN_ID.match(token_id) or not bt.TOKEN_SECRET.match(token_secret):
        return None
    if secret["metadata"].get("name") != bt.SECRET_PREFIX + token_id:
        return None
    if secret_data(secret, "usage-bootstrap-signing") != "true" or is_expired(secret, now):
        return None
    return token_id, token_secret
