"""The TLS client certificate as a user: CN is the name, each O a group (upstream's CommonNameUserConversion)."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz import UserInfo
from kubeplane.component.certuser import name_and_groups_from_peer_cert


def user_from_peer_cert(cert: dict[str, Any] | None) -> UserInfo | None:
    identity = name_and_groups_from_peer_cert(cert)
    return UserInfo(*identity) if identity is not None else None
