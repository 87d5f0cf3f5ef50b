"""The revisioned key-value seam under the object store.

The object store (``store.py``) holds every Kubernetes storage rule; what it needs from etcd is
this small set of revisioned operations. ``EtcdKV`` speaks them to a real etcd and
``kubeplane.storage.memory`` implements them in process, so both backends share one set of rules.
Keys are ``str`` (Kubernetes keys are paths); values are the encoded object bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    # The store revision the range was served at.
    revision: int
    # Keys in [start, end) at that revision, including those beyond ``limit``.
    count: int
    more: bool


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of a compare-and-swap: on failure ``current`` is the key's present state."""

    succeeded: bool
    revision: int
    current: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class KVEvent:
    """A change: ``kv.mod_revision`` is the change's revision (for deletes too); ``prev`` is the
    value before it, when history still holds it."""

    deleted: bool
    kv: KeyValue
    prev: KeyValue | None


@dataclass(frozen=True, slots=True)
class KVWatchBatch:
    """Events of one or more revisions, or (when ``events`` is empty) a progress notification:
    every later change has a revision above ``revision``."""

    events: list[KVEvent] = field(default_factory=list)
    revision: int = 0


class CompactedError(Exception):
    """The requested revision is below the compaction point."""

    def __init__(self, compact_revision: int, requested: int = 0) -> None:
        super().__init__(f"revision {requested} compacted (compact revision {compact_revision})")
        self.compact_revision = compact_revision
        self.requested = requested


class KVWatch(Protocol):
    def __aiter__(self) -> AsyncIterator[KVWatchBatch]: ...

    async def request_progress(self) -> None:
        """Ask for a progress notification carrying the current revision."""
        ...

    async def close(self) -> None: ...


class KV(Protocol):
    async def range(self, start: str, end: str, revision: int = 0, limit: int = 0) -> RangeResult:
        """Keys in [start, end) at ``revision`` (0: latest, linearizable); CompactedError when gone."""
        ...

    async def create(self, key: str, value: bytes, ttl: int = 0) -> WriteResult:
        """Put if the key is absent."""
        ...

    async def put_if(self, key: str, value: bytes, mod_revision: int) -> WriteResult:
        """Put if the key's mod_revision is still ``mod_revision``."""
        ...

    async def delete_if(self, key: str, mod_revision: int) -> WriteResult:
        """Delete if the key's mod_revision is still ``mod_revision``."""
        ...

    async def watch(self, start: str, end: str, start_revision: int, progress_notify: bool) -> KVWatch:
        """Changes in [start, end) from ``start_revision`` (inclusive), with previous values.
        Raises CompactedError before returning when ``start_revision`` is compacted."""
        ...

    async def compact(self, revision: int) -> None: ...

    async def current_revision(self) -> int: ...

    async def close(self) -> None: ...


def prefix_end(prefix: str) -> str:
    """The range end covering every key that starts with ``prefix`` (etcd's prefix convention)."""
    raw = bytearray(prefix.encode())
    while raw:
        if raw[-1] < 0xFF:
            raw[-1] += 1
            return raw.decode(errors="surrogateescape")
        raw.pop()
    return "\x00"
