"""The kubelet's API behind the API server: ``kubectl logs`` (tail, follow, previous, timestamps),
``kubectl exec`` over WebSocket and SPDY (output, exit codes, stdin), ``kubectl port-forward`` to a
busybox httpd, and the kubelet's own authentication and authorization."""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import KUBECTL, APIServerProcess, start_apiserver, stop_apiserver
from kubelet_testlib import (
    BUSYBOX,
    KubeletProcess,
    Node,
    api_create,
    api_get,
    condition_status,
    pod_manifest,
    pod_status,
    start_kubelet,
    wait_for,
)

from kubeplane.component import pki

pytestmark = pytest.mark.integration

SPDY = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
WEBSOCKETS = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "true", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "true"}


@pytest.fixture(scope="module")
def streaming_apiserver(etcd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServerProcess]:
    """An API server that talks to kubelets as the admin (system:masters), as kubeadm's
    apiserver-kubelet-client certificate did."""
    workdir = tmp_path_factory.mktemp("streaming-apiserver")
    cluster_pki = pki.create_cluster_pki(workdir / "pki", "198.19.0.0/16")
    server = start_apiserver(workdir, etcd_url, f"/kp-{uuid.uuid4().hex[:8]}/registry", pki=cluster_pki,
                             extra=(f"--kubelet-client-certificate={cluster_pki.admin_cert}",
                                    f"--kubelet-client-key={cluster_pki.admin_key}"))
    yield server
    stop_apiserver(server)


@pytest.fixture(scope="module")
def served_node(node: Node, streaming_apiserver: APIServerProcess,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletProcess]:
    workdir = tmp_path_factory.mktemp("kubelet-server")
    kubelet = start_kubelet(node, streaming_apiserver.kubeconfig, workdir, "--sync-frequency=500ms",
                            f"--client-ca-file={streaming_apiserver.pki.ca_cert}")
    try:
        yield kubelet
    finally:
        kubelet.stop()


def kubectl(server: APIServerProcess, env: dict[str, str], *args: str, input: str | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, "--kubeconfig", str(server.kubeconfig), *args], input=input, capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=timeout)


async def running_pod(server: APIServerProcess, kubelet: KubeletProcess, namespace: str, pod: dict[str, Any],
                      restarted: str = "") -> None:
    server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": namespace}})
    api_create(server, namespace, pod)
    name = pod["metadata"]["name"]

    def ready() -> bool:
        status = pod_status(server, namespace, name)
        if restarted and not any(c["name"] == restarted and c.get("restartCount", 0) >= 1
                                 for c in status.get("containerStatuses") or []):
            return False
        if restarted:  # the restarting container keeps the pod from Ready: want the others ready
            return all(c.get("ready") for c in status.get("containerStatuses") or [] if c["name"] != restarted)
        return status.get("phase") == "Running" and condition_status(status, "Ready") == "True"

    await wait_for(f"pod {name} running", ready, kubelet, timeout=60)


def sleeper(name: str, before: str = "") -> dict[str, Any]:
    return {"name": name, "image": BUSYBOX,
            "command": ["sh", "-c", f"{before}trap 'exit 0' TERM; sleep 3600 & wait"]}


async def test_logs_exec_and_port_forward(node: Node, streaming_apiserver: APIServerProcess,
                                          served_node: KubeletProcess) -> None:
    server, kubelet = streaming_apiserver, served_node
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    name = "talker"
    crasher = {"name": "crash", "image": BUSYBOX, "command": ["sh", "-c", "echo attempt $(cat /proc/uptime); exit 3"]}
    web = sleeper("web", "mkdir -p /www && echo hello-from-httpd > /www/index.html && httpd -p 8080 -h /www; ")
    pod = pod_manifest(node, name, [sleeper("main", "echo one; echo two; echo three; "), crasher, web])
    await running_pod(server, kubelet, namespace, pod, restarted="crash")
    node_obj = api_get(server, f"/api/v1/nodes/{node.name}") or {}
    assert node_obj["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0

    # -- logs -----------------------------------------------------------------------------------------
    out = kubectl(server, {}, "-n", namespace, "logs", name, "-c", "main")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "one\ntwo\nthree\n"
    tail = kubectl(server, {}, "-n", namespace, "logs", name, "-c", "main", "--tail=2")
    assert tail.stdout == "two\nthree\n"
    stamped = kubectl(server, {}, "-n", namespace, "logs", name, "-c", "main", "--timestamps", "--tail=1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z three\n", stamped.stdout), stamped.stdout
    limited = kubectl(server, {}, "-n", namespace, "logs", name, "-c", "main", "--limit-bytes=6")
    assert limited.stdout == "one\ntw"
    previous = kubectl(server, {}, "-n", namespace, "logs", name, "-c", "crash", "--previous")
    assert previous.returncode == 0 and previous.stdout.startswith("attempt "), previous.stderr
    no_container = kubectl(server, {}, "-n", namespace, "logs", name, "-c", "nope")
    assert no_container.returncode != 0 and "container nope is not valid for pod talker" in no_container.stderr
    # Following a running container streams what it writes next; the process is ended by the timeout.
    follow = subprocess.Popen([KUBECTL, "--kubeconfig", str(server.kubeconfig), "-n", namespace, "logs", "-f",
                               name, "-c", "main", "--tail=0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        await asyncio.sleep(1)  # let the follow start before writing (a missed line only fails, never passes)
        written = kubectl(server, SPDY, "-n", namespace, "exec", name, "-c", "main", "--",
                          "sh", "-c", "echo followed-line > /proc/1/fd/1")
        assert written.returncode == 0, written.stderr
        assert follow.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(follow.stdout.readline), 20)
        assert line == b"followed-line\n"
    finally:
        follow.kill()
        follow.communicate(timeout=5)

    # -- exec over WebSocket (kubectl's default) and SPDY -----------------------------------------------
    for env in (WEBSOCKETS, SPDY):
        hi = kubectl(server, env, "-n", namespace, "exec", "-v=4", name, "-c", "main", "--", "echo", "hi")
        assert (hi.returncode, hi.stdout) == (0, "hi\n"), (env, hi.stderr)
        assert "fallback" not in hi.stderr.lower(), hi.stderr
        failed = kubectl(server, env, "-n", namespace, "exec", name, "-c", "main", "--", "sh", "-c",
                         "echo oops >&2; exit 7")
        assert failed.returncode == 7 and "oops" in failed.stderr, (env, failed.stderr)
    # stdin reaches the process and its end closes it (SPDY half-closes the stream).
    piped = kubectl(server, SPDY, "-n", namespace, "exec", "-i", name, "-c", "main", "--", "cat", input="in-and-out\n")
    assert (piped.returncode, piped.stdout) == (0, "in-and-out\n"), piped.stderr

    # -- port-forward ----------------------------------------------------------------------------------
    for env in (WEBSOCKETS, SPDY):
        forward = subprocess.Popen([KUBECTL, "--kubeconfig", str(server.kubeconfig), "-n", namespace,
                                    "port-forward", "-v=4", f"pod/{name}", ":8080"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env={**os.environ, **env}, text=True)
        try:
            assert forward.stdout is not None
            banner = await asyncio.wait_for(asyncio.to_thread(forward.stdout.readline), 20)
            match = re.search(r"127\.0\.0\.1:(\d+) -> 8080", banner)
            assert match, banner
            url = f"http://127.0.0.1:{match.group(1)}/index.html"
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())  # noqa: B023
            assert body == b"hello-from-httpd\n", env
        finally:
            forward.kill()
            _, errors = forward.communicate(timeout=5)
        # -v=4 makes kubectl log a fallback from WebSocket to SPDY: none may happen.
        assert "fallback" not in errors.lower(), errors


def kubelet_get(port: int, path: str, cert: tuple[Path, Path] | None) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


async def test_kubelet_api_needs_a_certificate_and_permission(node: Node, streaming_apiserver: APIServerProcess,
                                                              served_node: KubeletProcess, tmp_path: Path) -> None:
    server = streaming_apiserver
    node_obj = await wait_for("node status", lambda: api_get(server, f"/api/v1/nodes/{node.name}"), served_node)
    port = node_obj["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    ca = pki.read_certified_key(server.pki.ca_cert, server.pki.ca_key)
    nobody = (tmp_path / "nobody.crt", tmp_path / "nobody.key")
    pki.write_certified_key(pki.issue_client_cert(ca, "nobody"), *nobody)
    assert kubelet_get(port, "/healthz", None) == 200
    assert kubelet_get(port, "/pods", None) == 401
    assert kubelet_get(port, "/pods", nobody) == 403  # the SubjectAccessReview says no
    assert kubelet_get(port, "/pods", (server.pki.admin_cert, server.pki.admin_key)) == 200


async def test_attach_with_piped_stdin(node: Node, streaming_apiserver: APIServerProcess,
                                       served_node: KubeletProcess) -> None:
    """``kubectl attach -i`` without a tty: what is piped in reaches the container's stdin and what
    the container writes comes back, over WebSocket v5 (closing stdin with v5's close message)
    and over SPDY (a half-closed stream). With ``stdinOnce`` the end of the client's input closes
    the container's stdin, so ``cat`` exits and the attach ends after its output; as upstream with
    containerd, a container without ``stdinOnce`` is detached as soon as the client's stdin ends."""
    server, kubelet = streaming_apiserver, served_node
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    name = "attachee"
    cats = [{"name": f"cat-{kind}", "image": BUSYBOX, "command": ["cat"], "stdin": True, "stdinOnce": True}
            for kind in ("ws", "spdy")]
    pod = pod_manifest(node, name, [*cats, sleeper("main")], restartPolicy="Never")
    await running_pod(server, kubelet, namespace, pod)
    for kind, env in (("ws", WEBSOCKETS), ("spdy", SPDY)):
        attached = kubectl(server, env, "-n", namespace, "attach", "-i", "-v=4", name, "-c", f"cat-{kind}",
                           input=f"piped-through-{kind}\nsecond line\n")
        assert attached.returncode == 0, (kind, attached.stderr)
        assert attached.stdout == f"piped-through-{kind}\nsecond line\n", (kind, attached.stderr)
        assert "fallback" not in attached.stderr.lower(), attached.stderr

        def cat_exited(container: str = f"cat-{kind}") -> bool:
            statuses = pod_status(server, namespace, name).get("containerStatuses") or []
            state: dict[str, Any] = next((s["state"] for s in statuses if s["name"] == container), {})
            return (state.get("terminated") or {}).get("exitCode") == 0

        await wait_for(f"cat-{kind} to exit once its stdin closed", cat_exited, kubelet, timeout=30)
