"""Informers against the real API server: sync, live events, relist when the version is gone."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from kubeplane.client.config import load_kubeconfig
from kubeplane.client.indexer import DeletedFinalStateUnknown
from kubeplane.client.informer import EventHandlers, Informer, SharedInformerFactory
from kubeplane.client.resource import CONFIGMAPS
from kubeplane.client.rest import Client

pytestmark = pytest.mark.integration


def configmap(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": dict(data)}


async def eventually(condition: Any, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


class Recorder:
    def __init__(self) -> None:
        self.adds: list[str] = []
        self.updates: list[str] = []
        self.deletes: list[Any] = []

    def handlers(self) -> EventHandlers:
        return EventHandlers(on_add=lambda o: self.adds.append(o["metadata"]["name"]),
                             on_update=lambda old, new: self.updates.append(new["metadata"]["name"]),
                             on_delete=self.deletes.append)


async def test_shared_informer_follows_changes(client: Client, namespace: str) -> None:
    await client.create(CONFIGMAPS, configmap("before", namespace))
    factory = SharedInformerFactory(client, namespace=namespace)
    informer = factory.informer_for(CONFIGMAPS)
    informer.add_indexers({"data.owner": lambda o: [o.get("data", {}).get("owner", "")]})
    recorder = Recorder()
    informer.add_event_handler(recorder.handlers())
    factory.start()
    try:
        await asyncio.wait_for(factory.wait_for_cache_sync(), 20)
        assert informer.has_synced() and recorder.adds == ["before"]

        await client.create(CONFIGMAPS, configmap("after", namespace, owner="me"))
        await client.patch(CONFIGMAPS, "before", {"data": {"owner": "me"}}, namespace)
        await client.delete(CONFIGMAPS, "after", namespace)
        await eventually(lambda: len(recorder.deletes) == 1)
        assert recorder.adds == ["before", "after"] and recorder.updates == ["before"]
        assert recorder.deletes[0]["metadata"]["name"] == "after"
        assert [o["metadata"]["name"] for o in informer.by_index("data.owner", "me")] == ["before"]
        assert informer.get("before", namespace) is not None and informer.get("after", namespace) is None
    finally:
        await factory.shutdown()


async def test_informer_relists_when_its_version_is_gone(small_cache_apiserver: Any) -> None:
    server = small_cache_apiserver
    run = uuid.uuid4().hex[:8]

    def labelled(name: str) -> dict[str, Any]:
        body = configmap(f"{name}-{run}", "default")
        body["metadata"]["labels"] = {"run": run}
        return body

    async with Client(load_kubeconfig(server.kubeconfig), component="test") as client:
        informer = Informer(client, CONFIGMAPS, "default", label_selector=f"run={run}")
        recorder = Recorder()
        informer.add_event_handler(recorder.handlers())
        await client.create(CONFIGMAPS, labelled("keep"))
        await client.create(CONFIGMAPS, labelled("vanish"))
        informer.start()
        await asyncio.wait_for(informer.wait_for_sync(), 20)
        await informer.stop()
        stale = informer.last_sync_resource_version

        # While the informer is away: changes it will miss, pushed out of the watch cache and etcd.
        await client.delete(CONFIGMAPS, f"vanish-{run}", "default")
        await client.create(CONFIGMAPS, labelled("new"))
        for i in range(5):
            await client.create(CONFIGMAPS, configmap(f"filler-{i}-{run}", "default"))
        server.compact_etcd()
        # As upstream's cacher: the accepted watch reports the gone version as an ERROR event (410).
        events = [event async for event in client.watch(CONFIGMAPS, "default", resource_version=stale,
                                                        timeout_seconds=5)]
        assert [(event.type, event.object.get("code"), event.object.get("reason")) for event in events] == [
            ("ERROR", 410, "Expired")]

        informer.start()  # resumes from the stale version: 410, then a relist
        try:
            await eventually(lambda: informer.relists == 2 and len(recorder.deletes) == 1)
            tombstone = recorder.deletes[0]
            assert isinstance(tombstone, DeletedFinalStateUnknown)
            assert tombstone.key == f"default/vanish-{run}"
            assert recorder.adds == [f"keep-{run}", f"vanish-{run}", f"new-{run}"]
            assert sorted(informer.indexer.keys()) == [f"default/keep-{run}", f"default/new-{run}"]
        finally:
            await informer.stop()
