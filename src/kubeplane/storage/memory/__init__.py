"""In-process storage for unit tests: the etcd3 store's rules over an in-memory revisioned KV, so
it behaves like etcd (revisions, history, compaction, progress notifications)."""

from __future__ import annotations

from kubeplane.storage.etcd3.store import KVStorage
from kubeplane.storage.memory.kv import MemoryKV


class MemoryStorage(KVStorage):
    def __init__(self, progress_interval: float = 0.2) -> None:
        super().__init__(MemoryKV(progress_interval))


__all__ = ["MemoryKV", "MemoryStorage"]
