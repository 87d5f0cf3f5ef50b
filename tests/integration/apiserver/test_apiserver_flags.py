"""The upstream-named flags that change what the API server hands out or how it serves:
--service-cluster-ip-range and --service-node-port-range bound the allocations (and the errors
name the configured ranges), --cert-dir gives a self-signed serving certificate when no
--tls-cert-file is given, as kube-apiserver does."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import start_apiserver, stop_apiserver

from kubeplane.component.etcd import free_port

pytestmark = pytest.mark.integration


def test_service_ranges_come_from_the_flags(etcd_url: str, tmp_path: Path) -> None:
    server = start_apiserver(tmp_path, etcd_url, f"/flags-{uuid.uuid4().hex[:8]}",
                             extra=("--service-cluster-ip-range=198.19.64.0/20", "--service-node-port-range=31000-31009"))
    try:
        collection = "/api/v1/namespaces/default/services"

        def service(name: str, **port: Any) -> dict[str, Any]:
            return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                    "spec": {"type": "NodePort", "ports": [{"port": 80, **port}]}}

        status, created, _ = server.request("POST", collection, service("in-range"))
        assert status == 201, created
        assert ipaddress.ip_address(created["spec"]["clusterIP"]) in ipaddress.ip_network("198.19.64.0/20")
        assert 31000 <= created["spec"]["ports"][0]["nodePort"] <= 31009
        # The bootstrap `kubernetes` Service takes the range's first address, as upstream.
        status, kubernetes, _ = server.request("GET", collection + "/kubernetes")
        assert status == 200 and kubernetes["spec"]["clusterIP"] == "198.19.64.1"
        status, refused, _ = server.request("POST", collection, service("low", nodePort=30005))
        assert status == 422
        assert "provided port is not in the valid range. The range of valid ports is 31000-31009" in refused["message"]
        # Ten ports: after the first Service's, nine more fit and the eleventh is refused.
        for index in range(9):
            assert server.request("POST", collection, service(f"fill-{index}"))[0] == 201
        status, full, _ = server.request("POST", collection, service("one-too-many"))
        assert (status, full["message"]) == (500, "Internal error occurred: failed to allocate a nodePort: range is full")
    finally:
        stop_apiserver(server)


def test_cert_dir_gives_a_self_signed_serving_certificate(etcd_url: str, tmp_path: Path) -> None:
    port = free_port()
    cert_dir = tmp_path / "certs"
    argv = [sys.executable, "-m", "kubeplane.apiserver.app", f"--etcd-servers={etcd_url}",
            f"--etcd-prefix=/certdir-{uuid.uuid4().hex[:8]}", f"--secure-port={port}",
            "--bind-address=127.0.0.1", f"--cert-dir={cert_dir}"]
    log = (tmp_path / "apiserver.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "apiserver.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=context, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the API server never became ready"
            time.sleep(0.2)
        served = ssl.get_server_certificate(("127.0.0.1", port))
        on_disk = (cert_dir / "apiserver.crt").read_text()
        assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(on_disk.split("-----END CERTIFICATE-----")[0]
                                                                            + "-----END CERTIFICATE-----\n")
        assert (cert_dir / "apiserver.key").exists()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
