"""The client half of SPDY/3.1 that exec/attach need from containerd's stream server.

Why: kubectl 1.30+ speaks ``v5.channel.k8s.io`` over WebSocket, whose "close stdin" message has no
equivalent in the ``v4.channel.k8s.io`` WebSocket protocol containerd 1.6 serves. Its SPDY side,
though, closes a stream with a FIN flag, which containerd turns into EOF on the process's stdin. So
the kubelet opens the channels as SPDY streams and translates (``websocket.relay_channels``).

Only what that needs: SYN_STREAM with a header block, DATA with or without FIN, PING answered.
Header blocks are zlib-compressed without the protocol's preset dictionary (the zlib header then
says so, and a reader accepts it); the server's own header blocks are never read, so they need no
decompression. Flow control (WINDOW_UPDATE) is not enforced by containerd's SPDY library.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, PING = 1, 2, 3, 6
FLAG_FIN = 0x01
_CONTROL_BIT = 0x8000


@dataclass(frozen=True)
class Frame:
    """A frame the server sent: DATA (``control`` is 0) or a control frame of that type."""
    control: int
    stream_id: int
    fin: bool
    data: bytes = b""


class SpdyConnection:
    """Client streams over an upgraded connection (odd ids, as the protocol gives clients)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._compressor = zlib.compressobj()
        self._next_id = 1

    def open_stream(self, headers: Mapping[str, str]) -> int:
        stream_id = self._next_id
        self._next_id += 2
        block = struct.pack(">I", len(headers))
        for name, value in headers.items():
            for text in (name.lower().encode(), value.encode()):  # SPDY/3 header names are lowercase
                block += struct.pack(">I", len(text)) + text
        compressed = self._compressor.compress(block) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        # stream id, associated stream id 0, priority 0 and slot 0, then the header block
        self._control(SYN_STREAM, 0, struct.pack(">IIH", stream_id, 0, 0) + compressed)
        return stream_id

    def send(self, stream_id: int, data: bytes, fin: bool = False) -> None:
        flags = FLAG_FIN if fin else 0
        self._writer.write(struct.pack(">II", stream_id & 0x7FFFFFFF, flags << 24 | len(data)) + data)

    async def drain(self) -> None:
        await self._writer.drain()

    def _control(self, kind: int, flags: int, payload: bytes) -> None:
        self._writer.write(struct.pack(">HHI", _CONTROL_BIT | VERSION, kind, flags << 24 | len(payload)) + payload)

    async def next_frame(self) -> Frame | None:
        """The next DATA, SYN_REPLY or RST_STREAM frame; None when the server closed the connection."""
        while True:
            try:
                head = await self._reader.readexactly(8)
                first, second = struct.unpack(">II", head)
                flags, length = second >> 24, second & 0xFFFFFF
                payload = await self._reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            if not first & 0x80000000:
                return Frame(0, first & 0x7FFFFFFF, bool(flags & FLAG_FIN), payload)
            kind = first & 0xFFFF
            if kind == PING:
                self._control(PING, 0, payload)  # answered with the same id
                continue
            if kind in (SYN_REPLY, RST_STREAM) and len(payload) >= 4:
                stream_id = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
                return Frame(kind, stream_id, kind == RST_STREAM or bool(flags & FLAG_FIN))
            # SETTINGS, WINDOW_UPDATE, HEADERS, GOAWAY: nothing this client acts on.

    def close(self) -> None:
        self._writer.close()
