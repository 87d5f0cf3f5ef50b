"""Concurrent writers and watchers against one real API server: no lost update, gap-free watches."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import aiohttp
import pytest

from kubeplane.storage.etcd3.etcd_kv import EtcdKV

pytestmark = pytest.mark.integration


class Client:
    """A small async HTTPS client for the API as the admin (keep-alive connection pool)."""

    def __init__(self, base: str, context: ssl.SSLContext) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=100))

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, json=body) as resp:
            return resp.status, await resp.json(content_type=None)

    async def close(self) -> None:
        await self.session.close()


def _configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}}, "data": data}


async def test_fifty_concurrent_read_modify_write_updaters_lose_nothing(apiserver, namespace):
    client = Client(apiserver.url, apiserver.ssl_context())
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    try:
        status, _ = await client.call("POST", base, _configmap("counter", count="0"))
        assert status == 201
        conflicts = 0
        increments_per_writer = 4

        async def writer() -> None:
            nonlocal conflicts
            done = 0
            while done < increments_per_writer:
                _, current = await client.call("GET", f"{base}/counter")
                current["data"]["count"] = str(int(current["data"]["count"]) + 1)
                status, body = await client.call("PUT", f"{base}/counter", current)
                if status == 409:
                    assert body["reason"] == "Conflict"
                    conflicts += 1
                    continue
                assert status == 200, body
                done += 1

        await asyncio.gather(*(writer() for _ in range(50)))
        _, final = await client.call("GET", f"{base}/counter")
        assert final["data"]["count"] == str(50 * increments_per_writer)
        assert conflicts > 0  # 50 writers on one object must have collided
    finally:
        await client.close()


async def _collect(client: Client, path: str, until_name: str, sink: list[dict[str, Any]]) -> None:
    async with client.session.get(client.base + path) as resp:
        assert resp.status == 200
        async for line in resp.content:
            if not line.strip():
                continue
            event = json.loads(line)
            if event["type"] == "BOOKMARK":
                continue
            sink.append(event)
            if event["object"]["metadata"]["name"] == until_name and event["type"] == "DELETED":
                return


async def _etcd_history(apiserver: Any, namespace: str, after: int) -> list[tuple[str, str, int]]:
    """etcd's record of the namespace's ConfigMap keys after revision ``after``, as watch events
    would name them, read by a raw etcd watch replaying history up to the "end" marker's deletion."""
    prefix = f"{apiserver.etcd_prefix}/configmaps/{namespace}/"
    kv = EtcdKV(apiserver.etcd_url)
    history: list[tuple[str, str, int]] = []
    try:
        watch = await kv.watch(prefix, prefix[:-1] + "0", after + 1, progress_notify=False)
        try:
            async with asyncio.timeout(30):
                async for batch in watch:
                    for event in batch.events:
                        name = event.kv.key[len(prefix):]
                        kind = "DELETED" if event.deleted else (
                            "ADDED" if event.kv.create_revision == event.kv.mod_revision else "MODIFIED")
                        history.append((kind, name, event.kv.mod_revision))
                        if (kind, name) == ("DELETED", "end"):
                            return history
        finally:
            await watch.close()
    finally:
        await kv.close()
    return history


async def test_watches_are_ordered_and_gap_free_under_concurrent_writes(apiserver, namespace):
    client = Client(apiserver.url, apiserver.ssl_context())
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    try:
        # An object written before the watches start, so one watcher can begin from an older RV.
        status, first = await client.call("POST", base, _configmap("early", {"group": "a"}))
        assert status == 201
        old_rv = first["metadata"]["resourceVersion"]
        status, second = await client.call("POST", base, _configmap("early-2", {"group": "a"}))
        assert status == 201
        start_rv = second["metadata"]["resourceVersion"]
        history: list[tuple[str, str, int, str]] = []  # (type, name, rv, group)

        watch_all: list[dict[str, Any]] = []
        watch_old: list[dict[str, Any]] = []
        watch_selected: list[dict[str, Any]] = []
        watchers = [
            asyncio.create_task(_collect(client, f"{base}?watch=true&resourceVersion={start_rv}", "end", watch_all)),
            asyncio.create_task(_collect(client, f"{base}?watch=true&resourceVersion={old_rv}", "end", watch_old)),
            asyncio.create_task(_collect(client, f"{base}?watch=true&resourceVersion={start_rv}"
                                                 f"&labelSelector=group%3Db", "end", watch_selected)),
        ]
        await asyncio.sleep(0.5)

        async def worker(index: int) -> None:
            group = "b" if index % 2 else "a"
            name = f"obj-{index}"
            status, created = await client.call("POST", base, _configmap(name, {"group": group}, v="0"))
            assert status == 201
            history.append(("ADDED", name, int(created["metadata"]["resourceVersion"]), group))
            for step in range(1, 4):
                created["data"]["v"] = str(step)
                status, created = await client.call("PUT", f"{base}/{name}", created)
                assert status == 200
                history.append(("MODIFIED", name, int(created["metadata"]["resourceVersion"]), group))
            status, deleted = await client.call("DELETE", f"{base}/{name}")
            assert status == 200
            assert deleted["status"] == "Success"

        await asyncio.gather(*(worker(i) for i in range(12)))
        # The terminal marker carries group=b so that every watcher sees it.
        for method, body in (("POST", _configmap("end", {"group": "b"})), ("DELETE", None)):
            path = base if method == "POST" else f"{base}/end"
            status, _ = await client.call(method, path, body)
            assert status in (200, 201)
        await asyncio.wait_for(asyncio.gather(*watchers), 30)

        def rvs(events: list[dict[str, Any]]) -> list[int]:
            return [int(e["object"]["metadata"]["resourceVersion"]) for e in events]

        for events in (watch_all, watch_old, watch_selected):
            assert rvs(events) == sorted(rvs(events)), "events out of order"
            assert len(set(rvs(events))) == len(events), "duplicate events"
        # Every non-delete write the clients saw acknowledged is in the unfiltered stream.
        acknowledged = {(t, n, rv) for t, n, rv, _ in history if t != "DELETED"}
        seen = {(e["type"], e["object"]["metadata"]["name"], int(e["object"]["metadata"]["resourceVersion"]))
                for e in watch_all}
        assert acknowledged <= seen
        assert len(watch_all) == 12 * 5 + 2
        # The watch from an older RV saw the same stream plus the earlier object's creation.
        assert [e for e in watch_old if int(e["object"]["metadata"]["resourceVersion"]) > int(start_rv)] == watch_all
        assert watch_old[0]["object"]["metadata"]["name"] == "early-2"
        # The selector watch saw exactly the group=b objects' events.
        assert watch_selected == [e for e in watch_all if e["object"]["metadata"]["labels"].get("group") == "b"]
        # And the unfiltered stream is etcd's own history of these keys, change for change.
        assert [(e["type"], e["object"]["metadata"]["name"], int(e["object"]["metadata"]["resourceVersion"]))
                for e in watch_all] == await _etcd_history(apiserver, namespace, int(start_rv))
    finally:
        await client.close()
