"""The up/status/down machinery with real etcd and a stand-in API server process (a tiny TLS
server speaking /readyz), so start-up order, readiness, failure teardown and PID handling are
tested independently of the real API server."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from kubeplane.cli import lifecycle, main
from kubeplane.cli.state import ClusterPaths, ClusterRecord
from kubeplane.component import process

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("etcd") is None, reason="needs Debian's etcd"),
]

_STAND_IN = textwrap.dedent("""
    import ssl, sys
    from aiohttp import web
    flags = dict(arg.split("=", 1) for arg in sys.argv[1:])
    if "fail" in flags["--cert-dir"]:
        print("stand-in: refusing to start", flush=True)
        sys.exit(4)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=flags["--client-ca-file"])
    context.load_cert_chain(flags["--tls-cert-file"], flags["--tls-private-key-file"])
    async def readyz(request):
        return web.Response(text="ok")
    app = web.Application()
    app.router.add_get("/readyz", readyz)
    web.run_app(app, host="127.0.0.1", port=int(flags["--secure-port"]), ssl_context=context, print=None)
""")


@pytest.fixture(autouse=True)
def stand_in_apiserver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEPLANE_HOME", str(tmp_path / "home"))
    real_argv = lifecycle._apiserver_argv

    def stand_in_argv(paths: ClusterPaths, record: ClusterRecord, server: lifecycle.ComponentRecord) -> list[str]:
        flags = real_argv(paths, record, server)[4:]  # drop: python -m kubeplane.cli apiserver
        return [sys.executable, "-c", _STAND_IN, *flags]

    monkeypatch.setattr(lifecycle, "_apiserver_argv", stand_in_argv)


def _no_progress(_message: str) -> None:
    pass


def test_up_status_down_with_two_apiservers(capsys: pytest.CaptureFixture[str]) -> None:
    paths = ClusterPaths.for_name("lc")
    options = lifecycle.UpOptions("1.35", apiservers=2, timeout=60, components=())
    started: list[process.ProcessRecord | None] = []
    try:
        record = asyncio.run(lifecycle.start_cluster(paths, options, _no_progress))
        assert [c.name for c in record.components] == ["etcd-0", "apiserver-0", "apiserver-1"]
        assert len({c.endpoint for c in record.components}) == 3
        assert paths.kubeconfig.exists()

        assert main.main(["status", "--name", "lc", "-o", "json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["healthy"] is True
        assert [c["pid"] for c in status["components"]] == [c.pid for c in record.components]
        started += [process.read_record(paths.pidfile(c.name)) for c in record.components]
        assert all(r is not None and process.record_is_alive(r) for r in started)
    finally:
        lifecycle.remove_cluster(paths, _no_progress)
    assert not paths.root.exists()
    assert not any(r is not None and process.record_is_alive(r) for r in started)


def test_failed_start_stops_etcd_and_shows_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    # The stand-in refuses to start when its cert dir path contains "fail".
    assert main.main(["up", "--name", "fail", "--timeout", "60"]) == 1
    err = capsys.readouterr().err
    assert "apiserver-0 exited during start-up" in err
    assert "stand-in: refusing to start" in err
    paths = ClusterPaths.for_name("fail")
    record = json.loads(paths.record.read_text())
    etcd_pid = record["components"][0]["pid"]
    assert not process.is_running(paths.pidfile("etcd-0"))
    assert not list(paths.run.glob("*.pid"))
    assert etcd_pid is not None
    # A later up clears the leftovers before starting again; down removes them too.
    assert main.main(["down", "--name", "fail"]) == 0
    assert not paths.root.exists()
