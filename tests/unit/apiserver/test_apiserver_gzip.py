"""Parallel gzip of response bodies: one valid gzip member whatever the piece boundaries, checked
with Python's zlib and with GNU gzip (a second, independent inflater), and bodies given as parts
sent byte for byte over real HTTP."""

from __future__ import annotations

import gzip
import random
import shutil
import subprocess
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kubeplane.apiserver.endpoints import responses
from kubeplane.apiserver.endpoints.responses import (
    COMPRESS_PIECE_BYTES,
    GZIP_THRESHOLD_BYTES,
    WRITE_SLICE_BYTES,
    EncodedBodyResponse,
    EncodedList,
    gzip_parts,
    pieces,
    respond,
)


def _items(count: int) -> list[bytes]:
    """Encoded pod-like list items of varied sizes (so piece boundaries fall mid-item)."""
    rng = random.Random(count)
    return [orjson.dumps({"metadata": {"name": f"pod-{i:06d}", "uid": rng.randbytes(16).hex()},
                          "spec": {"containers": [{"name": "app", "image": "nginx",
                                                   "args": ["--flag"] * rng.randrange(1, 200)}]}})
            for i in range(count)]


def _list_parts(items: list[bytes]) -> list[bytes]:
    """A PodList as its handler would hand it over: head, items separated by commas, tail."""
    parts = [b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[']
    for index, item in enumerate(items):
        parts += [b","] * (index > 0) + [item]
    return [*parts, b"]}"]


def _gunzip_with_gnu_gzip(data: bytes) -> bytes:
    return subprocess.run(["gzip", "-dc"], input=data, capture_output=True, check=True).stdout


needs_gnu_gzip = pytest.mark.skipif(shutil.which("gzip") is None, reason="GNU gzip is not installed")


@pytest.mark.parametrize("body", [
    b"", b"x", b"a" * (COMPRESS_PIECE_BYTES - 1), b"a" * COMPRESS_PIECE_BYTES,
    random.Random(1).randbytes(3 * COMPRESS_PIECE_BYTES + 17),  # incompressible: stored blocks
    b"abc" * (2 * COMPRESS_PIECE_BYTES),
], ids=["empty", "one-byte", "just-under-a-piece", "one-piece", "random", "repetitive"])
async def test_gzip_of_bytes_is_one_valid_member(body: bytes) -> None:
    compressed = b"".join(await gzip_parts(body))
    assert gzip.decompress(compressed) == body
    # One member: no bytes after the trailer (a second member would also decompress).
    decompressor = gzip.zlib.decompressobj(16 + gzip.zlib.MAX_WBITS)  # type: ignore[attr-defined]
    assert decompressor.decompress(compressed) == body
    assert decompressor.eof and decompressor.unused_data == b""


@needs_gnu_gzip
async def test_gzip_of_parts_equals_the_joined_body_for_another_inflater() -> None:
    parts = _list_parts(_items(4000))
    body = b"".join(parts)
    assert len(body) > 3 * COMPRESS_PIECE_BYTES
    compressed = b"".join(await gzip_parts(parts))
    assert _gunzip_with_gnu_gzip(compressed) == body
    assert gzip.decompress(compressed) == body
    # Priming each piece with the window before it keeps parallel output as small as serial.
    assert len(compressed) <= len(gzip.compress(body, compresslevel=1)) * 1.01


async def test_pieces_keep_order_and_bytes_whatever_the_part_sizes() -> None:
    rng = random.Random(7)
    size = 1 << 20
    parts = [rng.randbytes(rng.choice([0, 1, 100, 5000, 300_000, 2_500_000])) for _ in range(60)]
    out = list(pieces(parts, size))
    assert b"".join(out) == b"".join(parts)
    # Small parts are gathered (at most one small part past the size); large ones are sliced.
    assert max(len(piece) for piece in out) < size + 300_000
    large = sum(len(p) >= size for p in parts)
    assert len(out) <= sum(map(len, parts)) // size + 2 * large + 1


async def test_concurrent_compressions_share_the_pool_and_stay_separate() -> None:
    import asyncio

    bodies = [b"".join(_list_parts(_items(400 + 100 * i))) for i in range(6)]
    results = await asyncio.gather(*(gzip_parts(body) for body in bodies))
    assert [gzip.decompress(b"".join(parts)) for parts in results] == bodies
    assert responses._compression_pool is not None
    assert responses._compression_pool._max_workers == responses._workers()


# -- parts over HTTP --------------------------------------------------------------------------------

SENT = web.AppKey("sent", list[web.StreamResponse])


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    sent: list[web.StreamResponse] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        parts = _list_parts(_items(int(request.query["items"])))
        response = await respond(request, 200, parts, {"Content-Type": "application/json"})
        sent.append(response)
        return response

    app = web.Application()
    app.router.add_route("*", "/list", handle)
    app[SENT] = sent
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@needs_gnu_gzip
async def test_parts_are_sent_gzipped_as_one_body(client: TestClient[web.Request, web.Application]) -> None:
    expected = b"".join(_list_parts(_items(2000)))
    assert len(expected) > 2 * COMPRESS_PIECE_BYTES
    response = await client.get("/list?items=2000", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    raw = await response.read()
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert int(response.headers["Content-Length"]) == len(raw)
    assert _gunzip_with_gnu_gzip(raw) == expected
    sent = client.app[SENT][-1]
    assert isinstance(sent, EncodedBodyResponse)
    assert sent.plain_body == expected  # what the audit log records


async def test_parts_are_sent_uncompressed_byte_for_byte(client: TestClient[web.Request, web.Application]) -> None:
    expected = b"".join(_list_parts(_items(2000)))
    assert len(expected) > 2 * WRITE_SLICE_BYTES
    response = await client.get("/list?items=2000", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    assert int(response.headers["Content-Length"]) == len(expected)
    assert await response.read() == expected


async def test_small_parts_and_head(client: TestClient[web.Request, web.Application]) -> None:
    small = b"".join(_list_parts(_items(3)))
    assert len(small) < GZIP_THRESHOLD_BYTES
    response = await client.get("/list?items=3", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert "Content-Encoding" not in response.headers
    assert await response.read() == small
    head = await client.head("/list?items=2000", headers={"Accept-Encoding": "gzip"})
    assert head.status == 200
    assert await head.read() == b""


@pytest.mark.parametrize("count", [0, 1, 3])
def test_encoded_list_parts_are_what_orjson_writes_for_the_list(count: int) -> None:
    items = _items(count)
    envelope = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7", "continue": "x"}}
    encoded = EncodedList(envelope, items)
    expected = orjson.dumps({**envelope, "items": [orjson.Fragment(item) for item in items]})
    assert b"".join(encoded.parts()) == expected
    assert orjson.dumps(encoded.as_object()) == expected
