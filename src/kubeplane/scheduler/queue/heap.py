"""A keyed heap: push, update and remove by key in O(log n), ordered by a caller's ``less``.

Removed and replaced entries stay in the list until they surface (lazy deletion), which keeps
updates cheap; ``len`` counts live entries only.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _Entry(Generic[T]):
    __slots__ = ("item", "key", "less", "seq")

    def __init__(self, key: str, item: T, seq: int, less: Callable[[T, T], bool]) -> None:
        self.key = key
        self.item = item
        self.seq = seq
        self.less = less

    def __lt__(self, other: _Entry[T]) -> bool:
        if self.less(self.item, other.item):
            return True
        if self.less(other.item, self.item):
            return False
        return self.seq < other.seq  # equal priority: first in, first out


class KeyedHeap(Generic[T]):
    def __init__(self, less: Callable[[T, T], bool]) -> None:
        self.less = less
        self._heap: list[_Entry[T]] = []
        self._live: dict[str, _Entry[T]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def __iter__(self) -> Iterator[T]:
        return iter([entry.item for entry in self._live.values()])

    def get(self, key: str) -> T | None:
        entry = self._live.get(key)
        return None if entry is None else entry.item

    def push(self, key: str, item: T) -> None:
        """Add, or replace the item under ``key`` (re-sorting it)."""
        entry = _Entry(key, item, next(self._seq), self.less)
        self._live[key] = entry
        heapq.heappush(self._heap, entry)

    def remove(self, key: str) -> T | None:
        entry = self._live.pop(key, None)
        return None if entry is None else entry.item

    def peek(self) -> T | None:
        self._drop_stale()
        return self._heap[0].item if self._heap else None

    def pop(self) -> T | None:
        self._drop_stale()
        if not self._heap:
            return None
        entry = heapq.heappop(self._heap)
        del self._live[entry.key]
        return entry.item

    def _drop_stale(self) -> None:
        while self._heap and self._live.get(self._heap[0].key) is not self._heap[0]:
            heapq.heappop(self._heap)
