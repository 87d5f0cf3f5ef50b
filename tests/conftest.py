"""Shared fixtures: a real etcd for integration tests (one per session) and per-test key prefixes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeplane.component.etcd import etcd_command, free_port, wait_etcd_ready


@pytest.fixture(scope="session")
def etcd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reuse = os.environ.get("KUBEPLANE_TEST_ETCD_URL")
    if reuse:
        yield reuse
        return
    data_dir: Path = tmp_path_factory.mktemp("etcd")
    client_url = f"http://127.0.0.1:{free_port()}"
    peer_url = f"http://127.0.0.1:{free_port()}"
    log = (data_dir.parent / "etcd.log").open("wb")
    process = subprocess.Popen(etcd_command(f"test-{uuid.uuid4().hex[:8]}", data_dir / "data", client_url, peer_url),
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        asyncio.run(wait_etcd_ready(client_url, timeout=30))
        yield client_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def etcd_prefix() -> str:
    return f"/t-{uuid.uuid4().hex}/registry"
