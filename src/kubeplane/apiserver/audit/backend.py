"""Where audit events go: a JSON-lines log file (or stdout), written by a batching task.

Requests only append an encoded line to a bounded in-memory buffer; one task drains it in
batches and writes them from a worker thread, so a slow disk never holds up a request. When the
buffer is full (the disk cannot keep up) events are dropped and counted, as upstream's batch
backend does, rather than slowing the API down. Rotation follows lumberjack, which kube-apiserver
uses: ``--audit-log-maxsize`` megabytes per file (0: 100), backups renamed
``<name>-<UTC time>.<ext>``, at most ``--audit-log-maxbackup`` of them (0: all) and none older than
``--audit-log-maxage`` days (0: any age).

EKS ships this stream as the cluster's "audit" control-plane log; a region service that forwards
control-plane logs should read the file given by ``--audit-log-path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson
from prometheus_client import Counter

log = logging.getLogger(__name__)

STDOUT = "-"
DEFAULT_MAX_SIZE_MB = 100  # lumberjack's size when none is given
DEFAULT_BUFFER_SIZE = 10000  # upstream's --audit-log-batch-buffer-size
DEFAULT_MAX_BATCH = 400  # upstream's --audit-log-batch-max-size
_BACKUP_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"
_STOP = b""  # the writer's stop marker (every event line ends with a newline, so none is empty)

EVENTS = Counter("apiserver_audit_event_total", "Audit events written to the log")
DROPPED = Counter("apiserver_audit_error_total", "Audit events dropped because the buffer was full",
                  ["plugin"])


class Backend(Protocol):
    def process(self, event: dict[str, Any]) -> None: ...


class RotatingFile:
    """An append-only file that rotates by size and prunes old backups (lumberjack's rules)."""

    def __init__(self, path: str | Path, max_size_bytes: int, max_backups: int = 0, max_age_days: int = 0) -> None:
        self.path = Path(path)
        self.max_size_bytes = max_size_bytes
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self._file: BinaryIO | None = None
        self._size = 0
        self._last_rotation = 0.0

    def _open(self) -> BinaryIO:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # audit data is sensitive
            self._file = os.fdopen(fd, "ab")
            self._size = os.fstat(fd).st_size
        return self._file

    def write_lines(self, lines: list[bytes]) -> None:
        out = self._open()
        chunk: list[bytes] = []
        chunk_size = 0
        for line in lines:
            if self._size + chunk_size + len(line) > self.max_size_bytes and self._size + chunk_size > 0:
                out.write(b"".join(chunk))
                chunk, chunk_size = [], 0
                out = self._rotate()
            chunk.append(line)
            chunk_size += len(line)
        out.write(b"".join(chunk))
        out.flush()
        self._size += chunk_size

    def _rotate(self) -> BinaryIO:
        if self._file is not None:
            self._file.close()
            self._file = None
        # Names must sort in rotation order even for several rotations within one millisecond.
        stamp = max(time.time(), self._last_rotation + 0.001)
        while (backup := self.backup_name(stamp)).exists():
            stamp += 0.001
        self._last_rotation = stamp
        self.path.rename(backup)
        self._prune()
        return self._open()

    def backup_name(self, stamp: float) -> Path:
        moment = datetime.fromtimestamp(stamp, UTC)
        text = f"{moment.strftime(_BACKUP_TIME_FORMAT)}.{moment.microsecond // 1000:03d}"
        return self.path.with_name(f"{self.path.stem}-{text}{self.path.suffix}")

    def backups(self) -> list[tuple[float, Path]]:
        """Rotated files of this log, newest first."""
        pattern = re.compile(re.escape(self.path.stem) + r"-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)\.(\d{3})"
                             + re.escape(self.path.suffix) + "$")
        found = []
        for candidate in self.path.parent.iterdir():
            match = pattern.match(candidate.name)
            if match:
                moment = datetime.strptime(match.group(1), _BACKUP_TIME_FORMAT).replace(tzinfo=UTC)
                found.append((moment.timestamp() + int(match.group(2)) / 1000, candidate))
        return sorted(found, reverse=True)

    def _prune(self) -> None:
        backups = self.backups()
        doomed = backups[self.max_backups:] if self.max_backups > 0 else []
        if self.max_age_days > 0:
            cutoff = time.time() - self.max_age_days * 86400
            doomed += [b for b in backups if b[0] < cutoff and b not in doomed]
        for _, path in doomed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _Stdout:
    def write_lines(self, lines: list[bytes]) -> None:
        sys.stdout.buffer.write(b"".join(lines))
        sys.stdout.buffer.flush()

    def close(self) -> None:
        pass


class LogBackend:
    """The log backend with upstream's batch mode: ``process`` never blocks or raises."""

    def __init__(self, path: str, max_size_mb: int = 0, max_backups: int = 0, max_age_days: int = 0,
                 buffer_size: int = DEFAULT_BUFFER_SIZE, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.path = path
        self._sink: RotatingFile | _Stdout = _Stdout() if path == STDOUT else RotatingFile(
            path, (max_size_mb or DEFAULT_MAX_SIZE_MB) * 1024 * 1024, max_backups, max_age_days)
        self._buffer: asyncio.Queue[bytes] = asyncio.Queue(buffer_size)
        self._max_batch = max_batch
        self._task: asyncio.Task[None] | None = None
        self._dropped_logged_at = 0.0

    def process(self, event: dict[str, Any]) -> None:
        # Encoded now: the request's objects may be changed by the handlers after this returns.
        line = orjson.dumps(event) + b"\n"
        try:
            self._buffer.put_nowait(line)
        except asyncio.QueueFull:
            DROPPED.labels("log").inc()
            now = time.monotonic()
            if now - self._dropped_logged_at > 10:
                self._dropped_logged_at = now
                log.error("audit buffer full: dropping audit events (the log at %s cannot keep up)", self.path)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-log-writer")

    async def _run(self) -> None:
        while True:
            batch = [await self._buffer.get()]
            while len(batch) < self._max_batch and not self._buffer.empty():
                batch.append(self._buffer.get_nowait())
            lines = [line for line in batch if line != _STOP]
            if lines:
                await self._write(lines)
            if len(lines) != len(batch):
                return

    async def _write(self, batch: list[bytes]) -> None:
        try:
            await asyncio.to_thread(self._sink.write_lines, batch)
            EVENTS.inc(len(batch))
        except OSError as exc:  # a full or broken disk must not take the API server down
            DROPPED.labels("log").inc(len(batch))
            log.error("writing %d audit events to %s failed: %s", len(batch), self.path, exc)

    async def stop(self) -> None:
        """Stop the writer after it has written everything buffered before this call."""
        if self._task is not None:
            await self._buffer.put(_STOP)  # waits for room if the buffer is full; the writer drains it
            await self._task
            self._task = None
        self._sink.close()
