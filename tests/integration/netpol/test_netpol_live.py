"""The NetworkPolicy agent against a real API server, programming a real node namespace.

Three pods (two Kubernetes namespaces) behind one node namespace (``netpol_topology``); Pods,
Namespaces and NetworkPolicies are written straight to the API (no kubelet or controller runs),
and a ``kubeplane.network.policy.app`` process turns them into iptables rules in the node's
namespace. Each step checks a matrix of real TCP connections until it matches what the policies
allow (the agent applies them asynchronously); a step that never matches fails the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from netns_testlib import root_netns_snapshot
from netpol_topology import NODE, Pod, Topology

from kubeplane.network.vpc.names import netns_path

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
HTTP, ADMIN = 8080, 9090
SERVER, CLIENT_A, CLIENT_B = "server", "client-a", "client-b"
PROBES = [(CLIENT_A, SERVER, HTTP), (CLIENT_B, SERVER, HTTP), (CLIENT_B, SERVER, ADMIN),
          (SERVER, CLIENT_A, HTTP), (SERVER, CLIENT_B, HTTP), (CLIENT_B, CLIENT_A, HTTP), (NODE, SERVER, HTTP)]


@dataclass
class Node:
    topology: Topology
    namespace_a: str  # server and client-a; labelled team=a
    namespace_b: str  # client-b; labelled team=b
    agent: subprocess.Popen[bytes]
    apiserver: Any
    ipset_prefix: str

    def send(self, method: str, path: str, body: Any = None, expect: int = 200,
             content_type: str = "application/json") -> JSON:
        status, obj, _ = self.apiserver.request(method, path, body, content_type=content_type)
        assert status == expect, obj
        result: JSON = obj
        return result

    def create_policy(self, namespace: str, name: str, **spec: Any) -> None:
        self.send("POST", f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies",
                  {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name},
                   "spec": spec}, expect=201)

    def label_namespace(self, namespace: str, team: str) -> None:
        self.send("PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {"team": team}}},
                  content_type="application/merge-patch+json")

    def peer_sets(self) -> dict[str, set[str]]:
        """The agent's ipsets in the node namespace and their members."""
        listing = subprocess.run(["nsenter", f"--net={netns_path(self.topology.node)}", "ipset", "list"],
                                 check=True, capture_output=True, text=True, timeout=10).stdout
        sets: dict[str, set[str]] = {}
        for block in listing.split("Name: ")[1:]:
            name, _, rest = block.partition("\n")
            members = rest.partition("Members:\n")[2]
            if name.startswith(self.ipset_prefix):
                sets[name] = {line.split()[0] for line in members.splitlines() if line.strip()}
        return sets

    def delete_policy(self, namespace: str, name: str) -> None:
        self.send("DELETE", f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}")

    def expect_matrix(self, denied: set[tuple[str, str, int]], timeout: float = 20.0) -> None:
        """Wait until exactly the probes in ``denied`` fail and every other one connects."""
        expected = {probe: probe not in denied for probe in PROBES}
        deadline = time.monotonic() + timeout
        while (seen := self.topology.matrix(PROBES)) != expected:
            if time.monotonic() > deadline:
                wrong = {probe: seen[probe] for probe in PROBES if seen[probe] != expected[probe]}
                raise AssertionError(f"connectivity differs (probe: connected) {wrong}\n"
                                     f"{self.topology.iptables_save()}")
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


def agent_argv(*extra: str) -> list[str]:
    return [sys.executable, "-m", "kubeplane.network.policy.app", *extra]


@pytest.fixture(scope="module")
def node(apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """Namespaces, pods and the agent; everything is removed afterwards and the root namespace
    must be as it was."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces and iptables need root")
    if shutil.which("ipset") is None:
        pytest.skip("needs Debian's ipset (the agent's peer sets)")
    before = root_netns_snapshot()
    run = uuid.uuid4().hex[:8]
    namespace_a, namespace_b = f"np-a-{run}", f"np-b-{run}"
    node_name = f"kpn-{run}"
    ipset_prefix = f"kpn{run[:6]}-"
    topology = Topology([Pod(namespace_a, SERVER, "198.18.1.2", (HTTP, ADMIN)),
                         Pod(namespace_a, CLIENT_A, "198.18.1.3", (HTTP,)),
                         Pod(namespace_b, CLIENT_B, "198.18.1.4", (HTTP,))])
    log_path = tmp_path_factory.mktemp("netpol") / "agent.log"
    agent: subprocess.Popen[bytes] | None = None
    try:
        for name, team in ((namespace_a, "a"), (namespace_b, "b")):
            status, obj, _ = apiserver.request("POST", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"team": team}}})
            assert status == 201, obj
        for pod in topology.pods:
            create_pod(apiserver, pod, node_name)
        topology.create()
        with log_path.open("ab") as out:
            agent = subprocess.Popen(
                agent_argv(f"--kubeconfig={apiserver.kubeconfig}", f"--hostname-override={node_name}",
                           f"--netns={netns_path(topology.node)}", "--min-sync-period=100ms",
                           f"--ipset-prefix={ipset_prefix}"),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while "KUBEPLANE-NP-FORWARD" not in topology.iptables_save():
            assert agent.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the agent never synced"
            time.sleep(0.1)
        yield Node(topology, namespace_a, namespace_b, agent, apiserver, ipset_prefix)
    finally:
        if agent is not None:
            stop(agent)
        topology.delete()
        for name in (namespace_a, namespace_b):
            apiserver.request("DELETE", f"/api/v1/namespaces/{name}")
        if os.environ.get("KUBEPLANE_KEEP_LOGS") is None and log_path.exists():
            log_path.unlink()
    remaining = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert f"kpn-{topology.run_id}" not in remaining
    assert root_netns_snapshot() == before


def create_pod(apiserver: Any, pod: Pod, node_name: str) -> None:
    labels = {"app": "server" if pod.name == SERVER else "client"}
    ports = [{"name": "http", "containerPort": HTTP}, {"name": "admin", "containerPort": ADMIN}][:len(pod.ports)]
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod.name, "labels": labels},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "busybox", "ports": ports}]}}
    base = f"/api/v1/namespaces/{pod.namespace}/pods"
    status, obj, _ = apiserver.request("POST", base, body)
    assert status == 201, obj
    status, obj, _ = apiserver.request("PATCH", f"{base}/{pod.name}/status", {"status": {
        "phase": "Running", "podIP": pod.ip, "podIPs": [{"ip": pod.ip}]}},
        content_type="application/merge-patch+json")
    assert status == 200, obj


def test_connectivity_follows_policies(node: Node) -> None:
    a = node.namespace_a  # namespace b (client-b) never gets a policy: its pod stays open throughout
    node.expect_matrix(denied=set())

    # Default deny ingress in namespace a: its pods accept nothing, except from their node
    # (kubelet probes); namespace b's pod is untouched, and replies to the server still come back.
    node.create_policy(a, "default-deny", podSelector={}, policyTypes=["Ingress"])
    node.expect_matrix(denied={(CLIENT_A, SERVER, HTTP), (CLIENT_B, SERVER, HTTP), (CLIENT_B, SERVER, ADMIN),
                               (SERVER, CLIENT_A, HTTP), (CLIENT_B, CLIENT_A, HTTP)})

    # Allow by label: clients of namespaces labelled team=b (AND in one peer), on the named port only.
    node.create_policy(a, "allow-b-clients", podSelector={"matchLabels": {"app": "server"}},
                       ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}},
                                           "podSelector": {"matchLabels": {"app": "client"}}}],
                                 "ports": [{"port": "http"}]}])
    node.expect_matrix(denied={(CLIENT_A, SERVER, HTTP), (CLIENT_B, SERVER, ADMIN),
                               (SERVER, CLIENT_A, HTTP), (CLIENT_B, CLIENT_A, HTTP)})
    assert list(node.peer_sets().values()) == [{"198.18.1.4"}]  # the peer is a set member, not a rule
    rules_before = node.topology.iptables_save().count("\n-A ")

    # The peers change, not the policies: namespace a is now team=b too, so client-a joins the
    # server's set (rebuilt aside and swapped in) and the rules stay as they were.
    node.label_namespace(a, "b")
    node.expect_matrix(denied={(CLIENT_B, SERVER, ADMIN), (SERVER, CLIENT_A, HTTP), (CLIENT_B, CLIENT_A, HTTP)})
    assert list(node.peer_sets().values()) == [{"198.18.1.3", "198.18.1.4"}]
    assert node.topology.iptables_save().count("\n-A ") == rules_before
    node.label_namespace(a, "a")
    node.expect_matrix(denied={(CLIENT_A, SERVER, HTTP), (CLIENT_B, SERVER, ADMIN),
                               (SERVER, CLIENT_A, HTTP), (CLIENT_B, CLIENT_A, HTTP)})

    # Egress deny on the server: it can open nothing, yet still answers what its ingress allows.
    node.create_policy(a, "server-no-egress", podSelector={"matchLabels": {"app": "server"}},
                       policyTypes=["Egress"])
    node.expect_matrix(denied={(CLIENT_A, SERVER, HTTP), (CLIENT_B, SERVER, ADMIN), (SERVER, CLIENT_A, HTTP),
                               (SERVER, CLIENT_B, HTTP), (CLIENT_B, CLIENT_A, HTTP)})

    # ipBlock with except: the server may reach the pod range but client-b's address; with the
    # default deny gone, client-a accepts again.
    node.delete_policy(a, "default-deny")
    node.create_policy(a, "server-egress-block", podSelector={"matchLabels": {"app": "server"}},
                       policyTypes=["Egress"],
                       egress=[{"to": [{"ipBlock": {"cidr": "198.18.1.0/24", "except": ["198.18.1.4/32"]}}]}])
    node.expect_matrix(denied={(CLIENT_A, SERVER, HTTP), (CLIENT_B, SERVER, ADMIN), (SERVER, CLIENT_B, HTTP)})

    # Everything deleted: everything open again, and the per-pod chains are gone.
    for name in ("allow-b-clients", "server-no-egress", "server-egress-block"):
        node.delete_policy(a, name)
    node.expect_matrix(denied=set())
    saved = node.topology.iptables_save()
    assert [line for line in saved.splitlines() if line.startswith(":KUBEPLANE-NP-")] == [
        ":KUBEPLANE-NP-FORWARD - [0:0]", ":KUBEPLANE-NP-INPUT - [0:0]"]
    forward = [line for line in saved.splitlines() if line.startswith("-A FORWARD ")]
    assert forward[0].endswith("-j KUBEPLANE-NP-FORWARD")
    assert node.peer_sets() == {}  # sets no rule references are destroyed


def test_rules_outlive_the_agent_until_cleanup(node: Node) -> None:
    a = node.namespace_a
    node.create_policy(a, "deny-server", podSelector={"matchLabels": {"app": "server"}}, policyTypes=["Ingress"],
                       ingress=[{"from": [{"ipBlock": {"cidr": "198.18.2.0/24"}}]}])
    denied = {(CLIENT_A, SERVER, HTTP), (CLIENT_B, SERVER, HTTP), (CLIENT_B, SERVER, ADMIN)}
    node.expect_matrix(denied=denied)
    assert stop(node.agent) == 0
    node.expect_matrix(denied=denied, timeout=0)  # a stopped agent keeps enforcing
    assert list(node.peer_sets().values()) == [{"198.18.2.0/24"}]
    subprocess.run(agent_argv(f"--netns={netns_path(node.topology.node)}", "--cleanup",
                              f"--ipset-prefix={node.ipset_prefix}"), check=True,
                   capture_output=True, timeout=30)
    assert "KUBEPLANE-NP" not in node.topology.iptables_save()
    assert node.peer_sets() == {}
    node.expect_matrix(denied=set(), timeout=0)
