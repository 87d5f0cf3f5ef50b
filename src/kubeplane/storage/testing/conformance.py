"""One behavioural suite for every ``Storage``: plain async checks, ``check_xxx(store, prefix)``.

Each check works under its own ``prefix`` (no trailing slash) and asserts with ``assert``.
Backends that can compact (``compact(revision)``) also get the expiry checks.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from kubeplane.storage.interface import (
    ADDED,
    BOOKMARK,
    DELETED,
    JSON,
    MATCH_EXACT,
    MODIFIED,
    InvalidContinueError,
    KeyExistsError,
    KeyNotFoundError,
    ListOptions,
    PreconditionError,
    Preconditions,
    ResourceExpiredError,
    Storage,
    TooLargeResourceVersionError,
    WatchEvent,
    WatchOptions,
)

EVENT_TIMEOUT = 10.0


def pod(name: str, labels: dict[str, str] | None = None, uid: str = "", **spec: Any) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": uid or f"uid-{name}", "labels": labels or {}},
            "spec": dict(spec)}


def rv(obj: JSON | None) -> int:
    assert obj is not None
    return int(obj["metadata"]["resourceVersion"])


def labelled(value: str) -> Callable[[JSON], bool]:
    return lambda obj: obj["metadata"].get("labels", {}).get("app") == value


async def expect_raises(error: type[Exception], call: Awaitable[Any]) -> Exception:
    try:
        await call
    except error as e:
        return e
    raise AssertionError(f"expected {error.__name__}")


async def next_event(events: AsyncIterator[WatchEvent], skip_bookmarks: bool = True) -> WatchEvent:
    while True:
        async with asyncio.timeout(EVENT_TIMEOUT):
            event = await anext(events)
        if not (skip_bookmarks and event.type == BOOKMARK):
            return event


async def take(events: AsyncIterator[WatchEvent], count: int) -> list[tuple[str, str, int]]:
    """The next ``count`` non-bookmark events as (type, name, resourceVersion)."""
    taken = []
    for _ in range(count):
        event = await next_event(events)
        taken.append((event.type, event.object["metadata"]["name"], rv(event.object)))
    return taken


async def _compact_now(store: Storage) -> bool:
    compact = getattr(store, "compact", None)
    if compact is None:
        return False
    await compact(await store.current_revision())
    return True


# --- single objects ------------------------------------------------------------------------------
async def check_create_get(store: Storage, prefix: str) -> None:
    key = f"{prefix}/pods/default/a"
    given = pod("a")
    given["metadata"]["resourceVersion"] = "999999"  # never stored: the revision decides
    created = await store.create(key, given)
    assert rv(created) > 0 and rv(created) != 999999
    assert given["metadata"]["resourceVersion"] == "999999", "create must not mutate its argument"
    assert await store.get(key) == created
    assert await store.get(key, resource_version=str(rv(created))) == created
    await expect_raises(KeyExistsError, store.create(key, pod("a")))
    await expect_raises(KeyNotFoundError, store.get(f"{prefix}/pods/default/missing"))
    assert await store.get(f"{prefix}/pods/default/missing", ignore_not_found=True) is None


async def check_update(store: Storage, prefix: str) -> None:
    key = f"{prefix}/pods/default/u"
    created = await store.create(key, pod("u"))

    async def relabel(current: JSON | None) -> JSON:
        assert current is not None
        current["metadata"]["labels"] = {"app": "new"}
        return current

    updated = await store.guaranteed_update(key, relabel)
    assert rv(updated) > rv(created)
    assert updated["metadata"]["labels"] == {"app": "new"}
    assert await store.get(key) == updated
    # Same content again: nothing is written and the stored object comes back.
    again = await store.guaranteed_update(key, relabel)
    assert rv(again) == rv(updated)
    await expect_raises(KeyNotFoundError, store.guaranteed_update(f"{prefix}/pods/default/none", relabel))

    async def create_if_absent(current: JSON | None) -> JSON:
        assert current is None
        return pod("fresh")

    fresh = await store.guaranteed_update(f"{prefix}/pods/default/fresh", create_if_absent, ignore_not_found=True)
    assert rv(fresh) > rv(updated)


async def check_update_retries_on_conflict(store: Storage, prefix: str) -> None:
    key = f"{prefix}/pods/default/c"
    await store.create(key, pod("c", counter=0))
    calls = 0

    async def increment(current: JSON | None) -> JSON:
        nonlocal calls
        calls += 1
        assert current is not None
        if calls == 1:  # another writer slips in between our read and our write
            await store.guaranteed_update(key, bump)
        current["spec"]["counter"] += 1
        return current

    async def bump(current: JSON | None) -> JSON:
        assert current is not None
        current["spec"]["counter"] += 1
        return current

    result = await store.guaranteed_update(key, increment)
    assert calls == 2
    assert result["spec"]["counter"] == 2


async def check_concurrent_updaters(store: Storage, prefix: str) -> None:
    key = f"{prefix}/pods/default/counter"
    await store.create(key, pod("counter", counter=0))

    async def increment(current: JSON | None) -> JSON:
        assert current is not None
        await asyncio.sleep(0)  # let the others read the same version
        current["spec"]["counter"] += 1
        return current

    await asyncio.gather(*(store.guaranteed_update(key, increment) for _ in range(50)))
    final = await store.get(key)
    assert final is not None and final["spec"]["counter"] == 50


async def check_preconditions(store: Storage, prefix: str) -> None:
    key = f"{prefix}/pods/default/p"
    created = await store.create(key, pod("p", uid="uid-1"))

    async def same(current: JSON | None) -> JSON:
        assert current is not None
        current["spec"]["touched"] = True
        return current

    await expect_raises(PreconditionError, store.guaranteed_update(key, same, Preconditions(uid="other")))
    await expect_raises(PreconditionError, store.guaranteed_update(key, same, Preconditions(resource_version="1")))
    updated = await store.guaranteed_update(key, same, Preconditions(uid="uid-1", resource_version=str(rv(created))))
    await expect_raises(PreconditionError, store.delete(key, Preconditions(resource_version=str(rv(created)))))
    await expect_raises(PreconditionError, store.delete(key, Preconditions(uid="other")))
    deleted = await store.delete(key, Preconditions(uid="uid-1", resource_version=str(rv(updated))))
    assert deleted["metadata"]["uid"] == "uid-1"


async def check_delete(store: Storage, prefix: str) -> None:
    key = f"{prefix}/pods/default/d"
    created = await store.create(key, pod("d"))

    async def refuse(obj: JSON) -> None:
        raise RuntimeError("not yet")

    await expect_raises(RuntimeError, store.delete(key, validate=refuse))
    assert await store.get(key) == created
    deleted = await store.delete(key)
    assert deleted["metadata"]["name"] == "d"
    assert rv(deleted) > rv(created), "a deleted object carries the deletion revision"
    assert rv(deleted) <= await store.current_revision()
    await expect_raises(KeyNotFoundError, store.get(key))
    await expect_raises(KeyNotFoundError, store.delete(key))


# --- lists ---------------------------------------------------------------------------------------
async def _populate(store: Storage, prefix: str, names: list[str], app: Callable[[int], str] = str) -> list[JSON]:
    return [await store.create(f"{prefix}/pods/default/{name}", pod(name, {"app": app(i)}))
            for i, name in enumerate(names)]


async def check_list(store: Storage, prefix: str) -> None:
    await _populate(store, prefix, ["c", "a", "b"], app=lambda i: "x" if i != 1 else "y")
    await store.create(f"{prefix}/podsextra/default/z", pod("z"))  # a sibling prefix stays out
    listed = await store.get_list(f"{prefix}/pods/", ListOptions())
    assert [o["metadata"]["name"] for o in listed.items] == ["a", "b", "c"]
    assert listed.resource_version >= max(rv(o) for o in listed.items)
    assert listed.continue_token == "" and listed.remaining_item_count is None
    selected = await store.get_list(f"{prefix}/pods/", ListOptions(predicate=labelled("x")))
    assert [o["metadata"]["name"] for o in selected.items] == ["b", "c"]
    # "At least the revision we just saw" must include everything ("0" may be stale in a cache).
    not_older = await store.get_list(f"{prefix}/pods/", ListOptions(resource_version=str(listed.resource_version)))
    assert [o["metadata"]["name"] for o in not_older.items] == ["a", "b", "c"]
    assert len((await store.get_list(f"{prefix}/pods/", ListOptions(resource_version="0"))).items) <= 3
    assert await store.count(f"{prefix}/pods/") == 3
    too_new = str(await store.current_revision() + 1000)
    await expect_raises(TooLargeResourceVersionError,
                        store.get_list(f"{prefix}/pods/", ListOptions(resource_version=too_new)))


async def check_list_exact_revision(store: Storage, prefix: str) -> None:
    first = await store.create(f"{prefix}/pods/default/a", pod("a"))
    await store.create(f"{prefix}/pods/default/b", pod("b"))
    then = await store.get_list(f"{prefix}/pods/", ListOptions(resource_version=str(rv(first)),
                                                                resource_version_match=MATCH_EXACT))
    assert [o["metadata"]["name"] for o in then.items] == ["a"]
    assert then.resource_version == rv(first)


async def check_pagination(store: Storage, prefix: str) -> None:
    await _populate(store, prefix, ["a", "b", "c", "d", "e"])
    first = await store.get_list(f"{prefix}/pods/", ListOptions(limit=2))
    assert [o["metadata"]["name"] for o in first.items] == ["a", "b"]
    assert first.continue_token and first.remaining_item_count == 3
    token = base64.urlsafe_b64decode(first.continue_token + "=" * (-len(first.continue_token) % 4))
    assert token.startswith(b'{"v":"meta.k8s.io/v1","rv":')
    # Later writes are invisible to the rest of a paginated list: it is one snapshot.
    await store.create(f"{prefix}/pods/default/bb", pod("bb"))
    second = await store.get_list(f"{prefix}/pods/", ListOptions(limit=2, continue_token=first.continue_token))
    assert [o["metadata"]["name"] for o in second.items] == ["c", "d"]
    assert second.resource_version == first.resource_version and second.remaining_item_count == 1
    last = await store.get_list(f"{prefix}/pods/", ListOptions(limit=2, continue_token=second.continue_token))
    assert [o["metadata"]["name"] for o in last.items] == ["e"]
    assert last.continue_token == "" and last.remaining_item_count is None


async def check_pagination_with_predicate(store: Storage, prefix: str) -> None:
    names = [f"p{i:02d}" for i in range(12)]
    await _populate(store, prefix, names, app=lambda i: "x" if i % 4 == 0 else "y")
    seen: list[str] = []
    token = ""
    while True:
        page = await store.get_list(f"{prefix}/pods/", ListOptions(limit=2, continue_token=token,
                                                                    predicate=labelled("x")))
        assert page.remaining_item_count is None
        seen += [o["metadata"]["name"] for o in page.items]
        token = page.continue_token
        if not token:
            break
        assert len(page.items) == 2, "a selector keeps reading until the page is full"
    assert seen == ["p00", "p04", "p08"]


async def check_continue_invalid(store: Storage, prefix: str) -> None:
    for bad in ["%%%", base64.urlsafe_b64encode(b'{"v":"other","rv":1,"start":"a"}').decode(),
                base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":1,"start":"../../x"}').decode()]:
        await expect_raises(InvalidContinueError,
                            store.get_list(f"{prefix}/pods/", ListOptions(limit=1, continue_token=bad)))


async def check_continue_expired(store: Storage, prefix: str) -> None:
    await _populate(store, prefix, ["a", "b", "c"])
    first = await store.get_list(f"{prefix}/pods/", ListOptions(limit=1))
    await store.create(f"{prefix}/pods/default/d", pod("d"))
    if not await _compact_now(store):
        return
    error = await expect_raises(ResourceExpiredError, store.get_list(
        f"{prefix}/pods/", ListOptions(limit=1, continue_token=first.continue_token)))
    assert "The provided continue parameter is too old" in str(error)


# --- watch ---------------------------------------------------------------------------------------
async def check_watch_from_resource_version(store: Storage, prefix: str) -> None:
    key = f"{prefix}/pods/default/w"
    created = await store.create(key, pod("w"))

    async def touch(current: JSON | None) -> JSON:
        assert current is not None
        current["spec"]["n"] = 1
        return current

    updated = await store.guaranteed_update(key, touch)
    deleted = await store.delete(key)
    watcher = await store.watch(f"{prefix}/pods/", WatchOptions(resource_version=str(rv(created))))
    try:
        events = aiter(watcher)
        assert await take(events, 2) == [(MODIFIED, "w", rv(updated)), (DELETED, "w", rv(deleted))]
        again = await store.create(key, pod("w"))
        assert await take(events, 1) == [(ADDED, "w", rv(again))]
    finally:
        await watcher.stop()


async def check_watch_initial_state(store: Storage, prefix: str) -> None:
    existing = await _populate(store, prefix, ["a", "b"])
    for resource_version in ("", "0"):
        watcher = await store.watch(f"{prefix}/pods/", WatchOptions(resource_version=resource_version))
        try:
            events = aiter(watcher)
            initial = await take(events, len(existing))
            assert sorted(initial) == sorted((ADDED, o["metadata"]["name"], rv(o)) for o in existing)
            created = await store.create(f"{prefix}/pods/default/c{resource_version}", pod(f"c{resource_version}"))
            assert await take(events, 1) == [(ADDED, f"c{resource_version}", rv(created))]
            existing.append(created)
        finally:
            await watcher.stop()


async def check_watch_predicate_transitions(store: Storage, prefix: str) -> None:
    key = f"{prefix}/pods/default/t"
    start = await store.current_revision()
    watcher = await store.watch(f"{prefix}/pods/", WatchOptions(resource_version=str(start),
                                                                predicate=labelled("in")))

    def relabel(value: str) -> Callable[[JSON | None], Awaitable[JSON]]:
        async def update(current: JSON | None) -> JSON:
            assert current is not None
            current["metadata"]["labels"] = {"app": value}
            return current
        return update

    try:
        events = aiter(watcher)
        await store.create(key, pod("t", {"app": "out"}))  # invisible
        entered = await store.guaranteed_update(key, relabel("in"))
        event = await next_event(events)
        assert (event.type, rv(event.object)) == (ADDED, rv(entered))
        modified = await store.guaranteed_update(key, lambda c: _with_spec(c, "x", 1))
        event = await next_event(events)
        assert (event.type, rv(event.object)) == (MODIFIED, rv(modified))
        left = await store.guaranteed_update(key, relabel("out"))
        event = await next_event(events)
        assert (event.type, rv(event.object)) == (DELETED, rv(left))
        assert event.object["metadata"]["labels"] == {"app": "in"}, "the leave event carries the old object"
        await store.delete(key)  # invisible: it was already out
        marker = await store.create(f"{prefix}/pods/default/marker", pod("marker", {"app": "in"}))
        event = await next_event(events)
        assert (event.type, event.object["metadata"]["name"], rv(event.object)) == (ADDED, "marker", rv(marker))
    finally:
        await watcher.stop()


async def _with_spec(current: JSON | None, field: str, value: Any) -> JSON:
    assert current is not None
    current["spec"][field] = value
    return current


async def check_watch_too_old(store: Storage, prefix: str) -> None:
    first = await store.create(f"{prefix}/pods/default/a", pod("a"))
    await store.create(f"{prefix}/pods/default/b", pod("b"))
    await store.create(f"{prefix}/pods/default/c", pod("c"))
    if not await _compact_now(store):
        return
    error = await expect_raises(ResourceExpiredError, store.watch(
        f"{prefix}/pods/", WatchOptions(resource_version=str(rv(first)))))
    assert str(error).startswith(f"too old resource version: {rv(first)} (")


async def check_watch_bookmarks(store: Storage, prefix: str) -> None:
    created = await store.create(f"{prefix}/pods/default/a", pod("a"))
    watcher = await store.watch(f"{prefix}/pods/", WatchOptions(resource_version=str(rv(created)),
                                                                allow_bookmarks=True))
    try:
        event = await next_event(aiter(watcher), skip_bookmarks=False)
        assert event.type == BOOKMARK
        assert set(event.object) == {"metadata"} and set(event.object["metadata"]) == {"resourceVersion"}
        assert rv(event.object) >= rv(created)
    finally:
        await watcher.stop()


async def check_watch_initial_events(store: Storage, prefix: str) -> None:
    existing = await _populate(store, prefix, ["a", "b"])
    watcher = await store.watch(f"{prefix}/pods/", WatchOptions(send_initial_events=True, allow_bookmarks=True,
                                                                resource_version=""))
    try:
        events = aiter(watcher)
        assert sorted(await take(events, 2)) == sorted((ADDED, o["metadata"]["name"], rv(o)) for o in existing)
        end = await next_event(events, skip_bookmarks=False)
        assert end.type == BOOKMARK
        assert end.object["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert rv(end.object) >= max(rv(o) for o in existing)
        created = await store.create(f"{prefix}/pods/default/c", pod("c"))
        assert await take(events, 1) == [(ADDED, "c", rv(created))]
    finally:
        await watcher.stop()


async def check_watch_ordering(store: Storage, prefix: str) -> None:
    """Every write shows up once, in revision order, with no gaps, however writers interleave."""
    start = await store.current_revision()
    watcher = await store.watch(f"{prefix}/pods/", WatchOptions(resource_version=str(start)))
    try:
        async def writer(worker: int) -> list[tuple[str, str, int]]:
            written = []
            for i in range(10):
                key = f"{prefix}/pods/default/w{worker}-{i % 3}"
                if i < 3:
                    obj = await store.create(key, pod(f"w{worker}-{i}"))
                    written.append((ADDED, obj["metadata"]["name"], rv(obj)))
                else:
                    obj = await store.guaranteed_update(key, functools.partial(_with_spec, field="i", value=i))
                    written.append((MODIFIED, obj["metadata"]["name"], rv(obj)))
            return written

        histories = await asyncio.gather(*(writer(w) for w in range(5)))
        expected = sorted((e for h in histories for e in h), key=lambda e: e[2])
        received = await take(aiter(watcher), len(expected))
        assert received == expected
    finally:
        await watcher.stop()


ALL_CHECKS: list[Callable[[Storage, str], Awaitable[None]]] = [
    check_create_get,
    check_update,
    check_update_retries_on_conflict,
    check_concurrent_updaters,
    check_preconditions,
    check_delete,
    check_list,
    check_list_exact_revision,
    check_pagination,
    check_pagination_with_predicate,
    check_continue_invalid,
    check_continue_expired,
    check_watch_from_resource_version,
    check_watch_initial_state,
    check_watch_predicate_transitions,
    check_watch_too_old,
    check_watch_bookmarks,
    check_watch_initial_events,
    check_watch_ordering,
]
