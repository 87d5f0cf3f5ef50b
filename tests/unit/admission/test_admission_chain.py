"""The chain's plugin selection and order, the config file, and NamespaceLifecycle/ServiceAccount
over the in-memory storage backend."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from kubeplane.apiserver.admission import AdmissionConfig, AdmissionConfigError, enabled_plugins
from kubeplane.apiserver.admission.chain import DEFAULT_ON, ORDER
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.registry import Registry, RegistryConfig
from kubeplane.apiserver.registry.store import DeleteOptions
from kubeplane.catalog import Catalog
from kubeplane.machinery.errors import StatusError
from kubeplane.storage.memory import MemoryStorage


def test_defaults_follow_upstream_order_and_flags() -> None:
    assert enabled_plugins() == [p for p in ORDER if p in DEFAULT_ON]
    assert "NodeRestriction" not in enabled_plugins()
    chosen = enabled_plugins(["NodeRestriction"], ["ServiceAccount", "ResourceQuota"])
    assert chosen[:4] == ["NamespaceLifecycle", "LimitRanger", "NodeRestriction", "PodSecurity"]
    assert "ResourceQuota" not in chosen
    with pytest.raises(AdmissionConfigError, match='plugin "Bogus" is unknown'):
        enabled_plugins(["Bogus"])
    with pytest.raises(AdmissionConfigError, match="overlapped"):
        enabled_plugins(["Priority"], ["Priority"])


def test_config_file_with_inline_and_path_configuration(tmp_path: Path) -> None:
    (tmp_path / "pss.yaml").write_text("defaults: {enforce: baseline}\n")
    config_file = tmp_path / "admission.yaml"
    config_file.write_text("""
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  path: pss.yaml
- name: DefaultTolerationSeconds
  configuration: {defaultNotReadyTolerationSeconds: 60}
""")
    config = AdmissionConfig.load(str(config_file))
    assert config.plugins["PodSecurity"] == {"defaults": {"enforce": "baseline"}}
    assert config.plugins["DefaultTolerationSeconds"]["defaultNotReadyTolerationSeconds"] == 60
    config_file.write_text("kind: Something\n")
    with pytest.raises(AdmissionConfigError):
        AdmissionConfig.load(str(config_file))


def _registry() -> Registry:
    catalog = Catalog.for_version("1.31")
    backend: dict[str, MemoryStorage] = {}

    def storage_for(prefix: str, info: Any) -> MemoryStorage:
        return backend.setdefault(prefix, MemoryStorage())

    return Registry(catalog, storage_for, RegistryConfig())


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_namespace_lifecycle_and_service_account_in_the_store() -> None:
    async def scenario() -> None:
        registry = _registry()
        admin = RequestContext(user="admin", groups=("system:masters",))
        namespaces, pods = registry.core("namespaces"), registry.core("pods")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        pods.strategy.default(pod)  # as the handler does before the store sees the object
        with pytest.raises(StatusError) as missing:
            await pods.create(RequestContext(namespace="ns1"), copy.deepcopy(pod))
        assert missing.value.code == 404 and missing.value.message == 'namespaces "ns1" not found'
        await namespaces.create(admin, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1"}})
        await registry.core("serviceaccounts").create(
            RequestContext(namespace="ns1"),
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
        created = await pods.create(RequestContext(namespace="ns1"), copy.deepcopy(pod))
        assert created["spec"]["serviceAccountName"] == "default"
        await namespaces.create(admin, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
        with pytest.raises(StatusError) as immortal:
            await namespaces.delete(admin, "default", DeleteOptions())
        assert immortal.value.code == 403
        assert immortal.value.message == 'namespaces "default" is forbidden: this namespace may not be deleted'

    _run(scenario())
