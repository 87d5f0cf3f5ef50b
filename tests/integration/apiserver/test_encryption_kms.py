"""KMS v2 encryption at rest end to end: a real API server over a real etcd with a ``kms`` provider
served by a real ``kubeplane kms-plugin`` process. etcd holds upstream's envelope, the plugin's key
rotates under a running server, and a plugin that goes away fails only what needs it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import APIServerProcess, start_apiserver, stop_apiserver

from kubeplane.component.pki import create_cluster_pki
from kubeplane.storage.encryption.kms_client import KMSClient, KMSError
from kubeplane.storage.encryption.kmsv2 import STATUS_INTERVAL_ENV, EncryptedObject, KMSv2Transformer
from kubeplane.storage.encryption.transformers import kms_prefix

PROVIDER = "local"
PREFIX = kms_prefix(PROVIDER)


class PluginProcess:
    """``python -m kubeplane.kms.app`` (the ``kubeplane kms-plugin`` command), stopped by PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "kms.sock"
        self.key_file = workdir / "keys.json"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "kubeplane.kms.app", "--key-file", str(self.key_file), *args]

    def start(self) -> None:
        with (self.workdir / "plugin.log").open("ab") as log:
            self.process = subprocess.Popen(self.command("--socket", str(self.socket)), stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kms plugin did not start:\n{(self.workdir / 'plugin.log').read_text()}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        async def ask() -> bool:
            client = KMSClient(self.endpoint, 2.0)
            try:
                return (await client.status()).healthz == "ok"
            except KMSError:
                return False
            finally:
                await client.close()
        return self.socket.exists() and asyncio.run(ask())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def rotate(self) -> str:
        result = subprocess.run(self.command("--rotate"), capture_output=True, text=True, timeout=30, check=True)
        return result.stdout.strip()


def etcdctl_get(etcd_url: str, key: str) -> bytes:
    """The raw stored value, as ``etcdctl get`` sees it."""
    result = subprocess.run(["etcdctl", f"--endpoints={etcd_url}", "get", key, "-w", "json"], capture_output=True,
                            check=True, timeout=30, env={**os.environ, "ETCDCTL_API": "3"})
    kvs = json.loads(result.stdout).get("kvs") or []
    assert kvs, f"{key} is not in etcd"
    return base64.b64decode(kvs[0]["value"])


def etcd_put(etcd_url: str, key: str, value: bytes) -> None:
    body = json.dumps({"key": base64.b64encode(key.encode()).decode(),
                       "value": base64.b64encode(value).decode()}).encode()
    with urllib.request.urlopen(urllib.request.Request(etcd_url + "/v3/kv/put", data=body, method="POST"),
                                timeout=10):
        pass


def key_id_of(stored: bytes) -> str:
    assert stored.startswith(PREFIX), stored[:40]
    key_id: str = EncryptedObject.FromString(stored[len(PREFIX):]).keyID
    return key_id


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def secret(ns: str, name: str, password: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name, "namespace": ns},
            "data": {"password": base64.b64encode(password.encode()).decode()}}


def password(server: APIServerProcess, ns: str, name: str) -> tuple[int, Any]:
    code, body, _ = server.request("GET", f"/api/v1/namespaces/{ns}/secrets/{name}")
    return code, base64.b64decode(body["data"]["password"]).decode() if code == 200 else body


def foreign_value(endpoint: str, key: str, obj: dict[str, Any]) -> bytes:
    """A value written by another API server: its own DEK, which this server has never decrypted."""
    async def seal() -> bytes:
        envelope = KMSv2Transformer(PROVIDER, KMSClient(endpoint, 3.0))
        try:
            return PREFIX + await envelope.to_storage(json.dumps(obj).encode(), key.encode())
        finally:
            await envelope.close()
    return asyncio.run(seal())


@pytest.fixture
def workdir() -> Iterator[Path]:
    # A short path: a unix socket's path is limited to 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="kpkms-"))
    try:
        yield path
    finally:
        if os.environ.get("KUBEPLANE_KEEP_LOGS") is None:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def plugin(workdir: Path) -> Iterator[PluginProcess]:
    running = PluginProcess(workdir)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def server(workdir: Path, plugin: PluginProcess, etcd_url: str,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[APIServerProcess]:
    config = workdir / "encryption.yaml"
    config.write_text(f"""apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - kms: {{apiVersion: v2, name: {PROVIDER}, endpoint: "{plugin.endpoint}", timeout: 3s}}
  - identity: {{}}
""")
    # Poll the plugin's status twice a second instead of once a minute, so a rotation shows quickly.
    monkeypatch.setenv(STATUS_INTERVAL_ENV, "0.5")
    running = start_apiserver(workdir, etcd_url, f"/kp-{uuid.uuid4().hex[:8]}/registry",
                              pki=create_cluster_pki(workdir / "pki", "198.19.0.0/16"),
                              extra=(f"--encryption-provider-config={config}",))
    try:
        yield running
    finally:
        stop_apiserver(running)


def test_kms_envelope_in_etcd_rotation_and_a_plugin_outage(server: APIServerProcess, plugin: PluginProcess) -> None:
    ns = f"k-{uuid.uuid4().hex[:8]}"
    secrets = f"/api/v1/namespaces/{ns}/secrets"
    stored_key = f"{server.etcd_prefix}/secrets/{ns}"
    server.kubectl("create", "namespace", ns)
    server.kubectl("create", "secret", "generic", "db", "-n", ns, "--from-literal=password=hunter2")
    server.kubectl("create", "configmap", "plain", "-n", ns, "--from-literal=colour=blue")

    stored = etcdctl_get(server.etcd_url, f"{stored_key}/db")
    assert stored.startswith(b"k8s:enc:kms:v2:local:")
    assert b"hunter2" not in stored and base64.b64encode(b"hunter2") not in stored
    first_key = key_id_of(stored)
    assert password(server, ns, "db") == (200, "hunter2")
    assert b"blue" in etcdctl_get(server.etcd_url, f"{server.etcd_prefix}/configmaps/{ns}/plain")
    assert server.request("GET", "/healthz/kms-provider-0")[:2] == (200, "ok")

    # Rotate the plugin's key: after the next status poll, new writes use the new key id.
    second_key = plugin.rotate()
    assert second_key and second_key != first_key

    def new_write_uses_new_key() -> bool:
        name = f"probe-{uuid.uuid4().hex[:6]}"
        assert server.request("POST", secrets, secret(ns, name, "x"))[0] == 201
        return key_id_of(etcdctl_get(server.etcd_url, f"{stored_key}/{name}")) == second_key
    wait_until(new_write_uses_new_key, "a write under the rotated key")
    # The old secret still reads; rewriting it (upstream's `kubectl replace`) moves it to the new key.
    assert password(server, ns, "db") == (200, "hunter2")
    assert key_id_of(etcdctl_get(server.etcd_url, f"{stored_key}/db")) == first_key
    server.kubectl("replace", "-f", "-", input=server.kubectl("get", "secret", "db", "-n", ns, "-o", "json").stdout)
    assert key_id_of(etcdctl_get(server.etcd_url, f"{stored_key}/db")) == second_key

    # Another server's write, with a DEK this server never saw, lands while the plugin is down.
    foreign = secret(ns, "foreign", "elsewhere")
    foreign["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp="2026-01-01T00:00:00Z")
    value = foreign_value(plugin.endpoint, f"{stored_key}/foreign", foreign)
    plugin.stop()
    etcd_put(server.etcd_url, f"{stored_key}/foreign", value)

    code, status = password(server, ns, "foreign")
    assert code == 500 and status["reason"] == "InternalError", status
    assert status["message"].startswith(f'Internal error occurred: unable to transform key "{stored_key}/foreign": '
                                        "k8s:enc:kms:v2:local: failed to decrypt DEK, error: rpc error: "
                                        "code = Unavailable desc = "), status["message"]
    # Cached DEKs still decrypt, other resources are served, writes go on with the current DEK.
    assert password(server, ns, "db") == (200, "hunter2")
    assert server.request("GET", f"/api/v1/namespaces/{ns}/configmaps/plain")[0] == 200
    assert server.request("POST", secrets, secret(ns, "during-outage", "still"))[0] == 201
    wait_until(lambda: server.request("GET", "/healthz/kms-provider-0")[0] != 200, "the kms health check to fail")

    # The plugin is back: the unseen DEK decrypts and the check passes again.
    plugin.start()
    wait_until(lambda: password(server, ns, "foreign") == (200, "elsewhere"), "the foreign secret to read")
    wait_until(lambda: server.request("GET", "/healthz/kms-provider-0")[0] == 200, "the kms health check to pass")
