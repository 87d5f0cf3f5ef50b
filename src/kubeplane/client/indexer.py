"""The informer's local cache: objects by key, plus named secondary indexes (client-go ``Indexer``).

Single-threaded by design: everything runs on one asyncio loop, so no locks. Objects handed
out are the cached dicts themselves — callers must treat them as read-only (copy before
changing), exactly as with client-go's cache.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
IndexFunc = Callable[[JSON], list[str]]


def meta_namespace_key(obj: JSON) -> str:
    """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])


def split_key(key: str) -> tuple[str | None, str]:
    namespace, _, name = key.rpartition("/")
    return namespace or None, name


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """A delete the informer inferred on relist (the DELETED event itself was missed); ``obj``
    is the last state the cache had, which may be stale."""

    key: str
    obj: JSON


def index_by_namespace(obj: JSON) -> list[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


def index_by_node_name(obj: JSON) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


NAMESPACE_INDEX = "namespace"
NODE_NAME_INDEX = "spec.nodeName"


class Indexer:
    def __init__(self, indexers: dict[str, IndexFunc] | None = None,
                 key_func: Callable[[JSON], str] = meta_namespace_key) -> None:
        self.key_func = key_func
        self._items: dict[str, JSON] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self.add_indexers(indexers or {})

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add indexes (allowed at any time: existing items are indexed at once)."""
        for name, func in indexers.items():
            if name in self._indexers:
                raise ValueError(f"indexer {name!r} already exists")
            self._indexers[name] = func
            self._indices[name] = {}
            for key, obj in self._items.items():
                self._index_one(name, key, obj)

    def upsert(self, obj: JSON) -> JSON | None:
        """Add or replace ``obj``; return the object it replaced."""
        key = self.key_func(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name in self._indexers:
            self._index_one(name, key, obj)
        return old

    def delete(self, key: str) -> JSON | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objects: Iterable[JSON]) -> None:
        self._items = {}
        self._indices = {name: {} for name in self._indexers}
        for obj in objects:
            self.upsert(obj)

    def get(self, key: str) -> JSON | None:
        return self._items.get(key)

    def list(self) -> list[JSON]:
        return list(self._items.values())

    def snapshot(self) -> dict[str, JSON]:
        """A shallow copy of key → object, safe to hold across later changes."""
        return dict(self._items)

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def by_index(self, index_name: str, value: str) -> builtins.list[JSON]:
        keys = self._index(index_name).get(value, ())
        return [self._items[key] for key in sorted(keys)]

    def index_values(self, index_name: str) -> builtins.list[str]:
        return sorted(self._index(index_name))

    def _index(self, name: str) -> dict[str, set[str]]:
        if name not in self._indices:
            raise KeyError(f"no index named {name!r}")
        return self._indices[name]

    def _index_one(self, name: str, key: str, obj: JSON) -> None:
        index = self._indices[name]
        for value in self._indexers[name](obj):
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: JSON) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
