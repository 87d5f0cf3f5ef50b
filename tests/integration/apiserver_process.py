"""A real API server process over a real etcd, for integration tests: start, wait ready, stop by PID.

A module of its own (not conftest.py) so test modules can import it by a unique name: several
conftest.py files exist in the tree and ``from conftest import`` would find whichever was first.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubeplane.component.etcd import free_port
from kubeplane.component.pki import ClusterPKI, create_cluster_pki

KUBECTL = str(Path(sys.executable).with_name("kubectl"))


@dataclass
class APIServerProcess:
    url: str
    kubeconfig: Path
    pki: ClusterPKI
    process: subprocess.Popen[bytes]
    log: Path
    etcd_prefix: str
    etcd_url: str
    argv: list[str]

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        result = subprocess.run([KUBECTL, "--kubeconfig", str(self.kubeconfig), *args], input=input,
                                capture_output=True, text=True, env=full_env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def compact_etcd(self) -> int:
        """Compact etcd's history up to its current revision (through etcd's JSON gateway); returns it.
        Affects every server on this etcd: history before it is gone for all of them."""
        def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
            req = urllib.request.Request(self.etcd_url + path, data=json.dumps(body).encode(), method="POST")
            with urllib.request.urlopen(req, timeout=10) as response:
                result: dict[str, Any] = json.loads(response.read())
                return result

        revision = int(call("/v3/kv/range", {"key": base64.b64encode(b"/").decode()})["header"]["revision"])
        call("/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return context

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        """A raw HTTPS request as the admin; returns (status, decoded JSON or text, headers)."""
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": content_type, **(headers or {})})
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=30) as resp:
                raw = resp.read()
                status, hdrs = resp.status, dict(resp.headers)
        except urllib.error.HTTPError as err:
            raw = err.read()
            status, hdrs = err.code, dict(err.headers)
        try:
            return status, json.loads(raw), hdrs
        except ValueError:
            return status, raw.decode(errors="replace"), hdrs


def write_kubeconfig(path: Path, name: str, url: str, pki: ClusterPKI) -> None:
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": url, "certificate-authority-data": b64(pki.ca_cert)}}],
        "users": [{"name": f"{name}-admin", "user": {"client-certificate-data": b64(pki.admin_cert),
                                                     "client-key-data": b64(pki.admin_key)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
    }
    path.write_text(yaml.safe_dump(config))


def wait_ready(server: APIServerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    context = ssl.create_default_context(cafile=str(server.pki.ca_cert))
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"apiserver exited:\n{server.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url + "/readyz", context=context, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"apiserver not ready:\n{server.log.read_text()[-3000:]}")


def start_apiserver(workdir: Path, etcd_url: str, etcd_prefix: str, pki: ClusterPKI | None = None,
                    port: int | None = None, extra: tuple[str, ...] = ()) -> APIServerProcess:
    pki = pki or create_cluster_pki(workdir / "pki", "198.19.0.0/16")
    port = port or free_port()
    log = workdir / f"apiserver-{port}.log"
    argv = [sys.executable, "-m", "kubeplane.apiserver.app", f"--etcd-servers={etcd_url}",
            f"--etcd-prefix={etcd_prefix}", f"--secure-port={port}", "--bind-address=127.0.0.1",
            f"--tls-cert-file={pki.apiserver_cert}", f"--tls-private-key-file={pki.apiserver_key}",
            f"--client-ca-file={pki.ca_cert}", "--watch-bookmark-interval=1",
            f"--service-account-signing-key-file={pki.sa_key}", f"--service-account-key-file={pki.sa_pub}",
            # As upstream's integration tests: no controller manager creates `default` service accounts
            # here, so the ServiceAccount admission plugin is off unless a test chooses plugins itself.
            *(() if any(a.startswith(("--enable-admission-plugins", "--disable-admission-plugins")) for a in extra)
              else ("--disable-admission-plugins=ServiceAccount",)), *extra]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"https://127.0.0.1:{port}"
    kubeconfig = workdir / f"kubeconfig-{port}"
    write_kubeconfig(kubeconfig, "test", url, pki)
    server = APIServerProcess(url, kubeconfig, pki, process, log, etcd_prefix, etcd_url, argv)
    try:
        wait_ready(server)
    except BaseException:
        stop_apiserver(server)
        raise
    return server


def stop_apiserver(server: APIServerProcess, kill: bool = False) -> None:
    if server.process.poll() is None:
        if kill:
            server.process.kill()
        else:
            server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)


def kube_client(server: APIServerProcess) -> Any:
    from kubernetes import client, config

    api_client = config.new_client_from_config(str(server.kubeconfig))
    return client, api_client
