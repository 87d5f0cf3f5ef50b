"""Shared benchmark plumbing: processes in a throw-away directory, timing, percentiles, results.

Benchmarks are not tests: nothing here asserts a timing. What matters is that every number has a
floor measured in the same run on the same machine, and that nothing a run starts outlives it
(processes are stopped by the PID we started, the temp dir is removed, also on Ctrl-C or failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from kubeplane.component.etcd import ETCD_BINARY, etcd_command, free_port, wait_etcd_ready
from kubeplane.component.pki import ClusterPKI, create_cluster_pki
from kubeplane.component.process import ClientTLS

# Loopback only: every process a bench starts listens here and nowhere else.
LOOPBACK = "127.0.0.1"
_STOP_GRACE = 10.0
_READY_TIMEOUT = 60.0


# -- processes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartedProcess:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return f"(no log at {self.log})"


@dataclass(frozen=True)
class APIServerEndpoint:
    url: str
    tls: ClientTLS
    started: StartedProcess


class _Terminated(Exception):
    """SIGTERM turned into an exception so the same cleanup path as Ctrl-C runs."""


class BenchRun:
    """A context manager owning a temp dir and every process started through it.

    On exit (normal, exception, Ctrl-C or SIGTERM) processes are stopped newest first, each by its
    own PID: SIGTERM, then SIGKILL after a grace period. The temp dir is removed unless ``keep``.
    """

    def __init__(self, keep: bool = False) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="kubeplane-bench-"))
        self.keep = keep
        self._started: list[StartedProcess] = []
        self._previous_sigterm: signal.Handlers | Callable[[int, types.FrameType | None], object] | int | None = None

    def __enter__(self) -> BenchRun:
        global _owner_pid
        _owner_pid = os.getpid()
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_all()
        finally:
            signal.signal(signal.SIGTERM, self._previous_sigterm or signal.SIG_DFL)
            if self.keep:
                print(f"kept {self.workdir}", file=sys.stderr)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def spawn(self, name: str, argv: Sequence[str]) -> StartedProcess:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            # A new session: a terminal's Ctrl-C reaches only the bench, which then stops its
            # children in order (API server before etcd) instead of all dying at once.
            process = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        started = StartedProcess(name, process, log)
        self._started.append(started)
        return started

    def started(self, name: str) -> StartedProcess:
        """The running process this run started under ``name`` (the newest, if several)."""
        for started in reversed(self._started):
            if started.name == name:
                return started
        raise LookupError(f"no running process named {name!r} in this run")

    def stop_all(self) -> None:
        while self._started:
            stop_process(self._started.pop())

    def stop(self, started: StartedProcess) -> None:
        """Stop one process early (it is then no longer this run's to stop)."""
        stop_process(started)
        self._started.remove(started)

    async def start_etcd(self) -> str:
        """A fresh single-member etcd on free loopback ports; returns its client URL."""
        client_url = f"http://{LOOPBACK}:{free_port()}"
        peer_url = f"http://{LOOPBACK}:{free_port()}"
        name = f"bench-{uuid.uuid4().hex[:8]}"
        started = self.spawn("etcd", etcd_command(name, self.workdir / "etcd-data", client_url, peer_url))
        await _until_ready(started, wait_etcd_ready(client_url, _READY_TIMEOUT))
        return client_url

    async def start_apiserver(self, etcd_url: str, etcd_prefix: str = "/registry", extra: Sequence[str] = (),
                              profile_to: Path | None = None,
                              program: Sequence[str] = ("-m", "kubeplane.apiserver.app")) -> APIServerEndpoint:
        """One ``kubeplane apiserver`` process (or another ``program`` taking its flags) over
        etcd_url with a fresh cluster PKI; under cProfile (stats written to ``profile_to`` when it is
        stopped) if asked."""
        port = free_port()
        pki = create_cluster_pki(self.workdir / f"pki-{port}", "198.19.0.0/16")
        profiler = ["-m", "cProfile", "-o", str(profile_to)] if profile_to else []
        argv = [sys.executable, *profiler, *program, f"--etcd-servers={etcd_url}",
                f"--etcd-prefix={etcd_prefix}", f"--secure-port={port}", f"--bind-address={LOOPBACK}",
                f"--tls-cert-file={pki.apiserver_cert}", f"--tls-private-key-file={pki.apiserver_key}",
                f"--client-ca-file={pki.ca_cert}", *extra]
        started = self.spawn(f"apiserver-{port}", argv)
        url = f"https://{LOOPBACK}:{port}"
        tls = admin_tls(pki)
        await _until_ready(started, _wait_https_ok(f"{url}/readyz", tls, _READY_TIMEOUT))
        return APIServerEndpoint(url, tls, started)


_owner_pid = 0  # the process whose BenchRun installed the handler


def _raise_terminated(signum: int, frame: types.FrameType | None) -> None:
    # A forked helper (pyroute2 forks for namespaces and stops its helpers with SIGTERM) inherits
    # this handler; it must exit, not run the bench's clean-up in the child.
    if os.getpid() != _owner_pid:
        os._exit(128 + signum)
    raise _Terminated(f"signal {signum}")


def admin_tls(pki: ClusterPKI) -> ClientTLS:
    return ClientTLS(pki.ca_cert, pki.admin_cert, pki.admin_key)


def stop_process(started: StartedProcess) -> None:
    """SIGTERM this exact child, SIGKILL it if it outlives the grace period, and reap it."""
    process = started.process
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(_STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


async def _until_ready(started: StartedProcess, readiness: Awaitable[None]) -> None:
    """Await readiness, failing fast (with the log tail) if the process exits first."""
    ready = asyncio.ensure_future(readiness)
    try:
        while not ready.done():
            if started.process.poll() is not None:
                raise RuntimeError(f"{started.name} exited during start-up:\n{started.log_tail()}")
            await asyncio.wait({ready}, timeout=0.1)
        ready.result()
    finally:
        ready.cancel()


async def _wait_https_ok(url: str, tls: ClientTLS, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    connector = aiohttp.TCPConnector(ssl=tls.ssl_context())
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:g}s")


def rss_bytes(pid: int) -> int:
    """Resident set size of a live process, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (never above the hard limit); return it.

    Children inherit the limit, so calling this before starting the API server gives both ends of
    a watch fan-out enough descriptors."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


# -- timing ----------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in [0, 1]) of unsorted samples; NaN when empty."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Measurement:
    """Per-operation latencies (seconds) of a run of ``count`` operations that took ``elapsed``."""

    count: int
    elapsed: float
    latencies: tuple[float, ...]

    @property
    def ops_per_second(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else math.nan

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000


async def run_concurrently(operation: Callable[[int], Awaitable[object]], count: int,
                           concurrency: int) -> Measurement:
    """Run ``operation(i)`` for i in range(count) with ``concurrency`` in flight; time each call."""
    latencies: list[float] = []
    next_index = iter(range(count))

    async def worker() -> None:
        for index in next_index:
            begin = time.perf_counter()
            await operation(index)
            latencies.append(time.perf_counter() - begin)

    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))
    return Measurement(count, time.perf_counter() - begin, tuple(latencies))


# -- reporting -------------------------------------------------------------------------------------


def machine_description() -> dict[str, str]:
    """What a reader needs to judge the numbers: CPUs, memory, Python and etcd versions, date."""
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    etcd_version = "unknown"
    try:
        out = subprocess.run([ETCD_BINARY, "--version"], capture_output=True, text=True, timeout=10).stdout
        etcd_version = out.splitlines()[0].split(":", 1)[1].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        pass
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count() or 0),
        "cpu": _cpu_model(),
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "etcd": etcd_version,
        "kernel": platform.release(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _markers(section: str) -> tuple[str, str]:
    return f"<!-- bench:{section}:begin -->", f"<!-- bench:{section}:end -->"


def replace_section(document: str, section: str, body: str) -> str:
    """``document`` with the marked ``section`` replaced by ``body`` (appended if absent).

    Markers are HTML comments, invisible in rendered Markdown, so each bench owns exactly its
    own block and re-running one bench never disturbs another's numbers."""
    begin, end = _markers(section)
    block = f"{begin}\n{body.strip()}\n{end}"
    start = document.find(begin)
    stop = document.find(end, start) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        return document[:start] + block + document[stop + len(end):]
    separator = "" if not document or document.endswith("\n\n") else ("\n" if document.endswith("\n") else "\n\n")
    return f"{document}{separator}{block}\n"


def write_section(path: Path, section: str, body: str, header: str) -> None:
    """Replace (or append) ``section`` in the results file, creating it with ``header`` if new."""
    document = path.read_text() if path.exists() else header.rstrip() + "\n\n"
    updated = replace_section(document, section, body)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(updated)
    os.replace(tmp, path)


# Where every bench writes its section, and the page's preamble when the file is new.
RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
RESULTS_HEADER = """# Benchmarks

Numbers measured by the scripts in `bench/` (see bench/README.md). Every figure sits beside a
floor measured in the same run on the same machine (for the API server: raw etcd through the
aetcd client), so ratios carry over between machines better than absolute numbers do.

Run one with `.venv/bin/python bench/<name>.py` (full) or `--quick` (a ~1 minute smoke run); each
script replaces only its own section below and records the machine it ran on.
"""



# -- a whole cluster through the CLI ------------------------------------------------------------------


@dataclass(frozen=True)
class CliCluster:
    """A cluster made by ``kubeplane up`` in a private KUBEPLANE_HOME (see ``cli_cluster``)."""
    name: str
    home: Path
    summary: dict[str, object]

    @property
    def kubeconfig(self) -> Path:
        return self.home / "clusters" / self.name / "kubeconfig"


def _kubeplane_cli(home: Path, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBEPLANE_HOME": str(home), "HOME": str(home / "user")}
    return subprocess.run([sys.executable, "-m", "kubeplane.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@contextlib.contextmanager
def cli_cluster(run: BenchRun, name: str, up_args: Sequence[str], timeout: float = 600.0) -> Iterator[CliCluster]:
    """``kubeplane up --name NAME ARGS`` under the run's temp dir; ``kubeplane down`` on the way out,
    whatever happened (it stops exactly the processes ``up`` recorded and removes the nodes' netns,
    mounts and cgroups), so a bench never leaves a cluster behind."""
    home = run.workdir / "kubeplane-home"
    home.mkdir(exist_ok=True)
    try:
        done = _kubeplane_cli(home, ["up", "--name", name, *up_args, "-o", "json"], timeout)
        if done.returncode != 0:
            raise RuntimeError(f"kubeplane up failed ({done.returncode}):\n{done.stderr[-4000:]}")
        yield CliCluster(name, home, json.loads(done.stdout))
    finally:
        down = _kubeplane_cli(home, ["down", "--name", name], timeout)
        if down.returncode != 0:
            print(f"kubeplane down failed ({down.returncode}):\n{down.stderr[-4000:]}", file=sys.stderr)
