"""Container log rotation on real files: rename, reopen, compress, keep at most max-files."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from kubeplane.kubelet.cri import CRIError
from kubeplane.kubelet.logrotation import LogRotationPolicy, LogRotator, rotated_logs


class FakeRuntime:
    """Reopening a log creates a fresh file at the path, as containerd does."""

    def __init__(self, log_path: Path, fail: bool = False) -> None:
        self.log_path = log_path
        self.fail = fail
        self.reopened: list[str] = []

    async def reopen_container_log(self, container_id: str) -> None:
        if self.fail:
            raise CRIError("ReopenContainerLog", grpc.StatusCode.UNKNOWN, "container is not running")
        self.reopened.append(container_id)
        self.log_path.touch()


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="MaxFiles"):
        LogRotationPolicy(max_files=1)


async def test_rotation_keeps_max_files_and_compresses_older(tmp_path: Path) -> None:
    log = tmp_path / "app" / "0.log"
    log.parent.mkdir()
    runtime = FakeRuntime(log)
    now = [datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)]
    rotator = LogRotator(LogRotationPolicy(max_size=100, max_files=4), runtime, lambda: now[0])  # type: ignore[arg-type]
    log.write_text("x" * 50)
    assert not await rotator.rotate_if_needed("cid", log)  # below max size
    for round_ in range(5):
        log.write_text(f"round {round_} " + "y" * 100)
        assert await rotator.rotate_if_needed("cid", log)
        now[0] += timedelta(seconds=1)
    assert runtime.reopened == ["cid"] * 5
    names = [p.name for p in rotated_logs(log)]
    # max_files=4: the live log, the newest rotated one plain, two older ones compressed.
    assert names == ["0.log.20261127-030002.gz", "0.log.20261127-030003.gz", "0.log.20261127-030004"]
    assert log.exists() and log.stat().st_size == 0
    assert (log.parent / "0.log.20261127-030004").read_text().startswith("round 4 ")
    assert gzip.decompress((log.parent / "0.log.20261127-030003.gz").read_bytes()).startswith(b"round 3 ")
    assert not list(log.parent.glob("*.tmp"))


async def test_failed_reopen_puts_the_log_back(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_text("z" * 200)
    rotator = LogRotator(LogRotationPolicy(max_size=100), FakeRuntime(log, fail=True))  # type: ignore[arg-type]
    with pytest.raises(CRIError):
        await rotator.rotate_if_needed("cid", log)
    assert log.read_text() == "z" * 200 and rotated_logs(log) == []


async def test_same_second_rotation_waits(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    fixed = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)
    rotator = LogRotator(LogRotationPolicy(max_size=1), FakeRuntime(log), lambda: fixed)  # type: ignore[arg-type]
    log.write_text("a")
    assert await rotator.rotate_if_needed("cid", log)
    log.write_text("b")
    assert not await rotator.rotate_if_needed("cid", log)  # would overwrite the file rotated this second
    assert log.read_text() == "b"
