"""The event recorder never blocks its caller: a full buffer drops and counts, several writers
run at once, and repeats about one object still fold into one Event's count in order."""

from __future__ import annotations

import asyncio
from typing import Any

from kubeplane.client import events as events_mod
from kubeplane.client.events import EventRecorder

JSON = dict[str, Any]


class HeldClient:
    """Stands in for the REST client: records writes and holds each until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.created: list[JSON] = []
        self.patched: list[tuple[str, JSON]] = []

    async def _held(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1

    async def create(self, resource: Any, body: JSON, namespace: str | None = None) -> JSON:
        await self._held()
        self.created.append(body)
        return body

    async def patch(self, resource: Any, name: str, patch: JSON, namespace: str | None = None) -> JSON:
        await self._held()
        self.patched.append((name, patch))
        return patch


def pod(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "uid": name}}


async def test_a_full_buffer_drops_and_counts_without_blocking() -> None:
    client = HeldClient()
    recorder = EventRecorder(client, "test-scheduler")  # type: ignore[arg-type]
    total = events_mod.BUFFER_SIZE * 3
    for i in range(total):
        recorder.event(pod(f"p{i}"), "Normal", "Scheduled", f"Successfully assigned default/p{i} to n1")
    await asyncio.sleep(0.05)
    # The buffer holds BUFFER_SIZE (each writer may already have taken one out); the rest dropped.
    assert client.most_in_flight == events_mod.WRITERS
    assert total - events_mod.BUFFER_SIZE - events_mod.WRITERS <= recorder.dropped <= total - events_mod.BUFFER_SIZE
    client.release.set()
    await asyncio.wait_for(recorder.flush(), 10)
    assert len(client.created) + recorder.dropped == total
    await recorder.stop()


async def test_repeats_about_one_object_fold_in_order() -> None:
    client = HeldClient()
    client.release.set()
    recorder = EventRecorder(client, "test-scheduler")  # type: ignore[arg-type]
    for _ in range(3):
        recorder.event(pod("p"), "Warning", "FailedScheduling", "0/3 nodes are available")
    for i in range(20):
        recorder.event(pod(f"q{i}"), "Normal", "Scheduled", "assigned")
    await asyncio.wait_for(recorder.flush(), 10)
    failed = [body for body in client.created if body["reason"] == "FailedScheduling"]
    assert len(failed) == 1 and failed[0]["count"] == 1
    name = failed[0]["metadata"]["name"]
    assert [(n, p["count"]) for n, p in client.patched] == [(name, 2), (name, 3)]
    assert recorder.dropped == 0
    await recorder.stop()

