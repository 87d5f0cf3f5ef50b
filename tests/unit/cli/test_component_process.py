"""Background processes: started detached, recorded with their identity, stopped only if verified."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kubeplane.component import process


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "logs", tmp_path / "run"


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A process this test owns that a stale pidfile will point at."""
    child = subprocess.Popen(["sleep", "60"])
    yield child
    child.kill()
    child.wait()


def test_start_detaches_logs_and_records_identity(dirs: tuple[Path, Path]) -> None:
    logs, run = dirs
    record = process.start("echoer", ["sh", "-c", "echo out; echo err >&2; exec sleep 60"], logs, run)
    pidfile = run / "echoer.pid"
    try:
        assert process.read_record(pidfile) == record
        assert process.is_running(pidfile)
        assert os.getsid(record.pid) == record.pid  # its own session, no controlling terminal
        assert os.readlink(f"/proc/{record.pid}/fd/0") == "/dev/null"
        asyncio.run(_until(lambda: "err" in (logs / "echoer.log").read_text()))
        assert (logs / "echoer.log").read_text().split() == ["out", "err"]
    finally:
        assert process.stop(pidfile, grace=5)
    assert not process.is_running(pidfile)
    assert not pidfile.exists()
    assert not process.record_is_alive(record)


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(dirs: tuple[Path, Path]) -> None:
    logs, run = dirs
    record = process.start("stubborn", ["sh", "-c", "trap '' TERM; echo armed; while :; do sleep 1; done"],
                           logs, run)
    asyncio.run(_until(lambda: "armed" in (logs / "stubborn.log").read_text()))
    assert process.stop(run / "stubborn.pid", grace=0.5)
    assert not process.record_is_alive(record)


def test_stale_pidfile_with_a_reused_pid_is_not_killed(dirs: tuple[Path, Path],
                                                      stranger: subprocess.Popen[bytes]) -> None:
    run = dirs[1]
    pidfile = run / "etcd-0.pid"
    # The recorded process is gone and its PID now belongs to an unrelated process, which the
    # kernel necessarily started at a different time than the one recorded.
    recorded_start = _start_time(stranger.pid) - 500
    run.mkdir(parents=True)
    pidfile.write_text(json.dumps({"component": "etcd-0", "pid": stranger.pid, "start_time": recorded_start,
                                   "argv": ["etcd"]}))
    assert not process.is_running(pidfile)
    assert process.stop(pidfile, grace=0.5) is False
    assert stranger.poll() is None, "a foreign process was signalled"
    assert not pidfile.exists()


def test_stop_without_pidfile_is_a_no_op(dirs: tuple[Path, Path]) -> None:
    assert process.stop(dirs[1] / "absent.pid") is False


def test_wait_ready_reports_early_exit_with_log_tail(dirs: tuple[Path, Path]) -> None:
    logs, run = dirs
    record = process.start("crasher", ["sh", "-c", "echo 'fatal: no etcd'; exit 3"], logs, run)

    async def never_ready() -> None:
        await asyncio.sleep(3600)

    with pytest.raises(process.ReadinessError) as caught:
        asyncio.run(process.wait_ready(record, never_ready(), logs / "crasher.log", timeout=60))
    assert "crasher exited during start-up" in str(caught.value)
    assert "fatal: no etcd" in str(caught.value)
    assert str(logs / "crasher.log") in str(caught.value)


def test_wait_ready_times_out_with_clear_error(dirs: tuple[Path, Path]) -> None:
    logs, run = dirs
    record = process.start("sleeper", ["sleep", "60"], logs, run)

    async def never_ready() -> None:
        await asyncio.sleep(3600)

    try:
        with pytest.raises(process.ReadinessError, match=r"sleeper was not ready within 0\.3s"):
            asyncio.run(process.wait_ready(record, never_ready(), logs / "sleeper.log", timeout=0.3))
    finally:
        process.stop(run / "sleeper.pid", grace=5)


def test_wait_ready_returns_once_ready(dirs: tuple[Path, Path]) -> None:
    logs, run = dirs
    record = process.start("fine", ["sleep", "60"], logs, run)

    async def ready_now() -> None:
        return None

    try:
        asyncio.run(process.wait_ready(record, ready_now(), logs / "fine.log", timeout=30))
    finally:
        process.stop(run / "fine.pid", grace=5)


def test_record_matches_only_the_same_pid_and_start_time() -> None:
    me = process.ProcessRecord("self", os.getpid(), _start_time(os.getpid()), ("python",))
    assert process.record_is_alive(me)
    assert not process.record_is_alive(replace(me, start_time=me.start_time - 1))


def _start_time(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return int(raw[raw.rindex(")") + 2:].split()[19])


async def _until(predicate: object, timeout: float = 10.0) -> None:
    assert callable(predicate)
    async with asyncio.timeout(timeout):
        while True:
            try:
                if predicate():
                    return
            except FileNotFoundError:
                pass
            await asyncio.sleep(0.05)
