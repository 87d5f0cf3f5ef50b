"""postStart/preStop hooks with a fake runtime, a local HTTP server and a FakeClock: upstream's
messages and events, and preStop counted inside the grace period."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from kubeplane.client.clock import FakeClock, settle_tasks
from kubeplane.kubelet.prober import Dialer, HookOutcome, LifecycleHooks

JSON = dict[str, Any]
POD: JSON = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
             "spec": {"containers": [{"name": "app"}]}}
APP: JSON = {"name": "app"}


@dataclass
class ExecReply:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


class FakeRuntime:
    def __init__(self, reply: ExecReply) -> None:
        self.reply = reply
        self.calls: list[list[str]] = []

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int = 0) -> ExecReply:
        self.calls.append(list(cmd))
        return self.reply


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: JSON, event_type: str, reason: str, message: str) -> None:
        self.events.append((obj["fieldPath"], event_type, reason, message))


def hooks(runtime: FakeRuntime | None = None, clock: FakeClock | None = None) -> tuple[LifecycleHooks, Recorder]:
    recorder = Recorder()
    return LifecycleHooks(runtime or FakeRuntime(ExecReply()), Dialer(None), recorder=recorder,
                          clock=clock or FakeClock(), kube_version="1.35"), recorder


async def test_post_start_exec_failure_message_and_event() -> None:
    runner, recorder = hooks(FakeRuntime(ExecReply(b"partial\n", b"no such file\n", 2)))
    outcome = await runner.run_post_start({"exec": {"command": ["sh", "-c", "cat /x"]}}, POD, APP, "c1", "10.0.0.1")
    message = ('Exec lifecycle hook ([sh -c cat /x]) for Container "app" in Pod "web_shop(u-1)" failed - error: '
               "command 'sh -c cat /x' exited with 2: no such file\n, message: \"partial\\nno such file\\n\"")
    assert outcome == HookOutcome("command 'sh -c cat /x' exited with 2: no such file\n", message)
    assert recorder.events == [("spec.containers{app}", "Warning", "FailedPostStartHook", message)]


async def test_post_start_exec_success() -> None:
    runtime = FakeRuntime(ExecReply(b"ok", b"", 0))
    runner, recorder = hooks(runtime)
    assert (await runner.run_post_start({"exec": {"command": ["touch", "/x"]}}, POD, APP, "c1", "")).ok
    assert runtime.calls == [["touch", "/x"]] and recorder.events == []


@pytest.fixture
async def web_server() -> AsyncIterator[tuple[int, list[JSON]]]:
    seen: list[JSON] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append({"path": request.path, "agent": request.headers.get("User-Agent")})
        return web.Response(status=500 if request.path == "/broken" else 200)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1], seen  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def test_http_hook_ignores_status_and_fails_without_response(web_server: tuple[int, list[JSON]]) -> None:
    port, seen = web_server
    runner, _ = hooks()
    # Any response is success for a hook, even a 500.
    assert (await runner.run({"httpGet": {"port": port, "path": "/broken"}}, POD, APP, "c1", "127.0.0.1")).ok
    assert seen == [{"path": "/broken", "agent": "kube-lifecycle/1.35"}]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    failed = await runner.run({"httpGet": {"port": closed, "path": "/quit"}}, POD, APP, "c1", "127.0.0.1")
    assert failed.message == (f'HTTP lifecycle hook (/quit) for Container "app" in Pod "web_shop(u-1)" failed - error: '
                              f'Get "http://127.0.0.1:{closed}/quit": dial tcp 127.0.0.1:{closed}: connect: '
                              "connection refused")


async def drive(clock: FakeClock, task: asyncio.Task[int], step: float = 1.0) -> int:
    while not task.done():
        await clock.advance(step, settle=40)
    return task.result()


async def test_pre_stop_time_is_taken_from_the_grace_period() -> None:
    clock = FakeClock()
    runner, recorder = hooks(clock=clock)
    task = asyncio.create_task(runner.run_pre_stop({"sleep": {"seconds": 10}}, POD, APP, "c1", "", 30))
    await settle_tasks(40)
    assert await drive(clock, task) == 20
    assert recorder.events == []


async def test_pre_stop_is_cut_at_the_grace_period_and_stop_keeps_two_seconds() -> None:
    clock = FakeClock()
    runner, _ = hooks(clock=clock)
    task = asyncio.create_task(runner.run_pre_stop({"sleep": {"seconds": 300}}, POD, APP, "c1", "", 30))
    await settle_tasks(40)
    started = clock.now()
    assert await drive(clock, task) == 2
    assert clock.now() - started == 30
    assert not clock.has_sleepers()  # the hook was cancelled, not left sleeping


async def test_failed_pre_stop_records_the_fixed_message() -> None:
    runner, recorder = hooks(FakeRuntime(ExecReply(b"secret-token", b"", 1)))
    left = await runner.run_pre_stop({"exec": {"command": ["drain"]}}, POD, APP, "c1", "", 30)
    assert left == 30
    assert recorder.events == [("spec.containers{app}", "Warning", "FailedPreStopHook", "PreStopHook failed")]


async def test_no_grace_period_skips_pre_stop() -> None:
    runtime = FakeRuntime(ExecReply())
    runner, _ = hooks(runtime)
    assert await runner.run_pre_stop({"exec": {"command": ["drain"]}}, POD, APP, "c1", "", 0) == 2
    assert runtime.calls == []
