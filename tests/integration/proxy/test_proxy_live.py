"""kube-proxy against a real API server, programming a real node namespace with iptables.

One node namespace with two pods behind it (``proxy_topology``); Services and EndpointSlices are
written straight to the API (no controller runs), and a ``kubeplane.proxy.app`` process turns
them into rules in the node's namespace. Traffic is real TCP through the kernel's NAT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from netns_testlib import NODE_IP, root_netns_snapshot
from proxy_topology import POD_PORT, Topology, in_netns

from kubeplane.component.etcd import free_port

pytestmark = pytest.mark.integration

JSON = dict[str, Any]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Cluster:
    """The API side of a test: one namespace, Services and EndpointSlices in it."""

    def __init__(self, apiserver: Any, namespace: str) -> None:
        self.apiserver = apiserver
        self.namespace = namespace

    def create(self, path: str, body: JSON) -> JSON:
        status, obj, _ = self.apiserver.request("POST", path, body)
        assert status == 201, obj
        result: JSON = obj
        return result

    def service(self, name: str, **spec: Any) -> JSON:
        body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"ports": [{"name": "http", "port": 80, "targetPort": POD_PORT}], **spec}}
        return self.create(f"/api/v1/namespaces/{self.namespace}/services", body)

    def slice_body(self, service: str, pod_ips: list[str]) -> JSON:
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": f"{service}-1", "labels": {"kubernetes.io/service-name": service},
                             "annotations": {"endpoints.kubernetes.io/last-change-trigger-time":
                                             datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}},
                "ports": [{"name": "http", "port": POD_PORT, "protocol": "TCP"}],
                "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "nodeName": "node-a"}
                              for ip in pod_ips]}

    def endpoints(self, service: str, pod_ips: list[str]) -> JSON:
        return self.create(f"/apis/discovery.k8s.io/v1/namespaces/{self.namespace}/endpointslices",
                           self.slice_body(service, pod_ips))

    def replace_endpoints(self, service: str, pod_ips: list[str]) -> None:
        path = f"/apis/discovery.k8s.io/v1/namespaces/{self.namespace}/endpointslices/{service}-1"
        status, current, _ = self.apiserver.request("GET", path)
        assert status == 200, current
        body = self.slice_body(service, pod_ips)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        status, obj, _ = self.apiserver.request("PUT", path, body)
        assert status == 200, obj


@pytest.fixture(scope="module")
def node(apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, int]]:
    """The namespaces and a running proxy programming the node; yields (topology, metrics port).
    Everything is removed afterwards, and the root namespace must be as it was."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces and iptables need root")
    before = root_netns_snapshot()
    topology = Topology()
    log_path = tmp_path_factory.mktemp("proxy") / "proxy.log"
    metrics_port = free_port()
    proxy: subprocess.Popen[bytes] | None = None
    try:
        topology.create()
        argv = [sys.executable, "-m", "kubeplane.proxy.app", f"--kubeconfig={apiserver.kubeconfig}",
                "--hostname-override=node-a", f"--netns={topology.node_path}", "--cluster-cidr=198.18.0.0/16",
                "--iptables-min-sync-period=100ms", "--iptables-sync-period=30s",
                f"--metrics-bind-address=127.0.0.1:{metrics_port}"]
        with log_path.open("ab") as out:
            proxy = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for("the first sync", lambda: "KUBE-POSTROUTING" in topology.iptables_save(), timeout=30)
        yield topology, metrics_port
    finally:
        if proxy is not None and proxy.poll() is None:
            proxy.send_signal(signal.SIGTERM)
            try:
                proxy.wait(10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait(5)
        topology.delete()
        if os.environ.get("KUBEPLANE_KEEP_LOGS") is None and log_path.exists():
            log_path.unlink()
    remaining = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert f"kpp-{topology.run_id}" not in remaining
    after = root_netns_snapshot()
    assert after == before


@pytest.fixture
def cluster(apiserver: Any) -> Cluster:
    namespace = f"kpp-{uuid.uuid4().hex[:8]}"
    status, obj, _ = apiserver.request("POST", "/api/v1/namespaces",
                                       {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    assert status == 201, obj
    return Cluster(apiserver, namespace)


def rules_mention(topology: Topology, *needles: str) -> Callable[[], bool]:
    return lambda: all(needle in topology.iptables_save() for needle in needles)


def answers(topology: Topology, netns: str, address: str, port: int, count: int) -> list[str]:
    return [topology.connect(netns, address, port)[0] for _ in range(count)]


def test_cluster_ip_balances_over_both_pods_and_follows_endpoint_removal(
        node: tuple[Topology, int], cluster: Cluster) -> None:
    topology, _ = node
    svc = cluster.service("web")
    cluster_ip = svc["spec"]["clusterIP"]
    cluster.endpoints("web", ["198.18.1.2", "198.18.1.3"])
    wait_for("both endpoints programmed", rules_mention(topology, "198.18.1.2:8080", "198.18.1.3:8080",
                                                          f"{cluster.namespace}/web:http cluster IP"))
    # From the node itself (OUTPUT DNAT, through the Service-range route): 40 connections,
    # a 2 x 2^-40 chance of missing a pod if the split were fair, certain miss if it were not.
    seen = answers(topology, topology.node, cluster_ip, 80, 40)
    assert set(seen) == {"pod1", "pod2"}

    cluster.replace_endpoints("web", ["198.18.1.3"])
    wait_for("pod1 removed", lambda: f"{cluster.namespace}/web:http -> 198.18.1.2:8080"
             not in topology.iptables_save())
    assert set(answers(topology, topology.node, cluster_ip, 80, 20)) == {"pod2"}


def test_service_without_endpoints_refuses_connections(node: tuple[Topology, int], cluster: Cluster) -> None:
    topology, _ = node
    svc = cluster.service("empty")
    wait_for("the REJECT rule", rules_mention(topology, f"{cluster.namespace}/empty:http has no endpoints"))
    with pytest.raises(ConnectionRefusedError):
        # A timeout here would mean the packet was silently lost instead of rejected.
        topology.connect(topology.node, svc["spec"]["clusterIP"], 80, timeout=5)


def test_node_port_on_the_node_address_reaches_both_pods_from_a_pod(
        node: tuple[Topology, int], cluster: Cluster) -> None:
    topology, _ = node
    svc = cluster.service("np", type="NodePort")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    cluster.endpoints("np", ["198.18.1.2", "198.18.1.3"])
    wait_for("the NodePort rule", rules_mention(topology, f"--dport {node_port} -j KUBE-EXT-"))
    pod1 = topology.pods[0]
    results = [topology.connect(pod1.netns, NODE_IP, node_port) for _ in range(40)]
    assert {name for name, _ in results} == {"pod1", "pod2"}
    # Cluster policy masquerades: every backend, pod1 itself included (hairpin), sees the node.
    assert {peer for _, peer in results} == {NODE_IP}


def test_session_affinity_pins_a_client_to_one_pod(node: tuple[Topology, int], cluster: Cluster) -> None:
    topology, _ = node
    svc = cluster.service("sticky", sessionAffinity="ClientIP")
    cluster.endpoints("sticky", ["198.18.1.2", "198.18.1.3"])
    wait_for("affinity rules", rules_mention(topology, f"{cluster.namespace}/sticky:http -> 198.18.1.3:8080",
                                             "--rcheck --seconds 10800 --reap"))
    seen = answers(topology, topology.node, svc["spec"]["clusterIP"], 80, 20)
    assert len(set(seen)) == 1


def test_metrics_and_health(node: tuple[Topology, int], cluster: Cluster) -> None:
    topology, port = node
    cluster.service("timed")
    cluster.endpoints("timed", ["198.18.1.2"])
    wait_for("the endpoint programmed", rules_mention(topology, f"{cluster.namespace}/timed:http -> 198.18.1.2"))

    def metrics() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    wait_for("network programming observed",
             lambda: "kubeproxy_network_programming_duration_seconds_count 0.0" not in metrics())
    text = metrics()
    assert "kubeproxy_sync_proxy_rules_duration_seconds_count" in text
    assert 'kubeproxy_sync_proxy_rules_iptables_total{table="nat"}' in text
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert response.status == 200


def test_cleanup_removes_every_rule_and_a_restart_puts_them_back(
        node: tuple[Topology, int], apiserver: Any, tmp_path: Path) -> None:
    topology, _ = node
    base = [sys.executable, "-m", "kubeplane.proxy.app", f"--netns={topology.node_path}"]
    # --cleanup removes every rule and the Service-range link; a proxy starting afresh (as after a
    # restart, with nothing in place) rewrites all of it from the API in its first full sync.
    subprocess.run([*base, "--cleanup"], check=True, capture_output=True, timeout=30)
    assert "KUBE-" not in topology.iptables_save()
    assert "kube-svc0" not in in_netns(topology.node, "ip", "-o", "link")
    second = subprocess.Popen([*base, f"--kubeconfig={apiserver.kubeconfig}", "--hostname-override=node-a",
                               "--metrics-bind-address=", f"--log-file={tmp_path / 'second.log'}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_for("the rules rewritten", rules_mention(topology, "-j KUBE-SERVICES", "KUBE-SVC-"), timeout=30)
        wait_for("the link back", lambda: "kube-svc0" in in_netns(topology.node, "ip", "-o", "link"))
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
