"""Bootstrap token Secrets (``kube-system/bootstrap-token-<id>``, type ``bootstrap.kubernetes.io/token``):
the format the API server's authenticator and the bootstrap signer and token cleaner all read."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

JSON = dict[str, Any]

SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_NAMESPACE = "kube-system"
SECRET_PREFIX = "bootstrap-token-"
TOKEN_ID = re.compile(r"^[a-z0-9]{6}$")
TOKEN_SECRET = re.compile(r"^[a-z0-9]{16}$")


def secret_data(secret: JSON, key: str) -> str:
    """One ``data`` value decoded; "" when missing or not base64 of UTF-8 text."""
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return ""
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def seconds_left(secret: JSON, now: datetime) -> float | None:
    """Seconds until the token expires (0 once expired); None when it never expires. An
    expiration that is not RFC 3339 with a zone counts as expired: such a token is not trusted."""
    text = secret_data(secret, "expiration")
    if not text:
        return None
    try:
        expires = datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    if expires.tzinfo is None:
        return 0.0
    return max(0.0, (expires - now).total_seconds())
