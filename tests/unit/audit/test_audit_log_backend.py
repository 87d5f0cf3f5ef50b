"""The audit log backend: JSON lines, batched writes that never block, lumberjack-style rotation."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from kubeplane.apiserver.audit import LogBackend, RotatingFile


def test_rotates_by_size_and_keeps_every_line(tmp_path: Path) -> None:
    log = RotatingFile(tmp_path / "audit.log", max_size_bytes=1000)
    lines = [f'{{"n":{i:04d}}}'.encode().ljust(99) + b"\n" for i in range(35)]  # 100 bytes each
    log.write_lines(lines[:15])
    log.write_lines(lines[15:])
    log.close()
    backups = log.backups()
    assert len(backups) == 3
    files = [p for _, p in reversed(backups)] + [tmp_path / "audit.log"]
    assert all(p.stat().st_size <= 1000 for p in files)
    assert b"".join(p.read_bytes() for p in files) == b"".join(lines)  # in order, nothing lost
    assert stat.S_IMODE((tmp_path / "audit.log").stat().st_mode) == 0o600
    assert all(p.name.startswith("audit-") and p.suffix == ".log" for _, p in backups)


def test_max_backups_and_max_age_prune_old_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    ancient = RotatingFile(path, 1000).backup_name(time.time() - 10 * 86400)
    ancient.write_bytes(b"old\n")
    log = RotatingFile(path, max_size_bytes=100, max_backups=2, max_age_days=3)
    for i in range(6):
        log.write_lines([f"{i}".encode().ljust(99) + b"\n"])
    log.close()
    assert not ancient.exists()
    kept = log.backups()
    assert len(kept) == 2
    assert [p.read_bytes()[:1] for _, p in kept] == [b"4", b"3"]  # the newest two
    assert path.read_bytes()[:1] == b"5"


async def test_backend_writes_batches_and_flushes_on_stop(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.log"
    backend = LogBackend(str(path), max_batch=7)
    backend.start()
    for i in range(50):
        backend.process({"kind": "Event", "n": i})
    await backend.stop()
    events = [json.loads(raw) for raw in path.read_text().splitlines()]
    assert [e["n"] for e in events] == list(range(50))


async def test_a_full_buffer_drops_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    backend = LogBackend(str(path), buffer_size=3)  # not started: nothing drains the buffer
    for i in range(10):
        backend.process({"n": i})  # returns at once, even with the buffer full
    backend.start()
    await backend.stop()
    assert [json.loads(raw)["n"] for raw in path.read_text().splitlines()] == [0, 1, 2]


async def test_stdout(capfd: object, tmp_path: Path) -> None:
    backend = LogBackend("-")
    backend.start()
    backend.process({"kind": "Event", "stage": "ResponseComplete"})
    await backend.stop()
    out = capfd.readouterr().out  # type: ignore[attr-defined]
    assert json.loads(out.strip().splitlines()[-1]) == {"kind": "Event", "stage": "ResponseComplete"}
    assert not os.listdir(tmp_path)
