"""Kubeconfig loading: inline data, files relative to the kubeconfig, tokens, contexts, in-cluster."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from kubeplane.client.config import ConfigError, in_cluster_config, load_kubeconfig


def write(path: Path, document: dict) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


def kubeconfig(cluster: dict, user: dict, current: str = "main") -> dict:
    return {"apiVersion": "v1", "kind": "Config", "current-context": current,
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u", "namespace": "team"}},
                         {"name": "other", "context": {"cluster": "c", "user": "u"}}]}


def test_inline_data_and_token(tmp_path: Path) -> None:
    doc = kubeconfig({"server": "https://127.0.0.1:6443/", "certificate-authority-data":
                      base64.b64encode(b"CA").decode()}, {"token": "abc"})
    config = load_kubeconfig(write(tmp_path / "config", doc))
    assert config.server == "https://127.0.0.1:6443" and config.ca_data == b"CA"
    assert config.bearer_token() == "abc" and config.namespace == "team"


def test_files_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA")
    (tmp_path / "tok").write_text("rotated\n")
    doc = kubeconfig({"server": "https://h", "certificate-authority": "ca.crt"}, {"tokenFile": "tok"})
    config = load_kubeconfig(write(tmp_path / "config", doc), context="other")
    assert config.ca_data == b"CA" and config.bearer_token() == "rotated" and config.namespace == "default"


def test_missing_context_is_a_clear_error(tmp_path: Path) -> None:
    doc = kubeconfig({"server": "https://h"}, {})
    with pytest.raises(ConfigError, match="no context named 'nope'"):
        load_kubeconfig(write(tmp_path / "config", doc), context="nope")


def test_in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA")
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "namespace").write_text("kube-system")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "198.19.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    config = in_cluster_config(tmp_path)
    assert config.server == "https://198.19.0.1:443" and config.bearer_token() == "sa-token"
    assert config.namespace == "kube-system"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(ConfigError):
        in_cluster_config(tmp_path)
