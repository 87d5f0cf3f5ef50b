"""What `up --nodes` hands the kubelets for TLS bootstrap: a token Secret the API server's
bootstrap-token authenticator accepts (with kubeadm's groups) and a bootstrap kubeconfig the
client reads as that token; and the kubelet's flags for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from kubeplane.apiserver.authn.bootstrap_tokens import BootstrapTokenAuthenticator
from kubeplane.cli.identities import (
    NODE_TOKEN_GROUP,
    BootstrapToken,
    bootstrap_token_secret,
    node_bootstrap_rbac,
    write_bootstrap_kubeconfig,
)
from kubeplane.client import load_kubeconfig
from kubeplane.component.pki import cert_pem, create_ca
from kubeplane.kubelet.app import client_cert_options, parse_args


class Secrets:
    def __init__(self, secret: dict[str, Any]) -> None:
        self.secret = secret

    async def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        meta = self.secret["metadata"]
        return self.secret if (resource, namespace, name) == ("secrets", meta["namespace"], meta["name"]) else None


async def test_the_token_secret_authenticates_as_a_bootstrapper_until_it_expires() -> None:
    token = BootstrapToken.generate()
    expires = datetime.now(UTC) + timedelta(hours=24)
    secret = bootstrap_token_secret(token, expires)
    assert secret["metadata"] == {"name": f"bootstrap-token-{token.id}", "namespace": "kube-system"}
    authenticator = BootstrapTokenAuthenticator(Secrets(secret))
    result = await authenticator.authenticate_token(str(token), ())
    assert result is not None
    assert result.user.name == f"system:bootstrap:{token.id}"
    assert set(result.user.groups) == {"system:bootstrappers", NODE_TOKEN_GROUP}
    later = BootstrapTokenAuthenticator(Secrets(secret), clock=lambda: (expires + timedelta(seconds=1)).timestamp())
    assert await later.authenticate_token(str(token), ()) is None


def test_rbac_lets_bootstrappers_ask_and_nodes_renew() -> None:
    grants = {(b["roleRef"]["name"], b["subjects"][0]["name"]) for b in node_bootstrap_rbac()}
    prefix = "system:certificates.k8s.io:certificatesigningrequests:"
    assert grants == {("system:node-bootstrapper", "system:bootstrappers"),
                      (prefix + "nodeclient", "system:bootstrappers"),
                      (prefix + "selfnodeclient", "system:nodes")}


def test_the_bootstrap_kubeconfig_carries_the_token_and_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(cert_pem(create_ca().cert))
    paths = SimpleNamespace(name="kpboot", pki=SimpleNamespace(ca_cert=ca))
    record = SimpleNamespace(server="https://127.0.0.1:6443")
    token = BootstrapToken.generate()
    path = write_bootstrap_kubeconfig(paths, record, token, tmp_path / "bootstrap.kubeconfig")  # type: ignore[arg-type]
    config = load_kubeconfig(path)
    assert config.token == str(token) and config.ca_data == ca.read_bytes()
    assert config.client_cert_data is None


def test_kubelet_certificate_flags() -> None:
    base = ["--container-runtime-endpoint=unix:///run/c.sock", "--root-dir=/var/lib/kp"]
    opts = parse_args(base)
    assert client_cert_options(opts).cert_dir == Path("/var/lib/kp/pki")
    assert not opts.rotate_certificates and opts.bootstrap_kubeconfig == ""
    opts = parse_args([*base, "--bootstrap-kubeconfig=/b", "--cert-dir=/c", "--rotate-certificates=true"])
    certs = client_cert_options(opts)
    assert (certs.bootstrap_kubeconfig, certs.cert_dir, certs.rotate_certificates) == ("/b", Path("/c"), True)
