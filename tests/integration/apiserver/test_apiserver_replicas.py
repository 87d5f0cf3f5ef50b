"""Several API server processes over one etcd behave as one; one killed with SIGKILL under load
loses nothing it acknowledged, and watches resume from their resourceVersion after a restart."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import start_apiserver, stop_apiserver

pytestmark = pytest.mark.integration


def _call(server: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, payload, _ = server.request(method, path, body)
    return status, payload


@pytest.fixture
def pair(etcd_url: str, tmp_path: Path):
    prefix = f"/kp-{uuid.uuid4().hex[:8]}/registry"
    for sub in ("a", "b", "restart"):
        (tmp_path / sub).mkdir()
    first = start_apiserver(tmp_path / "a", etcd_url, prefix)
    second = start_apiserver(tmp_path / "b", etcd_url, prefix, pki=first.pki)
    yield first, second
    stop_apiserver(first)
    stop_apiserver(second)


def _namespace(server: Any, name: str) -> None:
    status, body = _call(server, "POST", "/api/v1/namespaces",
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert status == 201, body


def test_two_replicas_share_state_and_service_ip_allocation(pair):
    first, second = pair
    _namespace(first, "shared")
    status, _ = _call(second, "GET", "/api/v1/namespaces/shared")
    assert status == 200
    ips = set()
    for index in range(10):
        server = first if index % 2 else second
        status, svc = _call(server, "POST", "/api/v1/namespaces/shared/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{index}"},
            "spec": {"ports": [{"port": 80}], "type": "NodePort"}})
        assert status == 201, svc
        ips.add(svc["spec"]["clusterIP"])
    assert len(ips) == 10
    # A conflict detected across replicas: a stale write through the other server is refused.
    _, cm = _call(first, "POST", "/api/v1/namespaces/shared/configmaps",
                  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"v": "1"}})
    cm["data"]["v"] = "2"
    assert _call(second, "PUT", "/api/v1/namespaces/shared/configmaps/c", cm)[0] == 200
    cm["data"]["v"] = "3"
    status, body = _call(first, "PUT", "/api/v1/namespaces/shared/configmaps/c", cm)
    assert status == 409 and body["reason"] == "Conflict"


def test_sigkill_under_load_loses_no_acknowledged_write_and_watch_resumes(pair, tmp_path):
    first, second = pair
    _namespace(first, "crash")
    acknowledged: list[str] = []
    stop = threading.Event()

    def load() -> None:
        index = 0
        while not stop.is_set():
            name = f"cm-{index}"
            try:
                status, _ = _call(first, "POST", "/api/v1/namespaces/crash/configmaps", {
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"i": str(index)}})
            except (OSError, urllib.error.URLError):
                status = 0
            if status == 201:
                acknowledged.append(name)
            index += 1

    # A watch on the other replica records the last resourceVersion it saw before the crash.
    _, listed = _call(second, "GET", "/api/v1/namespaces/crash/configmaps")
    start_rv = listed["metadata"]["resourceVersion"]
    writer = threading.Thread(target=load)
    writer.start()
    time.sleep(1.0)
    first.process.kill()  # SIGKILL, mid-load
    first.process.wait(10)
    stop.set()
    writer.join(30)
    assert acknowledged, "the load generator never got a write through"

    # Every acknowledged write is there, read through the surviving replica.
    _, after = _call(second, "GET", "/api/v1/namespaces/crash/configmaps")
    names = {item["metadata"]["name"] for item in after["items"]}
    assert set(acknowledged) <= names

    # Restart the killed replica on its port; a watch from the pre-crash RV replays every change.
    restarted = start_apiserver(tmp_path / "restart", first.etcd_url, first.etcd_prefix, pki=first.pki,
                                port=int(first.url.rsplit(":", 1)[1]))
    try:
        context = restarted.ssl_context()
        url = f"{restarted.url}/api/v1/namespaces/crash/configmaps?watch=true&resourceVersion={start_rv}" \
              f"&timeoutSeconds=5"
        seen: list[str] = []
        with urllib.request.urlopen(url, context=context, timeout=30) as resp:
            for line in resp:
                event = json.loads(line)
                if event["type"] == "ADDED":
                    seen.append(event["object"]["metadata"]["name"])
                if len(seen) >= len(names):
                    break
        assert set(seen) == names
    finally:
        stop_apiserver(restarted)
