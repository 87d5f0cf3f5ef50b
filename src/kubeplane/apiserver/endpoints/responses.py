"""Writing an encoded response body: gzip as upstream, and large bodies in slices.

Upstream (``responsewriters.deferredResponseWriter``) gzips a response at level 1 when the client
accepts gzip and the body is larger than 128 KiB; client-go and kubectl send
``Accept-Encoding: gzip`` by default (Go's transport adds it), so a big LIST crosses TLS about ten
times smaller. Level 1 still costs about 2 ms per MiB of one core (130 ms for a LIST of 10,000
pods), so a large body is compressed as pigz does: in 1 MiB groups on a pool of one thread per CPU
(zlib releases the GIL), each group raw DEFLATE ending in a sync flush (which ends on a byte
boundary and leaves the stream open), then an empty final block, all under one gzip header and a
trailer holding the CRC-32 of the whole body. That is one standard gzip member, which any gzip
reader (Go's included) decodes. Each group's compressor is primed with the 32 KiB before it (as
pigz does), so matches reach back across group boundaries and the output is as small as a serial
stream's (a LIST of 10,000 pods: 2.89 MiB against 2.95 MiB serial; 3.01 MiB without priming). The
event loop keeps serving other requests meanwhile.

A body may be one ``bytes`` or a sequence of parts sent in order (a LIST's items, each already
encoded): parts are compressed a group at a time, or joined into small slices as they are
written, so a 58 MiB LIST never exists as one object (building it costs 33 ms of page faults and
copying before the first byte can leave). A large uncompressed body is written in slices: handing
aiohttp the whole body makes it join headers and body into one more copy, and the TLS layer then
encrypts it in one call into one ever-growing buffer before the first byte leaves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from aiohttp import web

# Upstream's defaultGzipThresholdBytes and defaultGzipContentEncodingLevel.
GZIP_THRESHOLD_BYTES = 128 * 1024
GZIP_LEVEL = 1
# Bodies above this are written in slices of about this size. Parts are joined into slices this
# small so that glibc serves them from freed heap memory: joins of 1 MiB were mapped afresh each
# time (13,000 page faults, 30 ms of CPU, for a LIST of 10,000 pods).
WRITE_SLICE_BYTES = 128 << 10
# Bodies are compressed in pieces of about this size, in parallel.
COMPRESS_PIECE_BYTES = 1 << 20
# zlib's wbits for raw DEFLATE (no container) with a 32 KiB window: the pieces of one gzip member.
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS
_WINDOW_BYTES = 1 << zlib.MAX_WBITS
# RFC 1952 header: magic, CM=8 (deflate), no flags, MTIME 0, XFL 0, OS 255 (unknown), as Go writes it.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# Ends the DEFLATE stream after the last sync-flushed piece: an empty final block with fixed codes
# (BFINAL=1, BTYPE=01, end-of-block), what zlib's Z_FINISH writes on an empty stream.
_FINAL_EMPTY_BLOCK = b"\x03\x00"

Chunk = bytes | memoryview
Body = bytes | Sequence[Chunk]
"""One encoded body, or its parts in order (concatenated, they are the body)."""

_compression_pool: ThreadPoolExecutor | None = None


@dataclasses.dataclass(frozen=True)
class EncodedList:
    """A JSON list object whose items are already encoded (the watch cache keeps each object's
    list-item JSON): its envelope (kind, apiVersion, metadata) and the items' bytes. ``parts`` is
    byte for byte what ``orjson.dumps`` of the list with the items as fragments gives, without
    building it."""

    envelope: dict[str, Any]
    items: Sequence[bytes]

    def parts(self) -> list[bytes]:
        envelope = orjson.dumps(self.envelope)
        out = [envelope[:-1] + (b',"items":[' if self.envelope else b'"items":[')]
        for index, item in enumerate(self.items):
            if index:
                out.append(b",")
            out.append(item)
        out.append(b"]}")
        return out

    def as_object(self) -> dict[str, Any]:
        """The list as an object for other encoders (YAML), the items as orjson fragments."""
        return {**self.envelope, "items": [orjson.Fragment(item) for item in self.items]}


class EncodedBodyResponse(web.StreamResponse):
    """A response written by ``send``; ``plain_body`` is the uncompressed body for the audit log."""

    def __init__(self, status: int, body: Body, headers: dict[str, str]) -> None:
        super().__init__(status=status, headers=headers)
        self._body_parts = body

    @functools.cached_property
    def plain_body(self) -> bytes:
        """Joined only when asked (the audit log at RequestResponse level)."""
        return _joined(self._body_parts)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip`` or ``*`` without ``q=0``)."""
    if not accept_encoding:
        return False
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        quality = params.strip().lower()
        if quality.startswith("q="):
            try:
                return float(quality[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def body_size(body: Body) -> int:
    return len(body) if isinstance(body, bytes) else sum(map(len, body))


def groups(body: Body, size: int) -> Iterator[Sequence[Chunk]]:
    """``body`` in order as groups of about ``size`` bytes: small parts gathered until they reach
    ``size``, a large part sliced (no copy). Lazy, so the first group goes out before the next is
    gathered."""
    group: list[Chunk] = []
    grouped = 0
    for part in [body] if isinstance(body, bytes) else body:
        if len(part) >= size:
            if group:
                yield group
                group, grouped = [], 0
            view = memoryview(part)
            yield from ([view[start:start + size]] for start in range(0, len(part), size))
            continue
        group.append(part)
        grouped += len(part)
        if grouped >= size:
            yield group
            group, grouped = [], 0
    if group:
        yield group


def pieces(body: Body, size: int) -> Iterator[Chunk]:
    """``body`` in order as pieces of about ``size`` bytes, each group joined (or a slice)."""
    for group in groups(body, size):
        yield group[0] if len(group) == 1 else b"".join(group)


async def gzip_parts(body: Body) -> list[bytes]:
    """``body`` as one gzip member, in parts to be sent in order (header, pieces, trailer).

    Groups of parts are compressed on the pool as they are gathered, at most two per thread at a
    time, part by part: nothing the size of the body is allocated (faulting in fresh pages for a
    joined 58 MiB LIST cost 14,000 page faults, 30 ms). The CRC-32 runs here, part by part, as each
    group is handed out (0.2 ms a MiB, outside the GIL)."""
    loop = asyncio.get_running_loop()
    pool = _pool()
    in_flight = asyncio.Semaphore(2 * _workers())
    crc, length, preceding = 0, 0, b""
    compressed: list[asyncio.Future[bytes]] = []
    for group in groups(body, COMPRESS_PIECE_BYTES):
        await in_flight.acquire()
        for chunk in group:
            crc, length = zlib.crc32(chunk, crc), length + len(chunk)
        future = loop.run_in_executor(pool, _deflate_group, preceding, group)
        future.add_done_callback(lambda _: in_flight.release())
        compressed.append(future)
        preceding = _window_after(preceding, group)
    # RFC 1952 trailer: CRC-32 and the length modulo 2**32, both little-endian.
    trailer = struct.pack("<II", crc, length & 0xFFFFFFFF)
    return [_GZIP_HEADER, *await asyncio.gather(*compressed), _FINAL_EMPTY_BLOCK, trailer]


def _window_after(preceding: bytes, group: Sequence[Chunk]) -> bytes:
    """The last 32 KiB of the body up to the end of ``group``: the next group's dictionary. A copy,
    so the group's parts can be freed once compressed."""
    tail: list[Chunk] = []
    need = _WINDOW_BYTES
    for chunk in reversed(group):
        tail.append(memoryview(chunk)[-need:])
        need -= len(tail[-1])
        if need <= 0:
            break
    else:
        tail.append(preceding[-need:] if need < len(preceding) else preceding)
    return b"".join(reversed(tail))


def _deflate_group(preceding: bytes, group: Sequence[Chunk]) -> bytes:
    """Raw DEFLATE of one group, given the window of body before it (less at the start: the
    dictionary only has to be the bytes just before). A sync flush ends on a byte boundary with
    the stream still open, so the next group's blocks follow on directly."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _RAW_DEFLATE_WBITS, zdict=preceding)
    # Small parts are fed in slices of WRITE_SLICE_BYTES (a call per 6 KB item cost 20% more CPU).
    out = [compressor.compress(piece) for piece in pieces(group, WRITE_SLICE_BYTES)]
    out.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(out)


def _workers() -> int:
    return len(os.sched_getaffinity(0))


def _pool() -> ThreadPoolExecutor:
    """One compression thread per usable CPU, shared by all responses (so concurrent large LISTs
    queue for the CPUs instead of each starting its own threads); created on first use."""
    global _compression_pool
    if _compression_pool is None:
        _compression_pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="gzip-response")
    return _compression_pool


def _joined(body: Body) -> bytes:
    return body if isinstance(body, bytes) else b"".join(body)


async def respond(request: web.Request, status: int, body: Body, headers: dict[str, str],
                  warnings: Sequence[str] = ()) -> web.StreamResponse:
    """Send ``body`` (already encoded for ``headers["Content-Type"]``, whole or in parts) with
    upstream's compression.

    Small bodies (and answers to HEAD) become a plain ``web.Response``, which aiohttp writes after
    the handler returns; others are written here."""
    size = body_size(body)
    compress = size > GZIP_THRESHOLD_BYTES and accepts_gzip(request.headers.get("Accept-Encoding"))
    # aiohttp leaves out the body of a plain Response to HEAD; a streamed one would be written.
    if request.method == "HEAD" or (not compress and size <= WRITE_SLICE_BYTES):
        response = web.Response(status=status, body=_joined(body), headers=headers)
        _add_warnings(response, warnings)
        return response
    wire: Body = body
    out_headers = dict(headers)
    if compress:
        wire = await gzip_parts(body)
        size = body_size(wire)
        out_headers["Content-Encoding"] = "gzip"
        out_headers["Vary"] = "Accept-Encoding"
    streamed = EncodedBodyResponse(status, body, out_headers)
    streamed.content_length = size
    _add_warnings(streamed, warnings)
    await streamed.prepare(request)
    for piece in pieces(wire, WRITE_SLICE_BYTES):
        await streamed.write(piece)
    await streamed.write_eof()
    return streamed


def _add_warnings(response: web.StreamResponse, warnings: Sequence[str]) -> None:
    for warning in warnings:
        response.headers.add("Warning", f'299 - "{_escape(warning)}"')


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
