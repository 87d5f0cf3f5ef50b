"""Cluster objects as admission plugins read them: through the API server's own stores.

Reads go to the watch cache (``resourceVersion=0``); a miss may be confirmed against etcd, because
the cache can lag an object created a moment ago (a namespace, a service account).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kubeplane.storage import interface as st

if TYPE_CHECKING:
    from kubeplane.apiserver.registry.store import Store

JSON = dict[str, Any]

# The options of every cached read, built once: storages only read their options, and admission
# lists several resources on every write.
FROM_CACHE = st.ListOptions(resource_version="0")


class ClusterObjects:
    def __init__(self, stores: Mapping[tuple[str, str, str], Store]) -> None:
        self._stores = stores
        self._by_resource: dict[tuple[str, str], Store] = {}

    def store(self, group: str, resource: str) -> Store | None:
        """The store of a resource, in whichever version serves it (they share storage)."""
        key = (group, resource)
        if key not in self._by_resource:
            for (g, _version, r), store in self._stores.items():
                if (g, r) == key:
                    self._by_resource[key] = store
                    break
            else:
                return None
        return self._by_resource[key]

    async def get(self, group: str, resource: str, namespace: str, name: str,
                  confirm_missing: bool = True) -> JSON | None:
        store = self.store(group, resource)
        if store is None:
            return None
        key = store.key(namespace, name)
        obj = await store.storage.get(key, "0", ignore_not_found=True)
        if obj is None and confirm_missing:
            obj = await store.storage.get(key, "", ignore_not_found=True)
        return obj

    async def list(self, group: str, resource: str, namespace: str = "") -> list[JSON]:
        store = self.store(group, resource)
        if store is None:
            return []
        result = await store.storage.get_list(store.prefix(namespace), FROM_CACHE)
        return result.items

    async def list_fresh(self, group: str, resource: str, namespace: str = "") -> builtins.list[JSON]:
        """A consistent list from etcd (for decisions that must not miss a just-written object)."""
        store = self.store(group, resource)
        if store is None:
            return []
        result = await store.storage.get_list(store.prefix(namespace), st.ListOptions())
        return result.items
