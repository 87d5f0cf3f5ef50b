"""Reading bootstrap token Secrets (``kube-system/bootstrap-token-<id>``, type
``bootstrap.kubernetes.io/token``) as the bootstrap controllers need them."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

from kubeplane.client import Resource
from kubeplane.controllers.timeutil import parse_time

JSON = dict[str, Any]

SECRETS = Resource("", "v1", "secrets", kind="Secret")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
TOKEN_SECRET_TYPE = "bootstrap.kubernetes.io/token"
TOKEN_NAMESPACE = "kube-system"
TOKEN_SECRET_PREFIX = "bootstrap-token-"
# Only kube-system's bootstrap token Secrets: the other Secrets are none of these controllers' business.
TOKEN_SECRETS_SELECTOR = f"metadata.namespace={TOKEN_NAMESPACE},type={TOKEN_SECRET_TYPE}"
TOKEN_ID = re.compile(r"^[a-z0-9]{6}$")
TOKEN_SECRET = re.compile(r"^[a-z0-9]{16}$")


def secret_data(secret: JSON, key: str) -> str:
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return ""
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def is_token_secret(secret: JSON) -> bool:
    return secret.get("type") == TOKEN_SECRET_TYPE and secret["metadata"].get("namespace") == TOKEN_NAMESPACE


def time_left(secret: JSON, now: datetime) -> float | None:
    """Seconds until the token expires (0 once expired); None when it never expires. An
    unparseable expiration counts as expired: such a token is not to be trusted."""
    text = secret_data(secret, "expiration")
    if not text:
        return None
    expires = parse_time(text)
    if expires is None or expires.tzinfo is None:
        return 0.0
    return max(0.0, (expires - now).total_seconds())


def is_expired(secret: JSON, now: datetime) -> bool:
    return time_left(secret, now) == 0.0


def signing_token(secret: JSON, now: datetime) -> tuple[str, str] | None:
    """(token id, token secret) when the Secret is a valid, unexpired token meant for signing."""
    if not is_token_secret(secret) or secret["metadata"].get("deletionTimestamp"):
        return None
    token_id, token_secret = secret_data(secret, "token-id"), secret_data(secret, "token-secret")
    if not TOKEN_ID.match(token_id) or not TOKEN_SECRET.match(token_secret):
        return None
    if secret["metadata"].get("name") != TOKEN_SECRET_PREFIX + token_id:
        return None
    if secret_data(secret, "usage-bootstrap-signing") != "true" or is_expired(secret, now):
        return None
    return token_id, token_secret
