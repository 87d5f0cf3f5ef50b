"""The admin kubeconfig of a cluster, and merging it into a user's kubeconfig file."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

from kubeplane.component.pki import ClusterPKI

KubeConfig = dict[str, Any]


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def admin_kubeconfig(name: str, server: str, pki: ClusterPKI) -> KubeConfig:
    """A self-contained kubeconfig (certificates embedded) whose cluster, user and context are all
    called ``name``, with that context current."""
    return client_kubeconfig(name, server, pki, pki.admin_cert, pki.admin_key)


def client_kubeconfig(name: str, server: str, pki: ClusterPKI, cert: Path, key: Path) -> KubeConfig:
    """The same shape for any client certificate (a control-plane component's identity)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {
            "server": server, "certificate-authority-data": _b64(pki.ca_cert)}}],
        "users": [{"name": name, "user": {
            "client-certificate-data": _b64(cert), "client-key-data": _b64(key)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }


def dump(config: KubeConfig) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def write(path: Path, config: KubeConfig) -> None:
    """Atomically, readable by the owner only: the file holds a private key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".kubeplane.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(dump(config))
    os.replace(tmp, path)


def default_merge_target() -> Path:
    """Where kubectl reads and writes by default: the first file of $KUBECONFIG, else ~/.kube/config."""
    files = [f for f in os.environ.get("KUBECONFIG", "").split(os.pathsep) if f]
    return Path(files[0]) if files else Path.home() / ".kube" / "config"


def _upsert(entries: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    others = [e for e in entries if isinstance(e, dict) and e.get("name") != entry["name"]]
    return [*others, entry]


def merge(existing: KubeConfig | None, addition: KubeConfig) -> KubeConfig:
    """existing with addition's clusters, users and contexts added or replaced by name and its
    current-context made current; every other entry and setting is kept."""
    merged: KubeConfig = dict(existing or {})
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    merged.setdefault("preferences", {})
    for section in ("clusters", "users", "contexts"):
        entries = list(merged.get(section) or [])
        for entry in addition[section]:
            entries = _upsert(entries, entry)
        merged[section] = entries
    merged["current-context"] = addition["current-context"]
    return merged


def merge_into_file(path: Path, addition: KubeConfig) -> None:
    existing = yaml.safe_load(path.read_text()) if path.exists() else None
    if existing is not None and not isinstance(existing, dict):
        raise ValueError(f"{path} is not a kubeconfig (expected a mapping)")
    write(path, merge(existing, addition))
