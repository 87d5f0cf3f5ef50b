"""The event recorder against the real API server: one Event per distinct thing, repeats counted."""

from __future__ import annotations

import pytest

from kubeplane.client.events import NORMAL, WARNING, EventRecorder
from kubeplane.client.resource import CONFIGMAPS, EVENTS
from kubeplane.client.rest import Client

pytestmark = pytest.mark.integration


async def test_repeats_fold_into_a_count(client: Client, namespace: str) -> None:
    subject = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": "subject", "namespace": namespace}})
    recorder = EventRecorder(client, "test-controller", host="node-1")
    for _ in range(3):
        recorder.event(subject, WARNING, "FailedSync", "could not sync")
    recorder.event(subject, NORMAL, "Synced", "synced")
    await recorder.flush()
    await recorder.stop()

    events = (await client.list(EVENTS, namespace))["items"]
    by_reason = {e["reason"]: e for e in events}
    assert sorted(by_reason) == ["FailedSync", "Synced"]
    failed = by_reason["FailedSync"]
    assert failed["count"] == 3 and failed["type"] == WARNING
    assert failed["involvedObject"]["uid"] == subject["metadata"]["uid"]
    assert failed["involvedObject"]["kind"] == "ConfigMap"
    assert failed["source"] == {"component": "test-controller", "host": "node-1"}
    assert by_reason["Synced"]["count"] == 1
