"""Assemble one Store per served resource: strategy and store classes by (group, resource)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubeplane.apiserver.admission import AdmissionConfig, ClusterObjects, build_chain, enabled_plugins
from kubeplane.apiserver.apiextensions.strategy import CRDStrategy
from kubeplane.apiserver.registry import workloads
from kubeplane.apiserver.registry.allocator import NodePortAllocator, ServiceIPAllocator
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.conversion import CONVERSIONS, ConvertingStorage
from kubeplane.apiserver.registry.core.namespaces import NamespaceStore, NamespaceStrategy
from kubeplane.apiserver.registry.core.pods import PodStrategy
from kubeplane.apiserver.registry.core.services import ServiceStore, ServiceStrategy
from kubeplane.apiserver.registry.rbac import RBACStore
from kubeplane.apiserver.registry.store import Admission, DeleteOptions, Store
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.catalog import Catalog, ResourceInfo
from kubeplane.machinery import defaults
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
    ("certificates.k8s.io", "certificatesigningrequests"): workloads.CertificateSigningRequestStrategy,
    ("apiextensions.k8s.io", "customresourcedefinitions"): CRDStrategy,
}


@dataclass
class RegistryConfig:
    key_prefix: str = "/registry"
    service_cidr: str = "198.19.0.0/16"
    node_port_base: int = 30000
    node_port_size: int = 2768
    # Enabled admission plugins (None: upstream's default-on set) and their configuration.
    admission_plugins: tuple[str, ...] | None = None
    admission_config: AdmissionConfig = field(default_factory=AdmissionConfig)


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
        # Kept for stores added at runtime (custom resources), each with its own storage.
        self.storage_for = storage_for
        # The admission chain every store calls (None admits everything until one is wired in).
        self.admission: Admission | None = None
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
                store_cls = AdmittedNamespaceStore
            elif info.group == "rbac.authorization.k8s.io":
                store_cls = RBACStore
            store = self.build_store(info, strategy, storage, root, store_cls)
            self.stores[(info.group, info.version, info.resource)] = store
        # The chain reads cluster objects through these same stores, so it is made after them.
        plugins = config.admission_plugins if config.admission_plugins is not None else enabled_plugins()
        self.admission = self.admission_chain = build_chain(ClusterObjects(self.stores), plugins,
                                                            config.admission_config)
        for store in self.stores.values():
            store.admission = self.admission
        services = self.stores.get(("", "v1", "services"))
        if isinstance(services, ServiceStore):
            ranges = storage_for(f"{config.key_prefix}/ranges/", None)
            services.configure(
                ServiceIPAllocator(ranges, f"{config.key_prefix}/ranges/serviceips", config.service_cidr),
                NodePortAllocator(ranges, f"{config.key_prefix}/ranges/servicenodeports",
                                  config.node_port_base, config.node_port_size))

    def add_store(self, store: Store) -> None:
        """Serve a store added at runtime (a custom resource version)."""
        self.stores[(store.info.group, store.info.version, store.info.resource)] = store

    def remove_store(self, key: tuple[str, str, str]) -> None:
        self.stores.pop(key, None)

    def build_store(self, info: ResourceInfo, strategy: Strategy, storage: st.Storage, key_root: str,
                    store_cls: type[Store] = Store) -> Store:
        """The one place stores are constructed, built-in ones and those added at runtime (custom
        resources) alike, so both get the same admission wiring."""
        return store_cls(info, strategy, storage, key_root, admission=self.admission)

    def rbac_stores(self) -> list[RBACStore]:
        return [s for s in self.stores.values() if isinstance(s, RBACStore)]

    def store(self, group: str, version: str, resource: str) -> Store | None:
        return self.stores.get((group, version, resource))

    def core(self, resource: str) -> Store:
        return self.stores[("", "v1", resource)]


class AdmittedNamespaceStore(NamespaceStore):
    """Namespaces run DELETE admission before NamespaceStore decides between marking and deleting
    (NamespaceLifecycle refuses deleting default, kube-system and kube-public)."""

    async def delete(self, ctx: RequestContext, name: str, options: DeleteOptions) -> tuple[JSON, bool]:
        if not ctx.delete_admitted:
            current = await self.get(ctx, name)
            await self.admit_delete(ctx, current, options)
            ctx = copy.copy(ctx)
            ctx.delete_admitted = True
        return await super().delete(ctx, name, options)
