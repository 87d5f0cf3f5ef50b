"""Where the API server is and how to prove who we are: kubeconfig and in-cluster config.

Only what our components and tests use is understood: server, CA (data or file), client
certificate/key (data or file), bearer token (inline or file), insecure-skip-tls-verify and
contexts. Exec and auth-provider plugins are out of scope; in their place a program may hand a
``TokenSource`` (e.g. the controller manager's per-controller service-account tokens, which it
requests and refreshes itself).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    pass


class TokenSource(Protocol):
    """Hands out a current bearer token, renewing it as it sees fit (asked before every request)."""

    async def token(self) -> str: ...


@dataclass(frozen=True)
class ClientConfig:
    server: str
    ca_data: bytes | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    token: str | None = None
    token_file: Path | None = None
    insecure_skip_tls_verify: bool = False
    namespace: str = "default"
    # Wins over token/token_file; not part of equality (it is a live object, not configuration).
    token_source: TokenSource | None = field(default=None, compare=False)

    def bearer_token(self) -> str | None:
        """The token to send; a token file is re-read so rotated service-account tokens work."""
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        return self.token

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https://"):
            return None
        context = ssl.create_default_context()
        if self.insecure_skip_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            context.load_verify_locations(cadata=self.ca_data.decode())
        if self.client_cert_data and self.client_key_data:
            load_cert_chain_from_memory(context, self.client_cert_data, self.client_key_data)
        return context


def load_cert_chain_from_memory(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # The ssl module only loads key pairs from files: write them to a private temporary
    # directory for the duration of the call.
    with tempfile.TemporaryDirectory(prefix="kubeplane-tls-") as tmp:
        cert_path, key_path = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        cert_path.write_bytes(cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key)
        context.load_cert_chain(str(cert_path), str(key_path))


def _named(entries: list[Any] | None, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(what)
            return body if isinstance(body, dict) else {}
    raise ConfigError(f"kubeconfig has no {what} named {name!r}")


def _data_or_file(section: dict[str, Any], data_key: str, file_key: str, base: Path) -> bytes | None:
    if section.get(data_key):
        return base64.b64decode(section[data_key])
    if section.get(file_key):
        return (base / section[file_key]).read_bytes()
    return None


def load_kubeconfig(path: str | os.PathLike[str] | None = None, context: str | None = None) -> ClientConfig:
    """Read a kubeconfig (``path``, else $KUBECONFIG's first entry, else ~/.kube/config)."""
    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        path = env.split(os.pathsep)[0] if env else Path.home() / ".kube" / "config"
    file = Path(path)
    document = yaml.safe_load(file.read_text()) or {}
    base = file.parent
    context_name = context or document.get("current-context")
    if not context_name:
        raise ConfigError(f"{file}: no context given and no current-context")
    ctx = _named(document.get("contexts"), context_name, "context")
    cluster = _named(document.get("clusters"), ctx.get("cluster", ""), "cluster")
    user = _named(document.get("users"), ctx["user"], "user") if ctx.get("user") else {}
    if not cluster.get("server"):
        raise ConfigError(f"{file}: cluster {ctx.get('cluster')!r} has no server")
    token_file = user.get("tokenFile")
    return ClientConfig(
        server=str(cluster["server"]).rstrip("/"),
        ca_data=_data_or_file(cluster, "certificate-authority-data", "certificate-authority", base),
        client_cert_data=_data_or_file(user, "client-certificate-data", "client-certificate", base),
        client_key_data=_data_or_file(user, "client-key-data", "client-key", base),
        token=user.get("token"),
        token_file=base / token_file if token_file else None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        namespace=str(ctx.get("namespace") or "default"),
    )


def in_cluster_config(secrets_dir: Path = SERVICE_ACCOUNT_DIR) -> ClientConfig:
    """The config of a pod: the service host/port from the environment, the mounted SA token and CA."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConfigError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
    if ":" in host:
        host = f"[{host}]"
    namespace_file = secrets_dir / "namespace"
    return ClientConfig(
        server=f"https://{host}:{port}",
        ca_data=(secrets_dir / "ca.crt").read_bytes(),
        token_file=secrets_dir / "token",
        namespace=namespace_file.read_text().strip() if namespace_file.exists() else "default",
    )
