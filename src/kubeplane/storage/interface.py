"""The storage seam the API server's generic registry is written against.

Objects are JSON dicts exactly as served. Backends never keep ``metadata.resourceVersion`` in the
stored bytes: it is set on every object they return from the revision that last modified it
(etcd's ``mod_revision``), so resourceVersion *is* the etcd revision, as upstream.

Keys are full paths such as ``/registry/pods/default/web``; list and watch take a prefix ending in
``/``. Errors are the storage-level exceptions below; the registry turns them into ``Status``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

JSON = dict[str, Any]

# A filter over objects (label and field selectors compiled by the caller). None matches all.
Predicate = Callable[[JSON], bool]

# Receives the current object (None when absent and allowed) and returns the object to store.
# It may raise any exception (e.g. a StatusError) to abort the update; it may be called again if
# another writer got in first, so it must not have side effects outside the object.
UpdateFunc = Callable[[JSON | None], Awaitable[JSON]]


class StorageError(Exception):
    """Base class of storage errors; ``key`` is the full storage key."""

    def __init__(self, key: str, message: str = "") -> None:
        super().__init__(message or key)
        self.key = key


class KeyExistsError(StorageError):
    """create() found the key present."""


class KeyNotFoundError(StorageError):
    """get/update/delete found no object at the key."""


class PreconditionError(StorageError):
    """A UID or resourceVersion precondition did not hold (HTTP 409 Conflict)."""


class ResourceExpiredError(StorageError):
    """The requested resourceVersion (or continue token) is older than what is kept (HTTP 410).
    ``continue_token``, for an expired continue token, continues the list at the latest revision."""

    def __init__(self, key: str, message: str = "", continue_token: str = "") -> None:
        super().__init__(key, message)
        self.continue_token = continue_token


class TooLargeResourceVersionError(StorageError):
    """The requested resourceVersion is newer than the store has reached within the wait budget
    (upstream answers 504 Timeout with reason "Too large resource version")."""

    def __init__(self, key: str, requested: int, current: int) -> None:
        super().__init__(key, f"Too large resource version: {requested}, current: {current}")
        self.requested = requested
        self.current = current


class RequestTooLargeError(StorageError):
    """The encoded object is over etcd's request limit (HTTP 413, as upstream maps etcd's error)."""


# etcd's default --max-request-bytes; every backend enforces it so behaviour matches etcd's.
MAX_REQUEST_BYTES = 1536 * 1024


class InvalidContinueError(StorageError):
    """A continue token that does not parse or does not belong to this list (HTTP 400)."""


@dataclass(frozen=True)
class Preconditions:
    uid: str = ""
    resource_version: str = ""


# resourceVersionMatch values (metav1.ResourceVersionMatch)
MATCH_NOT_OLDER_THAN = "NotOlderThan"
MATCH_EXACT = "Exact"


@dataclass
class ListOptions:
    """resourceVersion semantics as upstream:

    - ``""``: most recent (a consistent read);
    - ``"0"``: any version (may be served from the cache, possibly stale);
    - ``"N"`` with match ``""`` or NotOlderThan: at least N; with Exact: exactly N (from etcd).
    ``limit``/``continue_token`` paginate; a continued list is served at the token's revision.
    """

    resource_version: str = ""
    resource_version_match: str = ""
    limit: int = 0
    continue_token: str = ""
    predicate: Predicate | None = None


@dataclass(slots=True)
class EncodedObject:
    """An object kept encoded: its JSON without ``apiVersion`` and ``kind`` (exactly as a list item
    is written on the wire), and that TypeMeta to restore when it is decoded."""

    api_version: str
    kind: str
    body: bytes

    @classmethod
    def encode(cls, obj: JSON) -> EncodedObject:
        rest = {key: value for key, value in obj.items() if key != "apiVersion" and key != "kind"}
        return cls(obj.get("apiVersion", ""), obj.get("kind", ""), orjson.dumps(rest))

    def decode(self) -> JSON:
        obj: JSON = {"apiVersion": self.api_version, "kind": self.kind} if self.kind else {}
        obj.update(orjson.loads(self.body))
        return obj


class ListResult:
    """The items of a list at ``resource_version``. A cache may hand the items over still encoded
    (``encoded``), so a JSON response can be written by concatenation; ``items`` decodes them on
    first use."""

    __slots__ = ("_items", "continue_token", "encoded", "remaining_item_count", "resource_version")

    def __init__(self, items: list[JSON] | None, resource_version: int, continue_token: str = "",
                 remaining_item_count: int | None = None, encoded: list[EncodedObject] | None = None) -> None:
        self._items = items
        self.resource_version = resource_version
        self.continue_token = continue_token
        self.remaining_item_count = remaining_item_count
        self.encoded = encoded

    @property
    def items(self) -> list[JSON]:
        if self._items is None:
            self._items = [obj.decode() for obj in self.encoded or ()]
        return self._items


@dataclass
class WatchOptions:
    """``resource_version``: ``""``/``"0"`` start with synthetic ADDED events for the current state
    (``""`` from a consistent snapshot); ``"N"`` sends every change after N, or raises
    ResourceExpiredError when N is too old. ``send_initial_events`` (watch-list) sends the state as
    ADDED events, then a BOOKMARK annotated ``k8s.io/initial-events-end: "true"``."""

    resource_version: str = ""
    predicate: Predicate | None = None
    allow_bookmarks: bool = False
    send_initial_events: bool | None = None
    # Pods are indexed by spec.nodeName so a kubelet's watch is not woken by other nodes' pods.
    # (field path, value) or None.
    trigger: tuple[str, str] | None = None


# Watch event types, as on the wire.
ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
BOOKMARK = "BOOKMARK"
ERROR = "ERROR"


@dataclass
class WatchEvent:
    type: str
    object: JSON
    # For MODIFIED/DELETED from the store: the object before the change (used to turn a MODIFIED
    # into ADDED/DELETED for filtered watchers when the object enters/leaves the selector).
    prev_object: JSON | None = field(default=None, repr=False)


class Watcher(Protocol):
    """An open watch. Iterate for events; ``stop()`` ends the iteration and frees resources."""

    def __aiter__(self) -> AsyncIterator[WatchEvent]: ...

    async def stop(self) -> None: ...


class Storage(Protocol):
    """What every backend implements (etcd3, cacher, memory)."""

    async def create(self, key: str, obj: JSON, ttl: int = 0) -> JSON:
        """Store ``obj`` at ``key`` if absent; return it with resourceVersion set."""
        ...

    async def get(self, key: str, resource_version: str = "", ignore_not_found: bool = False) -> JSON | None:
        """Return the object (None only with ignore_not_found)."""
        ...

    async def get_list(self, prefix: str, opts: ListOptions) -> ListResult: ...

    async def guaranteed_update(self, key: str, update: UpdateFunc, preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> JSON:
        """Read-modify-write with compare-and-swap on mod_revision, retried on conflicts.

        ``update`` receives the current object (None if absent and ignore_not_found) and returns the
        new one; if the new object equals the current one nothing is written and the current object
        is returned. Preconditions are checked against the current object on every attempt.
        """
        ...

    async def delete(self, key: str, preconditions: Preconditions | None = None,
                     validate: Callable[[JSON], Awaitable[None]] | None = None) -> JSON:
        """Delete atomically (compare on mod_revision), returning the last state of the object
        with resourceVersion set to the deletion revision. ``validate`` may raise to abort."""
        ...

    async def watch(self, prefix: str, opts: WatchOptions) -> Watcher: ...

    async def current_revision(self) -> int: ...

    async def count(self, prefix: str) -> int: ...

    async def close(self) -> None: ...
