"""Container logs as the kubelet serves them: CRI log files read back without their framing.

containerd writes each chunk a container prints as one line ``<RFC3339Nano time> <stream> <tag>
<content>``; the tag is ``F`` for a full line and ``P`` for a partial one (a long line split, or a
last line without a newline), which the reader joins back by not adding a newline. Options follow
upstream's PodLogOptions: tailLines, sinceSeconds/sinceTime, timestamps, limitBytes and follow.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# How often a followed log is re-read, and how often (in polls) the container's state is checked.
FOLLOW_POLL_SECONDS = 0.2
FOLLOW_STATE_EVERY = 5
_FRACTION = re.compile(r"\.(\d+)")


@dataclass(frozen=True)
class LogRecord:
    time_text: bytes
    time: datetime
    stream: bytes
    partial: bool
    content: bytes

    def render(self, timestamps: bool) -> bytes:
        out = self.time_text + b" " + self.content if timestamps else self.content
        return out if self.partial else out + b"\n"


def parse_time(text: str) -> datetime:
    """RFC 3339 with up to nanoseconds (Python keeps microseconds)."""
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_record(line: bytes) -> LogRecord | None:
    """One CRI log line (without its newline); None when it is not in the CRI format."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    try:
        when = parse_time(parts[0].decode())
    except ValueError:
        return None
    tag = parts[2].split(b":", 1)[0]
    return LogRecord(parts[0], when, parts[1], tag == b"P", parts[3] if len(parts) > 3 else b"")


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    since: datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], now: datetime | None = None) -> LogOptions:
        """Upstream's query parameters; ValueError names the one that is wrong."""
        def flag(name: str) -> bool:
            return query.get(name, "false").lower() in ("true", "1")

        def positive(name: str, allow_zero: bool) -> int | None:
            if name not in query:
                return None
            try:
                value = int(query[name])
            except ValueError:
                raise ValueError(f"{name}: not an integer: {query[name]!r}") from None
            if value < 0 or (value == 0 and not allow_zero):
                raise ValueError(f"{name}: must be {'non-negative' if allow_zero else 'positive'}")
            return value

        since: datetime | None = None
        seconds = positive("sinceSeconds", allow_zero=False)
        if seconds is not None and "sinceTime" in query:
            raise ValueError("at most one of sinceTime or sinceSeconds may be specified")
        if seconds is not None:
            since = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
        elif "sinceTime" in query:
            since = parse_time(query["sinceTime"])
        return cls(follow=flag("follow"), tail_lines=positive("tailLines", allow_zero=True), since=since,
                   timestamps=flag("timestamps"), limit_bytes=positive("limitBytes", allow_zero=False))


def _records(data: bytes, since: datetime | None) -> list[LogRecord]:
    out = []
    for line in data.split(b"\n"):
        record = parse_record(line) if line else None
        if record is not None and (since is None or record.time >= since):
            out.append(record)
    return out


class _Limit:
    """Cuts the output at limitBytes."""

    def __init__(self, limit: int | None) -> None:
        self.left = limit

    def take(self, chunk: bytes) -> bytes:
        if self.left is None:
            return chunk
        chunk = chunk[:self.left]
        self.left -= len(chunk)
        return chunk

    @property
    def exhausted(self) -> bool:
        return self.left is not None and self.left <= 0


async def read_log(path: Path, options: LogOptions,
                   still_running: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[bytes]:
    """The log's content as upstream's kubelet renders it. With ``follow``, new records are sent as
    they are written until ``still_running`` says the container stopped and the file is drained."""
    limit = _Limit(options.limit_bytes)
    with path.open("rb") as file:
        data = file.read()
        # A line still being written has no newline yet: keep it for the next read.
        complete, _, pending = data.rpartition(b"\n")
        records: deque[LogRecord] | list[LogRecord] = _records(complete, options.since)
        if options.tail_lines is not None:
            records = deque(records, maxlen=options.tail_lines)
        first = b"".join(record.render(options.timestamps) for record in records)
        if first:
            yield limit.take(first)
        if not options.follow or limit.exhausted:
            return
        polls = 0
        while True:
            more = file.read()
            if more:
                pending += more
                complete, _, pending = pending.rpartition(b"\n")
                chunk = b"".join(r.render(options.timestamps) for r in _records(complete, options.since))
                if chunk:
                    yield limit.take(chunk)
                    if limit.exhausted:
                        return
                continue
            polls += 1
            if still_running is not None and polls % FOLLOW_STATE_EVERY == 0 and not await still_running():
                # One last read: the container may have written its last lines before exiting.
                if not file.read(1):
                    return
                file.seek(-1, 1)
                continue
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
