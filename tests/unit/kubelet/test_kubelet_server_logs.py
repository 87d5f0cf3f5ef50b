"""CRI log files read back as the kubelet serves them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubeplane.kubelet.server.logs import LogOptions, parse_record, read_log

LOG = (b"2026-01-01T00:00:01.123456789Z stdout F one\n"
       b"2026-01-01T00:00:02.000000001Z stderr F two\n"
       b"2026-01-01T00:00:03Z stdout P thr\n"
       b"2026-01-01T00:00:03.5Z stdout F ee\n"
       b"2026-01-01T00:00:04Z stdout F four")  # still being written: no newline yet


def collect(path: Path, options: LogOptions) -> bytes:
    async def run() -> bytes:
        return b"".join([chunk async for chunk in read_log(path, options)])
    return asyncio.run(run())


def test_records_and_options(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LOG)
    assert collect(path, LogOptions()) == b"one\ntwo\nthree\n"
    assert collect(path, LogOptions(tail_lines=2)) == b"thr" + b"ee\n"
    assert collect(path, LogOptions(limit_bytes=6)) == b"one\ntw"
    since = datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)
    assert collect(path, LogOptions(since=since, tail_lines=1)) == b"ee\n"
    assert collect(path, LogOptions(timestamps=True, tail_lines=1)) == b"2026-01-01T00:00:03.5Z ee\n"
    assert parse_record(b"not a cri line") is None
    record = parse_record(b"2026-01-01T00:00:01.123456789Z stdout F one")
    assert record is not None and record.time.microsecond == 123456 and record.stream == b"stdout"


def test_query_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    options = LogOptions.from_query({"follow": "true", "tailLines": "0", "sinceSeconds": "10"}, now)
    assert options.follow and options.tail_lines == 0 and options.since == datetime(2025, 12, 31, 23, 59, 50, tzinfo=UTC)
    with pytest.raises(ValueError):
        LogOptions.from_query({"limitBytes": "0"})
    with pytest.raises(ValueError):
        LogOptions.from_query({"sinceSeconds": "1", "sinceTime": "2026-01-01T00:00:00Z"})
