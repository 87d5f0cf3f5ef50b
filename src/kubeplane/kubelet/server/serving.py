"""How the kubelet serves its API: address, port and certificates (upstream's flags).

Many simulated kubelets share the root network namespace (they reach their containerd over a unix
socket), so ``--port`` defaults to 0, a free port, where upstream uses 10250; the port chosen is
reported in the Node's ``status.daemonEndpoints.kubeletEndpoint.Port``, which is how the API server
finds it. Without ``--tls-cert-file`` the kubelet makes a self-signed certificate in
``<root-dir>/pki`` as upstream does; the API server then needs no ``--kubelet-certificate-authority``
(upstream's behaviour: it does not verify kubelet certificates unless told to).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubeplane.component import pki


@dataclass(frozen=True)
class ServingOptions:
    address: str = "127.0.0.1"
    port: int = 0
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    client_ca_file: str = ""
    # Webhook: each request is checked with a SubjectAccessReview; AlwaysAllow: a certificate is enough.
    authorization_mode: str = "Webhook"


def serving_files(options: ServingOptions, root_dir: Path, node_name: str, node_ip: str) -> tuple[str, str]:
    """The certificate and key to serve with: the flags' files, or a self-signed pair made once."""
    if options.tls_cert_file:
        return options.tls_cert_file, options.tls_private_key_file
    directory = root_dir / "pki"
    cert, key = directory / "kubelet.crt", directory / "kubelet.key"
    if not cert.exists():
        directory.mkdir(parents=True, exist_ok=True)
        authority = pki.create_ca(f"{node_name}-ca")
        addresses = ["127.0.0.1", *([node_ip] if node_ip else [])]
        pki.write_certified_key(pki.issue_serving_cert(authority, node_name, [node_name, "localhost"], addresses),
                                cert, key)
    return str(cert), str(key)
