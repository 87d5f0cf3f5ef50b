"""The TLS client certificate as a user: CN is the name, each O a group (upstream's CommonNameUserConversion).

The TLS layer has already verified the certificate against --client-ca-file; without a verified
certificate Python's ``getpeercert()`` returns nothing."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz import UserInfo


def user_from_peer_cert(cert: dict[str, Any] | None) -> UserInfo | None:
    if not cert:
        return None
    name = ""
    groups: list[str] = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    return UserInfo(name, tuple(groups)) if name else None
