"""Response bodies over real HTTP: upstream's gzip rule (level 1, > 128 KiB, client accepts gzip)
and large uncompressed bodies written in slices, byte for byte."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kubeplane.apiserver.endpoints.responses import (
    GZIP_THRESHOLD_BYTES,
    WRITE_SLICE_BYTES,
    EncodedBodyResponse,
    accepts_gzip,
    respond,
)

SENT = web.AppKey("sent", list[web.StreamResponse])


def _list_body(items: int) -> bytes:
    """A pod-list-like JSON body of about 200 bytes per item."""
    return orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"},
                         "items": [{"metadata": {"name": f"pod-{i:07d}", "namespace": "default",
                                                 "labels": {"app": "web", "index": str(i)}},
                                    "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
                                   for i in range(items)]})


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    sent: list[web.StreamResponse] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        body = _list_body(int(request.query["items"]))
        response = await respond(request, 200, body, {"Content-Type": "application/json"}, ["be careful"])
        sent.append(response)
        return response

    app = web.Application()
    app.router.add_route("*", "/list", handle)
    app[SENT] = sent
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_large_body_is_gzipped_when_the_client_accepts_it(client: TestClient[web.Request, web.Application]) -> None:
    items = 2000
    expected = _list_body(items)
    assert len(expected) > GZIP_THRESHOLD_BYTES
    response = await client.get(f"/list?items={items}", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    raw = await response.read()
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers.getall("Warning") == ['299 - "be careful"']
    assert int(response.headers["Content-Length"]) == len(raw) < len(expected) // 5
    assert gzip.decompress(raw) == expected
    sent = client.app[SENT][-1]
    # The audit log gets the uncompressed body.
    assert isinstance(sent, EncodedBodyResponse)
    assert sent.plain_body == expected


async def test_small_body_or_no_gzip_is_sent_as_is(client: TestClient[web.Request, web.Application]) -> None:
    small = _list_body(10)
    assert len(small) < GZIP_THRESHOLD_BYTES
    response = await client.get("/list?items=10", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert "Content-Encoding" not in response.headers
    assert await response.read() == small
    refused = await client.get("/list?items=2000", headers={"Accept-Encoding": "gzip;q=0, identity"},
                               auto_decompress=False)
    assert "Content-Encoding" not in refused.headers
    assert await refused.read() == _list_body(2000)


async def test_body_larger_than_a_slice_arrives_whole(client: TestClient[web.Request, web.Application]) -> None:
    items = 20_000
    expected = _list_body(items)
    assert len(expected) > 2 * WRITE_SLICE_BYTES
    response = await client.get(f"/list?items={items}", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    assert int(response.headers["Content-Length"]) == len(expected)
    assert await response.read() == expected
    sent = client.app[SENT][-1]
    assert isinstance(sent, EncodedBodyResponse)
    assert sent.plain_body == expected


async def test_head_of_a_large_body_sends_no_body(client: TestClient[web.Request, web.Application]) -> None:
    """A body written after a HEAD answer would be read as the next response on the connection."""
    for encoding in ("gzip", "identity"):
        head = await client.head("/list?items=20000", headers={"Accept-Encoding": encoding})
        assert head.status == 200
        assert await head.read() == b""
    following = await client.get("/list?items=10", headers={"Accept-Encoding": "identity"})
    assert await following.read() == _list_body(10)


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip", True), ("gzip, deflate", True), ("deflate, GZIP;q=0.5", True), ("*", True), ("br;q=1, *;q=0.1", True),
    ("gzip;q=0", False), ("identity", False), ("", False), (None, False), ("gzip;q=zero", False),
])
def test_accept_encoding_parsing(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected
