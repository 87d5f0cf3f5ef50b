"""Writing an encoded response body: gzip as upstream, and large bodies in slices.

Upstream (``responsewriters.deferredResponseWriter``) gzips a response at level 1 when the client
accepts gzip and the body is larger than 128 KiB; client-go and kubectl send
``Accept-Encoding: gzip`` by default (Go's transport adds it), so a big LIST crosses TLS about ten
times smaller. Compression runs in a worker thread: zlib releases the GIL on large buffers, so the
event loop keeps serving other requests meanwhile.

A large body that is not compressed is written in 1 MiB slices of one ``memoryview``: handing
aiohttp the whole body makes it join headers and body into one more copy, and the TLS layer then
encrypts it in one call into one ever-growing buffer before the first byte leaves.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence

from aiohttp import web

# Upstream's defaultGzipThresholdBytes and defaultGzipContentEncodingLevel.
GZIP_THRESHOLD_BYTES = 128 * 1024
GZIP_LEVEL = 1
# Bodies above this are written in slices of this size.
WRITE_SLICE_BYTES = 1 << 20
# zlib's wbits for the gzip container (header and CRC trailer) with a 32 KiB window.
_GZIP_WBITS = 16 + zlib.MAX_WBITS


class EncodedBodyResponse(web.StreamResponse):
    """A response written by ``send``; ``plain_body`` keeps the uncompressed bytes for the audit log."""

    def __init__(self, status: int, plain_body: bytes, headers: dict[str, str]) -> None:
        super().__init__(status=status, headers=headers)
        self.plain_body = plain_body


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


def gzip_bytes(body: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
    return compressor.compress(body) + compressor.flush()


async def respond(request: web.Request, status: int, body: bytes, headers: dict[str, str],
                  warnings: Sequence[str] = ()) -> web.StreamResponse:
    """Send ``body`` (already encoded for ``headers["Content-Type"]``) with upstream's compression.

    Small bodies (and answers to HEAD) become a plain ``web.Response``, which aiohttp writes after
    the handler returns; others are written here."""
    compress = len(body) > GZIP_THRESHOLD_BYTES and accepts_gzip(request.headers.get("Accept-Encoding"))
    # aiohttp leaves out the body of a plain Response to HEAD; a streamed one would be written.
    if request.method == "HEAD" or (not compress and len(body) <= WRITE_SLICE_BYTES):
        response = web.Response(status=status, body=body, headers=headers)
        _add_warnings(response, warnings)
        return response
    wire = body
    out_headers = dict(headers)
    if compress:
        wire = await asyncio.to_thread(gzip_bytes, body)
        out_headers["Content-Encoding"] = "gzip"
        out_headers["Vary"] = "Accept-Encoding"
    streamed = EncodedBodyResponse(status, body, out_headers)
    streamed.content_length = len(wire)
    _add_warnings(streamed, warnings)
    await streamed.prepare(request)
    view = memoryview(wire)
    for start in range(0, len(wire), WRITE_SLICE_BYTES):
        await streamed.write(view[start:start + WRITE_SLICE_BYTES])
    await streamed.write_eof()
    return streamed


def _add_warnings(response: web.StreamResponse, warnings: Sequence[str]) -> None:
    for warning in warnings:
        response.headers.add("Warning", f'299 - "{_escape(warning)}"')


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
