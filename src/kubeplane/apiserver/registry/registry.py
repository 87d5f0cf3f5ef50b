"""Assemble one Store per served resource: strategy and store classes by (group, resource)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubeplane.apiserver.registry import workloads
from kubeplane.apiserver.registry.allocator import NodePortAllocator, ServiceIPAllocator
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.conversion import CONVERSIONS, ConvertingStorage
from kubeplane.apiserver.registry.core.namespaces import NamespaceStore, NamespaceStrategy
from kubeplane.apiserver.registry.core.pods import PodStrategy
from kubeplane.apiserver.registry.core.services import ServiceStore, ServiceStrategy
from kubeplane.apiserver.registry.rbac import RBACStore
from kubeplane.apiserver.registry.store import Store
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.catalog import Catalog, ResourceInfo
from kubeplane.machinery import defaults, errors
from kubeplane.storage import interface as st

JSON = dict[str, Any]

_STRATEGIES: dict[tuple[str, str], type[Strategy]] = {
    ("", "pods"): PodStrategy,
    ("", "services"): ServiceStrategy,
    ("", "namespaces"): NamespaceStrategy,
    ("", "nodes"): workloads.NodeStrategy,
    ("", "events"): workloads.EventStrategy,
    ("events.k8s.io", "events"): workloads.EventStrategy,
    ("", "endpoints"): workloads.CreateOnUpdateStrategy,
    ("coordination.k8s.io", "leases"): workloads.CreateOnUpdateStrategy,
    ("", "persistentvolumes"): workloads.StatusStrategyBase,
    ("", "persistentvolumeclaims"): workloads.StatusStrategyBase,
    ("", "resourcequotas"): workloads.StatusStrategyBase,
    ("", "replicationcontrollers"): workloads.OrphanByDefaultStrategy,
    ("apps", "deployments"): workloads.WorkloadStrategy,
    ("apps", "replicasets"): workloads.WorkloadStrategy,
    ("apps", "statefulsets"): workloads.WorkloadStrategy,
    ("apps", "daemonsets"): workloads.WorkloadStrategy,
    ("batch", "jobs"): workloads.JobStrategy,
    ("batch", "cronjobs"): workloads.WorkloadStrategy,
    ("autoscaling", "horizontalpodautoscalers"): workloads.WorkloadStrategy,
    ("policy", "poddisruptionbudgets"): workloads.WorkloadStrategy,
    ("networking.k8s.io", "ingresses"): workloads.WorkloadStrategy,
    ("certificates.k8s.io", "certificatesigningrequests"): workloads.StatusStrategyBase,
    ("apiextensions.k8s.io", "customresourcedefinitions"): workloads.WorkloadStrategy,
}


@dataclass
class RegistryConfig:
    key_prefix: str = "/registry"
    service_cidr: str = "198.19.0.0/16"
    node_port_base: int = 30000
    node_port_size: int = 2768


def _default_stored(info: ResourceInfo, minor: str, obj: JSON) -> None:
    defaults.apply(info.group, info.version, info.kind, obj, minor)


def key_root(prefix: str, info: ResourceInfo, catalog: Catalog) -> str:
    """Built-in resources keep upstream's group-less keys. A resource served in a version without a
    conversion to its storage version (none among the built-ins today) is kept apart by version."""
    base = f"{prefix}/{info.resource}" if info.group in ("", "apps", "batch") else \
        f"{prefix}/{info.group}/{info.resource}"
    if info.version != catalog.preferred_version(info.group):
        base += f"@{info.version}"
    return base


class Registry:
    def __init__(self, catalog: Catalog, storage_for: Callable[[str, ResourceInfo | None], st.Storage],
                 config: RegistryConfig) -> None:
        """``storage_for(prefix, info)`` gives the storage for one key prefix: a resource's (with its
        info) or the allocators' (info None)."""
        self.catalog = catalog
        self.config = config
        self.stores: dict[tuple[str, str, str], Store] = {}
        storages: dict[str, st.Storage] = {}  # one per key root, shared by the versions served from it

        def storage_at(root: str, info: ResourceInfo) -> st.Storage:
            if root not in storages:
                storages[root] = storage_for(root + "/", info)
            return storages[root]

        for info in catalog.resources:
            if "list" not in info.verbs:
                continue
            strategy_cls = _STRATEGIES.get((info.group, info.resource), Strategy)
            strategy = strategy_cls(info, catalog.minor)
            conversion = CONVERSIONS.get((info.group, info.version, info.resource))
            stored_as = catalog.lookup(conversion.storage_group, conversion.storage_version,
                                         conversion.storage_resource) if conversion else None
            if conversion is not None and stored_as is not None:
                root = key_root(config.key_prefix, stored_as, catalog)
                storage: st.Storage = ConvertingStorage(
                    storage_at(root, stored_as), conversion,
                    functools.partial(_default_stored, stored_as, catalog.minor))
            else:
                root = key_root(config.key_prefix, info, catalog)
                storage = storage_at(root, info)
            store_cls: type[Store] = Store
            if (info.group, info.resource) == ("", "services"):
                store_cls = ServiceStore
            elif (info.group, info.resource) == ("", "namespaces"):
                store_cls = NamespaceStore
            elif info.group == "rbac.authorization.k8s.io":
                store_cls = RBACStore
            store = store_cls(info, strategy, storage, root, namespace_guard=self._namespace_guard)
            self.stores[(info.group, info.version, info.resource)] = store
        services = self.stores.get(("", "v1", "services"))
        if isinstance(services, ServiceStore):
            ranges = storage_for(f"{config.key_prefix}/ranges/", None)
            services.configure(
                ServiceIPAllocator(ranges, f"{config.key_prefix}/ranges/serviceips", config.service_cidr),
                NodePortAllocator(ranges, f"{config.key_prefix}/ranges/servicenodeports",
                                  config.node_port_base, config.node_port_size))

    def rbac_stores(self) -> list[RBACStore]:
        return [s for s in self.stores.values() if isinstance(s, RBACStore)]

    def store(self, group: str, version: str, resource: str) -> Store | None:
        return self.stores.get((group, version, resource))

    def core(self, resource: str) -> Store:
        return self.stores[("", "v1", resource)]

    async def _namespace_guard(self, ctx: RequestContext, namespace: str, info: ResourceInfo,
                               name: str) -> None:
        """NamespaceLifecycle: content goes only into namespaces that exist and are not terminating."""
        store = self.stores[("", "v1", "namespaces")]
        obj = await store.storage.get(store.key("", namespace), "0", ignore_not_found=True)
        if obj is None:
            # The cache may lag a namespace created a moment ago: ask etcd before refusing.
            obj = await store.storage.get(store.key("", namespace), "", ignore_not_found=True)
        if obj is None:
            raise errors.not_found("", "namespaces", namespace)
        if obj["metadata"].get("deletionTimestamp"):
            message = f"unable to create new content in namespace {namespace} because it is being terminated"
            err = errors.forbidden(info.group, info.resource, name, message)
            # Controllers recognise this case by the cause type, as upstream's NamespaceLifecycle sets it.
            err.causes = [errors.Cause("NamespaceTerminating", message, "metadata.namespace")]
            raise err
