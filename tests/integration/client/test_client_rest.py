"""The REST client against the real API server: CRUD, typed errors, patch types, watch."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from kubeplane.client import errors
from kubeplane.client.resource import CONFIGMAPS, NAMESPACES
from kubeplane.client.rest import ADDED, DELETED, MODIFIED, Client, WatchEvent

pytestmark = pytest.mark.integration


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}


async def test_crud_round_trip(client: Client, namespace: str) -> None:
    created = await client.create(CONFIGMAPS, configmap("one", a="1"), namespace=namespace)
    assert created["metadata"]["uid"]
    fetched = await client.get(CONFIGMAPS, "one", namespace)
    assert fetched["data"] == {"a": "1"}

    fetched["data"]["b"] = "2"
    updated = await client.update(CONFIGMAPS, fetched, namespace)
    assert updated["data"] == {"a": "1", "b": "2"}
    assert updated["metadata"]["resourceVersion"] != fetched["metadata"]["resourceVersion"]

    merged = await client.patch(CONFIGMAPS, "one", {"data": {"c": "3"}}, namespace)
    assert merged["data"]["c"] == "3"
    json_patched = await client.patch(CONFIGMAPS, "one", [{"op": "remove", "path": "/data/a"}], namespace,
                                      patch_type="json")
    assert "a" not in json_patched["data"]

    page = await client.list(CONFIGMAPS, namespace)
    assert [item["metadata"]["name"] for item in page["items"]] == ["one"]

    await client.delete(CONFIGMAPS, "one", namespace)
    with pytest.raises(errors.NotFound) as caught:
        await client.get(CONFIGMAPS, "one", namespace)
    assert caught.value.code == 404 and caught.value.reason == "NotFound"
    assert caught.value.details["name"] == "one"


async def test_typed_errors(client: Client, namespace: str) -> None:
    await client.create(CONFIGMAPS, configmap("dup"), namespace=namespace)
    with pytest.raises(errors.AlreadyExists) as exists:
        await client.create(CONFIGMAPS, configmap("dup"), namespace=namespace)
    assert exists.value.code == 409

    stale = await client.get(CONFIGMAPS, "dup", namespace)
    await client.patch(CONFIGMAPS, "dup", {"data": {"x": "1"}}, namespace)
    with pytest.raises(errors.Conflict) as conflict:
        await client.update(CONFIGMAPS, stale, namespace)
    assert not isinstance(conflict.value, errors.AlreadyExists)

    with pytest.raises(errors.Invalid) as invalid:
        await client.create(CONFIGMAPS, configmap("Not_A_Valid_Name"), namespace=namespace)
    assert invalid.value.code == 422
    assert any(c.get("field") == "metadata.name" for c in invalid.value.causes)


async def test_list_pages_through_continue(client: Client, namespace: str) -> None:
    for i in range(7):
        await client.create(CONFIGMAPS, configmap(f"cm-{i}"), namespace=namespace)
    first = await client.list(CONFIGMAPS, namespace, limit=3)
    assert len(first["items"]) == 3 and first["metadata"].get("continue")
    items, rv = await client.list_all(CONFIGMAPS, namespace, page_size=3)
    assert sorted(i["metadata"]["name"] for i in items) == [f"cm-{i}" for i in range(7)]
    assert int(rv) > 0


async def test_watch_streams_events(client: Client, namespace: str) -> None:
    _, rv = await client.list_all(CONFIGMAPS, namespace)
    seen: list[WatchEvent] = []

    async def consume() -> None:
        events = client.watch(CONFIGMAPS, namespace, resource_version=rv, timeout_seconds=30)
        async with contextlib.aclosing(events):
            async for event in events:
                if event.type in (ADDED, MODIFIED, DELETED):
                    seen.append(event)
                if event.type == DELETED:
                    return

    task = asyncio.create_task(consume())
    await client.create(CONFIGMAPS, configmap("w", v="1"), namespace=namespace)
    await client.patch(CONFIGMAPS, "w", {"data": {"v": "2"}}, namespace)
    await client.delete(CONFIGMAPS, "w", namespace)
    await asyncio.wait_for(task, 30)
    assert [e.type for e in seen] == [ADDED, MODIFIED, DELETED]
    assert seen[1].object["data"] == {"v": "2"}


async def test_cluster_scoped_get(client: Client, namespace: str) -> None:
    ns = await client.get(NAMESPACES, namespace)
    assert ns["metadata"]["name"] == namespace
    with pytest.raises(errors.NotFound):
        await client.get(NAMESPACES, f"missing-{uuid.uuid4().hex[:6]}")


async def test_user_agent_names_component(client: Client) -> None:
    assert client.user_agent.startswith("kubeplane-test/")

