"""A verified TLS client certificate as a user name and groups: CN is the name, each O a group
(upstream's CommonNameUserConversion), shared by the API server's and the kubelet's x509
authentication.

The TLS layer has already verified the certificate against --client-ca-file; without a verified
certificate Python's ``getpeercert()`` returns nothing."""

from __future__ import annotations

from typing import Any


def name_and_groups_from_peer_cert(cert: dict[str, Any] | None) -> tuple[str, tuple[str, ...]] | None:
    """(CN, every O) of ``ssl.SSLSocket.getpeercert()``'s dict, or None without a cert or a CN."""
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
    return (name, tuple(groups)) if name else None
