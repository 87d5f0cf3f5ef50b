"""The compiled plugin (``cni/vpc_cni_shim.c``) run as a runtime runs it: against a real in-process
ipamd (fake VPC and kernel) its output must equal the Python plugin's byte for byte, and against a
missing or misbehaving ipamd it must still answer in CNI's error format."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cni_plugin import FakeNetwork, FakeVpc, _config

from kubeplane.network.cni import install, plugin
from kubeplane.network.cni import result as cni_result
from kubeplane.network.ipam import protocol
from kubeplane.network.ipam.daemon import Ipamd


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install.install_plugin(tmp_path_factory.mktemp("bin"), tmp_path_factory.mktemp("shim-cache"))


def _env(command: str, container_id: str = "c1", netns: str = "/run/netns/pod", **extra: str) -> dict[str, str]:
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
            "CNI_PATH": "/opt/cni/bin",
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={container_id}", **extra}


async def _run(binary: Path, env: dict[str, str], stdin: bytes) -> tuple[int, bytes]:
    process = await asyncio.create_subprocess_exec(str(binary), env=env, stdin=asyncio.subprocess.PIPE,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin), 30)
    assert stderr == b""
    assert process.returncode is not None
    return process.returncode, stdout


def _run_blocking(binary: Path, env: dict[str, str], stdin: bytes) -> tuple[int, dict[str, Any]]:
    code, stdout = asyncio.run(_run(binary, env, stdin))
    return code, json.loads(stdout)


@pytest.fixture
async def ipamd(tmp_path: Path) -> AsyncIterator[tuple[Ipamd, dict[str, Any]]]:
    daemon = Ipamd(_config(tmp_path), FakeVpc(), FakeNetwork())
    await daemon.start()
    conf = {"cniVersion": "1.0.0", "name": "kubeplane-vpc", "type": install.PLUGIN_TYPE,
            "ipamdSocket": str(daemon.config.socket_path)}
    try:
        yield daemon, conf
    finally:
        await daemon.stop()


async def _python_plugin(env: dict[str, str], conf: dict[str, Any]) -> tuple[int, bytes]:
    stdout = io.StringIO()
    code = await asyncio.to_thread(plugin.main, env, io.StringIO(json.dumps(conf)), stdout)
    return code, stdout.getvalue().encode()


async def test_shim_answers_as_the_python_plugin(shim: Path, ipamd: tuple[Ipamd, dict[str, Any]]) -> None:
    daemon, conf = ipamd
    older = {**conf, "cniVersion": "0.4.0"}
    # each pair runs the shim first, then the Python plugin, on the same state
    steps: list[tuple[dict[str, str], dict[str, Any]]] = [
        (_env("ADD", "pod-a"), conf),  # first ADD by the shim; the Python ADD repeats it (same address)
        (_env("ADD", "pod-a"), older),
        (_env("CHECK", "pod-a"), conf),
        (_env("ADD", "pod-b", CNI_ARGS="broken"), conf),  # ipamd-side validation
        (_env("ADD", "pod-b", CNI_NETNS=""), conf),
        (_env("ADD", "pod-b"), {**conf, "cniVersion": "0.2.0"}),
    ]
    for env, config in steps:
        shim_answer = await _run(shim, env, json.dumps(config).encode())
        assert shim_answer == await _python_plugin(env, config), env
    add = json.loads((await _run(shim, _env("ADD", "pod-a"), json.dumps(conf).encode()))[1])
    assert add["ips"][0]["address"].startswith("198.18.0.")
    assert await _run(shim, _env("DEL", "pod-a", CNI_NETNS=""), json.dumps(conf).encode()) == (0, b"")
    code, stdout = await _run(shim, _env("CHECK", "pod-a"), json.dumps(conf).encode())
    assert code == 1 and json.loads(stdout)["code"] == protocol.ERR_UNKNOWN_CONTAINER
    assert daemon.pool.assignments == {}


def test_version_is_answered_without_ipamd(shim: Path) -> None:
    code, stdout = asyncio.run(_run(shim, {"CNI_COMMAND": "VERSION"}, b""))
    assert (code, stdout) == (0, json.dumps(cni_result.version_reply()).encode())


@pytest.mark.parametrize(("env", "stdin", "code", "message"), [
    ({"CNI_COMMAND": "FROB"}, b"{}", protocol.ERR_INVALID_ENVIRONMENT, "unknown CNI_COMMAND 'FROB'"),
    ({}, b"{}", protocol.ERR_INVALID_ENVIRONMENT, "unknown CNI_COMMAND ''"),
    (_env("ADD"), b'{"cniVersion": "1.0.0"}', protocol.ERR_INVALID_CONFIG, "no ipamdSocket"),
    (_env("ADD"), b'{"cniVersion": "1.0.0", "ipamdSocket": "' + b"x" * 200 + b'"}', protocol.ERR_INVALID_CONFIG,
     "no ipamdSocket"),
    (_env("ADD"), b'{"ipamdSocket": "/x", "pad": "' + b"x" * (1024 * 1024) + b'"}', protocol.ERR_INVALID_CONFIG,
     "too large"),
    (_env("ADD", CNI_ARGS="x" * 70000), b'{"ipamdSocket": "/nonexistent/ipamd.sock"}',
     protocol.ERR_INVALID_ENVIRONMENT, "CNI_ARGS is too long"),
    (_env("DEL"), b'{"cniVersion": "1.0.0", "ipamdSocket": "/nonexistent/ipamd.sock"}',
     protocol.ERR_TRY_AGAIN_LATER, "failed to reach ipamd/nonexistent/ipamd.sock: No such file or directory"),
])
def test_local_errors_are_cni_error_json(shim: Path, env: dict[str, str], stdin: bytes, code: int,
                                         message: str) -> None:
    exit_code, error = _run_blocking(shim, env, stdin)
    assert exit_code == 1
    assert error["cniVersion"] == "1.0.0" and error["code"] == code
    assert message in error["msg"] + error["details"]


@contextlib.contextmanager
def _fake_ipamd(path: Path, answer: bytes) -> Iterator[list[bytes]]:
    """A one-connection server that takes the request (until the shim stops sending: it waits for
    the answer without closing its side) and then answers ``answer``."""
    received: list[bytes] = []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(0.5)
            data = b""
            with contextlib.suppress(TimeoutError):
                while chunk := connection.recv(65536):
                    data += chunk
            received.append(data)
            connection.sendall(answer)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        yield received
    finally:
        worker.join(30)
        server.close()
        os.unlink(path)


@pytest.mark.parametrize(("answer", "code", "message"), [
    (b"", protocol.ERR_TRY_AGAIN_LATER, "ipamd closed the connection without an answer"),
    (b"garbage", protocol.ERR_INTERNAL, "malformed answer from ipamd"),
])
def test_a_misbehaving_ipamd_gives_a_cni_error(shim: Path, tmp_path: Path, answer: bytes, code: int,
                                               message: str) -> None:
    path = tmp_path / "ipamd.sock"
    config = json.dumps({"cniVersion": "1.0.0", "ipamdSocket": str(path)}).encode()
    with _fake_ipamd(path, answer) as received:
        exit_code, error = _run_blocking(shim, _env("ADD"), config)
    assert (exit_code, error["code"]) == (1, code)
    assert message in error["msg"] + error["details"]
    # what went over the wire: the magic line, six environment values and the config, length-prefixed
    assert received[0].startswith(b"KPCNI1\n3\nADD2\nc114\n/run/netns/pod") and received[0].endswith(
        f"{len(config)}\n".encode() + config)
