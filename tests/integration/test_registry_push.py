"""The OCI distribution push against a real Debian docker-registry on loopback (no cluster): blobs
go up once, the manifest is stored under its tag with the digest we computed, and what a pull
would fetch is what the archive holds."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from kubeplane.kubelet.images import ImageConfig, Layer, write_image
from kubeplane.kubelet.images.build import build_image
from kubeplane.registry import PushResult, RegistryError, push_archive
from kubeplane.registry.server import DOCKER_REGISTRY_BINARY, render_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path(DOCKER_REGISTRY_BINARY).exists(), reason="needs Debian's docker-registry"),
    pytest.mark.timeout(60),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    config = tmp_path / "config.yml"
    config.write_text(render_config(tmp_path / "data", "127.0.0.1", port))
    with (tmp_path / "registry.log").open("wb") as log:
        server = subprocess.Popen([DOCKER_REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "registry.log").read_text()
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def _image(tmp_path: Path, name: str, content: bytes, reference: str = "registry.kubeplane.local/t/app:1") -> Path:
    layer = Layer()
    layer.add_file("data", content)
    return write_image(tmp_path / f"{name}.tar", reference, layer, ImageConfig(cmd=("cat", "/data"))).archive


async def _push(endpoint: str, archive: Path, name: str | None = None) -> PushResult:
    async with aiohttp.ClientSession() as session:
        return await push_archive(session, endpoint, archive, name)


async def _get(url: str, accept: str = "*/*") -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url, headers={"Accept": accept}) as response:
        return response.status, await response.read(), dict(response.headers)


def test_push_uploads_each_blob_once_and_stores_the_manifest(registry: str, tmp_path: Path) -> None:
    archive = _image(tmp_path, "one", b"first")
    first = asyncio.run(_push(registry, archive))
    assert (first.repository, first.tag) == ("t/app", "1")
    assert len(first.uploaded) == 2 and first.skipped == ()
    again = asyncio.run(_push(registry, archive))
    assert again.uploaded == () and len(again.skipped) == 2

    status, body, headers = asyncio.run(_get(f"{registry}/v2/t/app/manifests/1",
                                             "application/vnd.oci.image.manifest.v1+json"))
    assert status == 200
    assert headers["Docker-Content-Digest"] == first.manifest_digest
    assert "sha256:" + hashlib.sha256(body).hexdigest() == first.manifest_digest
    layer = json.loads(body)["layers"][0]
    status, blob, _ = asyncio.run(_get(f"{registry}/v2/t/app/blobs/{layer['digest']}"))
    assert status == 200 and "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]


def test_push_under_another_name_and_a_layered_image(registry: str, tmp_path: Path) -> None:
    base = _image(tmp_path, "base", b"base", "x.local/base:1")
    asyncio.run(_push(registry, base, "docker.io/library/base:1"))
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "x").write_text("x")
    layered = build_image(tmp_path / "app", "x.local/layered:1", tmp_path / "layered.tar", base_archive=base)
    result = asyncio.run(_push(registry, layered.archive, "library/base:2"))
    # Same repository: the base's layer is there already; only our layer and the config go up.
    assert len(result.skipped) == 1 and len(result.uploaded) == 2
    status, body, _ = asyncio.run(_get(f"{registry}/v2/library/base/tags/list"))
    assert status == 200 and sorted(json.loads(body)["tags"]) == ["1", "2"]


def test_an_invalid_target_name_is_refused(registry: str, tmp_path: Path) -> None:
    archive = _image(tmp_path, "anon", b"x")
    with pytest.raises(RegistryError, match="invalid"):
        asyncio.run(_push(registry, archive, "Bad Name"))
