"""The etcd v3 storage backend."""

from __future__ import annotations

from kubeplane.storage.etcd3.compactor import DEFAULT_COMPACTION_INTERVAL, Compactor
from kubeplane.storage.etcd3.etcd_kv import EtcdKV
from kubeplane.storage.etcd3.store import KVStorage


class Etcd3Storage(KVStorage):
    """Storage over a real etcd at ``url`` (e.g. ``http://127.0.0.1:2379``)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        super().__init__(EtcdKV(url, timeout))

    def start_compactor(self, interval: float = DEFAULT_COMPACTION_INTERVAL) -> Compactor:
        compactor = Compactor(self.kv, interval)
        compactor.start()
        return compactor


__all__ = ["Compactor", "Etcd3Storage", "KVStorage"]
