"""Informer logic against a scripted fake API: list, watch, bookmarks, relist with tombstones, resync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from kubeplane.client.clock import FakeClock, settle_tasks
from kubeplane.client.errors import Expired
from kubeplane.client.indexer import NODE_NAME_INDEX, DeletedFinalStateUnknown, Indexer, index_by_node_name
from kubeplane.client.informer import EventHandlers, Informer, SharedInformerFactory
from kubeplane.client.resource import CONFIGMAPS, PODS
from kubeplane.client.rest import WatchEvent

JSON = dict[str, Any]


def pod(name: str, rv: int, node: str = "", namespace: str = "ns") -> JSON:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": str(rv)},
            "spec": {"nodeName": node} if node else {}}


class FakeApi:
    """Answers list_all from ``lists`` and each watch from the next script in ``watches``."""

    def __init__(self, lists: list[tuple[list[JSON], str]], watches: list[list[WatchEvent | Exception]]) -> None:
        self.lists = lists
        self.watches = watches
        self.watch_versions: list[str | None] = []

    async def list_all(self, *args: Any, **kwargs: Any) -> tuple[list[JSON], str]:
        return self.lists.pop(0)

    async def watch(self, resource: Any, namespace: Any, resource_version: str | None = None,
                    *args: Any, **kwargs: Any) -> AsyncIterator[WatchEvent]:
        self.watch_versions.append(resource_version)
        script = self.watches.pop(0) if self.watches else []
        for item in script:
            if isinstance(item, Exception):
                raise item
            yield item
        await asyncio.Event().wait()  # then the stream stays open


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def handlers(self) -> EventHandlers:
        return EventHandlers(on_add=lambda o: self.events.append(("add", o["metadata"]["name"])),
                             on_update=lambda old, new: self.events.append(
                                 ("update", (old["metadata"]["resourceVersion"], new["metadata"]["resourceVersion"]))),
                             on_delete=lambda o: self.events.append(("delete", o)))


async def run_informer(api: FakeApi, **kwargs: Any) -> tuple[Informer, Recorder]:
    informer = Informer(api, PODS, indexers={NODE_NAME_INDEX: index_by_node_name}, **kwargs)  # type: ignore[arg-type]
    recorder = Recorder()
    informer.add_event_handler(recorder.handlers())
    informer.start()
    await asyncio.wait_for(informer.wait_for_sync(), 1)
    await settle_tasks()
    return informer, recorder


async def test_list_then_watch_keeps_the_cache_and_indexes() -> None:
    api = FakeApi([([pod("a", 5, "n1")], "10")], [[
        WatchEvent("ADDED", pod("b", 11, "n1")),
        WatchEvent("MODIFIED", pod("a", 12, "n2")),
        WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "20"}}),
        WatchEvent("DELETED", pod("b", 21, "n1")),
    ]])
    informer, recorder = await run_informer(api)
    assert informer.has_synced()
    assert api.watch_versions == ["10"]
    assert recorder.events == [("add", "a"), ("add", "b"), ("update", ("5", "12")), ("delete", pod("b", 21, "n1"))]
    assert [p["metadata"]["name"] for p in informer.by_index(NODE_NAME_INDEX, "n2")] == ["a"]
    assert informer.by_index(NODE_NAME_INDEX, "n1") == []
    assert informer.get("a", "ns") == pod("a", 12, "n2")
    assert informer.last_sync_resource_version == "21"
    await informer.stop()


async def test_error_event_relists_and_reports_tombstones() -> None:
    gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}
    api = FakeApi([([pod("keep", 1), pod("vanish", 2)], "2"), ([pod("keep", 7), pod("new", 8)], "9")],
                  [[WatchEvent("ERROR", gone)]])
    informer, recorder = await run_informer(api)
    assert informer.relists == 2
    assert api.watch_versions == ["2", "9"]
    assert recorder.events[:2] == [("add", "keep"), ("add", "vanish")]
    assert ("update", ("1", "7")) in recorder.events and ("add", "new") in recorder.events
    tombstone = recorder.events[-1][1]
    assert isinstance(tombstone, DeletedFinalStateUnknown)
    assert tombstone.key == "ns/vanish" and tombstone.obj == pod("vanish", 2)
    assert sorted(informer.indexer.keys()) == ["ns/keep", "ns/new"]
    await informer.stop()


async def test_expired_at_watch_start_relists() -> None:
    api = FakeApi([([], "3"), ([pod("x", 4)], "4")], [[Expired(410, "Expired", "too old")]])
    informer, recorder = await run_informer(api)
    assert informer.relists == 2 and recorder.events == [("add", "x")]
    await informer.stop()


async def test_other_watch_failures_back_off_and_resume_from_last_version() -> None:
    clock = FakeClock()
    api = FakeApi([([], "3")], [[WatchEvent("ADDED", pod("a", 4)), ConnectionResetError()]])
    informer, _ = await run_informer(api, clock=clock)
    assert api.watch_versions == ["3"]
    await clock.advance(60)
    assert api.watch_versions == ["3", "4"]  # no relist: the version is still good
    assert informer.relists == 1
    await informer.stop()


async def test_resync_sends_every_object_to_update_handlers() -> None:
    clock = FakeClock()
    api = FakeApi([([pod("a", 1), pod("b", 2)], "2")], [])
    informer, recorder = await run_informer(api, clock=clock, resync_period=30)
    recorder.events.clear()
    await clock.advance(30)
    assert sorted(recorder.events) == [("update", ("1", "1")), ("update", ("2", "2"))]
    await informer.stop()


async def test_late_handler_gets_the_cache_as_adds() -> None:
    api = FakeApi([([pod("a", 1)], "1")], [])
    informer, _ = await run_informer(api)
    late = Recorder()
    informer.add_event_handler(late.handlers())
    assert late.events == [("add", "a")]
    await informer.stop()


async def test_a_failing_handler_does_not_stop_the_others() -> None:
    def broken(obj: JSON) -> None:
        raise RuntimeError("boom")

    api = FakeApi([([pod("a", 1)], "1")], [])
    informer = Informer(api, PODS)  # type: ignore[arg-type]
    informer.add_event_handler(EventHandlers(on_add=broken))
    recorder = Recorder()
    informer.add_event_handler(recorder.handlers())
    informer.start()
    await asyncio.wait_for(informer.wait_for_sync(), 1)
    assert recorder.events == [("add", "a")]
    await informer.stop()


def test_factory_shares_one_informer_per_resource() -> None:
    factory = SharedInformerFactory(FakeApi([], []))  # type: ignore[arg-type]
    assert factory.informer_for(PODS) is factory.informer_for(PODS)
    assert factory.informer_for(PODS) is not factory.informer_for(CONFIGMAPS)
    assert factory.informer_for(PODS, label_selector="a=b") is not factory.informer_for(PODS)


def test_indexer_indexes_follow_updates_and_deletes() -> None:
    indexer = Indexer({NODE_NAME_INDEX: index_by_node_name})
    indexer.upsert(pod("a", 1, "n1"))
    indexer.upsert(pod("b", 1, "n1"))
    indexer.upsert(pod("a", 2, "n2"))
    assert [p["metadata"]["name"] for p in indexer.by_index(NODE_NAME_INDEX, "n1")] == ["b"]
    assert indexer.index_values(NODE_NAME_INDEX) == ["n1", "n2"]
    indexer.delete("ns/b")
    assert indexer.index_values(NODE_NAME_INDEX) == ["n2"]
    indexer.add_indexers({"name": lambda o: [o["metadata"]["name"]]})  # indexes existing items
    assert indexer.by_index("name", "a") == [pod("a", 2, "n2")]
    indexer.replace([pod("c", 3, "n3")])
    assert indexer.keys() == ["ns/c"] and indexer.index_values(NODE_NAME_INDEX) == ["n3"]
