"""Components as detached background processes, identified safely, and waits for their readiness.

A component runs in its own session with stdin on /dev/null and stdout+stderr appended to
``logs/<component>.log``, so it outlives the command that started it and never holds a terminal.
Its pidfile records the PID *and* the kernel's start time of that PID: PIDs are reused, and a
pidfile that outlived its process must never lead us to signal a stranger.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

_POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class ProcessRecord:
    """What a pidfile holds: enough to find the process again and to prove it is the same one."""

    component: str
    pid: int
    start_time: int  # field 22 of /proc/<pid>/stat: clock ticks after boot, unique per PID life
    argv: tuple[str, ...]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) of a live PID, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[19])


def _reap_if_child(pid: int) -> None:
    """Collect the exit status if the process is our own child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def record_is_alive(record: ProcessRecord) -> bool:
    """True only if the recorded PID still runs and is the very process that was recorded."""
    _reap_if_child(record.pid)
    stat = _proc_stat(record.pid)
    if stat is None:
        return False
    state, start_time = stat
    return start_time == record.start_time and state not in ("Z", "X")


def read_record(pidfile: Path) -> ProcessRecord | None:
    try:
        data = json.loads(pidfile.read_text())
        return ProcessRecord(data["component"], int(data["pid"]), int(data["start_time"]),
                             tuple(data["argv"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def _write_record(pidfile: Path, record: ProcessRecord) -> None:
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    tmp = pidfile.with_name(pidfile.name + ".tmp")
    tmp.write_text(json.dumps(asdict(record)) + "\n")
    os.replace(tmp, pidfile)


def pidfile_for(run_dir: Path, component: str) -> Path:
    return run_dir / f"{component}.pid"


def logfile_for(log_dir: Path, component: str) -> Path:
    return log_dir / f"{component}.log"


def start(component: str, argv: Sequence[str], log_dir: Path, run_dir: Path,
          env: Mapping[str, str] | None = None) -> ProcessRecord:
    """Start argv detached (new session, stdin /dev/null, output appended to logs/<component>.log)
    and record it in run/<component>.pid."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = logfile_for(log_dir, component)
    # posix_spawn leaves no Popen object behind: the child is meant to outlive this process.
    pid = os.posix_spawnp(
        argv[0], list(argv), dict(os.environ if env is None else env),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    stat = _proc_stat(pid)
    # A process that died at once still gets a record, so callers report its log as for any failure.
    record = ProcessRecord(component, pid, stat[1] if stat else -1, tuple(argv))
    _write_record(pidfile_for(run_dir, component), record)
    return record


def is_running(pidfile: Path) -> bool:
    record = read_record(pidfile)
    return record is not None and record_is_alive(record)


def _wait_gone(record: ProcessRecord, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if not record_is_alive(record):
            return True
        time.sleep(_POLL_INTERVAL)
    return not record_is_alive(record)


def stop(pidfile: Path, grace: float = 10.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it after grace seconds; remove the pidfile.

    Only the verified recorded PID is ever signalled. Returns True if a live process was stopped,
    False if there was nothing (left) to stop.
    """
    record = read_record(pidfile)
    stopped = False
    if record is not None and record_is_alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)
        if not _wait_gone(record, time.monotonic() + grace) and record_is_alive(record):
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGKILL)
            _wait_gone(record, time.monotonic() + 5.0)
        stopped = True
    pidfile.unlink(missing_ok=True)
    return stopped


def log_tail(log_file: Path, lines: int = 30) -> str:
    try:
        text = log_file.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {log_file})"
    return "\n".join(text.splitlines()[-lines:])


# -- readiness -------------------------------------------------------------------------------------


class ReadinessError(Exception):
    """A component did not become ready; the message says why and shows the end of its log."""

    def __init__(self, component: str, reason: str, log_file: Path) -> None:
        self.component = component
        self.reason = reason
        self.log_file = log_file
        super().__init__(f"{component} {reason}; see {log_file}:\n{log_tail(log_file)}")


@dataclass(frozen=True)
class ClientTLS:
    """The files a client presents and trusts: the cluster CA and a client certificate."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


async def http_request(method: str, url: str, tls: ClientTLS | None = None, body: Any = None,
                       timeout: float = 2.0) -> tuple[int, str]:
    """(status, body) of one request; over TLS with the cluster CA and a client certificate when
    ``tls`` is given, plain HTTP otherwise (components' local health ports)."""
    connector = aiohttp.TCPConnector(ssl=tls.ssl_context() if tls is not None else False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with (aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session,
                session.request(method, url, json=body) as response):
        return response.status, await response.text()


async def https_get(url: str, tls: ClientTLS, timeout: float = 2.0) -> tuple[int, str]:
    return await http_request("GET", url, tls, timeout=timeout)


async def https_post(url: str, tls: ClientTLS, body: Any, timeout: float = 10.0) -> tuple[int, str]:
    return await http_request("POST", url, tls, body, timeout)


async def wait_http_ready(url: str, timeout: float, tls: ClientTLS | None = None) -> None:
    """Poll url until it answers 200; raise TimeoutError after timeout seconds."""
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                status, _ = await http_request("GET", url, tls)
                if status == 200:
                    return
            await asyncio.sleep(_POLL_INTERVAL * 2)


async def wait_https_ready(url: str, tls: ClientTLS, timeout: float) -> None:
    await wait_http_ready(url, timeout, tls)


async def _until_exit(record: ProcessRecord) -> None:
    while record_is_alive(record):
        await asyncio.sleep(_POLL_INTERVAL)


async def wait_ready(record: ProcessRecord, readiness: Awaitable[None], log_file: Path, timeout: float) -> None:
    """Await readiness, but give up as soon as the process exits or timeout seconds pass.

    Raises ReadinessError naming the component and showing its log tail."""
    ready = asyncio.ensure_future(readiness)
    exited = asyncio.ensure_future(_until_exit(record))
    try:
        done, _ = await asyncio.wait({ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (ready, exited):
            task.cancel()
        await asyncio.gather(ready, exited, return_exceptions=True)
    error = ready.exception() if ready in done else None
    if ready in done and error is None:
        return
    if exited in done:
        raise ReadinessError(record.component, "exited during start-up", log_file)
    if error is not None and not isinstance(error, TimeoutError):
        raise ReadinessError(record.component, f"did not become ready: {error}", log_file)
    raise ReadinessError(record.component, f"was not ready within {timeout:g}s", log_file)
