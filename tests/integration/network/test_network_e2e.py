"""Issue 7's data-plane acceptance on three nodes in three zones, at the VPC CNI's level.

A VPC with one instance per zone (a, b, c), a real ipamd on each and the installed plugin run per
the CNI spec for namespaces that play pods; a bastion (a VPC host that is not a node) in zone c.
Checked here: pod to pod across all three zones by pod IP with the source address intact; the
bastion reaching every pod IP directly; kube-proxy's rules (a ``Proxier`` synced in process into
node a's namespace) load-balancing a ClusterIP and a NodePort over pods on the other nodes,
session affinity, and ``externalTrafficPolicy: Local`` keeping the client's address; a kube-proxy
process (against a real API server) killed with SIGKILL leaves its rules and the Service working,
and its restart takes over; an ipamd killed with SIGKILL and restarted keeps every address and the
pods' traffic. The module fixture removes everything and checks that the root
namespace's links, routes, policy rules, iptables and forwarding are exactly as before.

Everything is named after a random VPC name (``t<hex>``): pod namespaces ``kp-<vpc>-pod-*``.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from netns_testlib import Servers, root_netns_snapshot
from vpc_probes import tcp_exchange

from kubeplane.component.iptables import Iptables, NetnsCommand
from kubeplane.network.cni import install
from kubeplane.network.ipam import protocol
from kubeplane.network.vpc import VpcService, names
from kubeplane.network.vpc.netlink import create_netns, delete_netns, list_netns, socket_in_netns
from kubeplane.proxy.proxier import Proxier
from kubeplane.proxy.rules import RenderOptions

pytestmark = pytest.mark.integration

ZONES = ("a", "b", "c")
POD_PORT = 8080
JSON = dict[str, Any]


@dataclass
class Node:
    instance_id: str
    state_dir: Path
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return protocol.socket_path(self.state_dir)

    def start(self) -> None:
        with (self.state_dir.parent / f"ipamd-{self.instance_id}.log").open("ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.status()
                return
            except protocol.IpamdError:
                assert self.process.poll() is None and time.monotonic() < deadline, "ipamd did not come up"
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the daemon crashes or is OOM-killed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def status(self) -> dict[str, Any]:
        return protocol.call(self.socket, {"command": "STATUS"}, timeout=10)


@dataclass
class Vpc:
    name: str
    service: VpcService
    base: Path
    plugin: Path
    nodes: dict[str, Node] = field(default_factory=dict)  # zone → node
    pods: dict[str, tuple[str, str]] = field(default_factory=dict)  # pod netns → (zone, ip)
    bastion_netns: str = ""
    bastion_ip: str = ""
    servers: Servers = field(default_factory=Servers)

    def node_ip(self, zone: str) -> str:
        return self.service.describe(self.name).primary_eni(self.nodes[zone].instance_id).primary_ip

    def pod_in(self, zone: str) -> tuple[str, str]:
        """The first pod of a zone: (netns, ip)."""
        return next((netns, ip) for netns, (pod_zone, ip) in self.pods.items() if pod_zone == zone)

    def add_node(self, zone: str) -> None:
        instance_id = self.service.run_instance(self.name, zone).id
        state_dir = self.base / f"ipamd-{zone}"
        argv = [sys.executable, "-m", "kubeplane.network.ipam", "--vpc", self.name,
                "--vpc-state-root", str(self.base / "vpcs"), "--instance-id", instance_id,
                "--state-dir", str(state_dir), "--instance-type", "m5.large",
                "--ip-cooldown", "0", "--reconcile-interval", "0.5", "--pod-route", "198.19.0.0/16"]
        self.nodes[zone] = node = Node(instance_id, state_dir, argv)
        node.start()

    def add_pod(self, zone: str, label: str) -> str:
        netns = f"kp-{self.name}-pod-{label}"
        create_netns(netns)
        self.pods[netns] = (zone, "")
        env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": label, "CNI_IFNAME": "eth0",
               "CNI_NETNS": names.netns_path(netns), "CNI_PATH": str(self.plugin.parent),
               "PATH": os.environ.get("PATH", ""),
               "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e;K8S_POD_NAME={label}"}
        conf = {"cniVersion": "1.0.0", "name": f"kubeplane-vpc-{self.name}", "type": install.PLUGIN_TYPE,
                "ipamdSocket": str(self.nodes[zone].socket)}
        done = subprocess.run([str(self.plugin)], env=env, input=json.dumps(conf).encode(), capture_output=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stdout
        ip: str = json.loads(done.stdout)["ips"][0]["address"].removesuffix("/32")
        self.pods[netns] = (zone, ip)
        return netns


def _reply(pod: str, peer: str) -> str:
    """What each pod's server answers: its name and the client address it saw."""
    return f"{pod} {peer}"


@pytest.fixture(scope="module")
def vpc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vpc]:
    if os.geteuid() != 0:
        pytest.skip("the VPC CNI needs root (network namespaces)")
    before = root_netns_snapshot()
    base = tmp_path_factory.mktemp("e2e")
    name = f"t{secrets.token_hex(4)}"
    service = VpcService(base / "vpcs")
    under_test = Vpc(name, service, base, install.install_plugin(base / "cni-bin"))
    try:
        service.create(name)
        for zone in ZONES:
            under_test.add_node(zone)
            pod = under_test.add_pod(zone, f"{zone}1")
            under_test.servers.serve(pod, under_test.pods[pod][1], POD_PORT, functools.partial(_reply, f"{zone}1"))
        bastion = service.bastion(name, zone="c")
        under_test.bastion_netns = names.instance_netns(name, bastion.id)
        under_test.bastion_ip = service.describe(name).primary_eni(bastion.id).primary_ip
        yield under_test
    finally:
        under_test.servers.close()
        for node in under_test.nodes.values():
            node.stop()
        for pod in under_test.pods:
            delete_netns(pod)
        service.delete(name)
    assert [ns for ns in list_netns() if name in ns] == []
    assert root_netns_snapshot() == before


def test_pods_in_three_zones_reach_each_other_by_pod_ip(vpc: Vpc) -> None:
    subnets = {zone: vpc.service.describe(vpc.name).subnet_in_zone(zone).network for zone in ZONES}
    for netns, (zone, ip) in vpc.pods.items():
        assert any(ip == str(address) for address in subnets[zone].hosts()), (netns, ip)
    for (client, (_, client_ip)), (server, (_, server_ip)) in itertools.permutations(vpc.pods.items(), 2):
        # The server sees the client's pod IP: no NAT between pods, whatever the zones.
        assert tcp_exchange(client, server, server_ip) == client_ip, (client, server)


def test_a_vpc_host_that_is_not_a_node_reaches_pod_ips_directly(vpc: Vpc) -> None:
    assert vpc.bastion_ip not in {vpc.service.describe(vpc.name).primary_eni(n.instance_id).primary_ip
                                  for n in vpc.nodes.values()}
    for pod, (_, ip) in vpc.pods.items():
        assert tcp_exchange(vpc.bastion_netns, pod, ip) == vpc.bastion_ip, pod
        assert tcp_exchange(pod, vpc.bastion_netns, vpc.bastion_ip) == ip, pod


def _ask(netns: str, address: str, port: int) -> tuple[str, str]:
    """One TCP connection; (the pod that answered, the client address it saw)."""
    with socket_in_netns(netns) as client:
        client.settimeout(5)
        client.connect((address, port))
        name, peer = client.recv(64).decode().split()
        return name, peer


def _service(name: str, cluster_ip: str, node_port: int = 0, **spec: Any) -> JSON:
    port: JSON = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": POD_PORT}
    if node_port:
        port["nodePort"] = node_port
    return {"metadata": {"namespace": "e2e", "name": name},
            "spec": {"type": "NodePort" if node_port else "ClusterIP", "clusterIP": cluster_ip,
                     "ports": [port], **spec}}


def _slice(service: str, endpoints: dict[str, str]) -> JSON:
    """``endpoints``: pod IP → node name."""
    return {"metadata": {"namespace": "e2e", "name": f"{service}-x",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": POD_PORT, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "nodeName": node}
                          for ip, node in endpoints.items()]}


def test_kube_proxy_balances_over_other_nodes_and_local_policy_keeps_the_client(vpc: Vpc) -> None:
    (pod_a, ip_a), (_, ip_b), (_, ip_c) = (vpc.pod_in(zone) for zone in ZONES)
    node_a = names.netns_path(names.instance_netns(vpc.name, vpc.nodes["a"].instance_id))
    # No --cluster-cidr, as EKS's kube-proxy-config: with the VPC CIDR as cluster CIDR every VPC host
    # would count as a pod, and its Local NodePort traffic would go unmasqueraded to remote pods.
    proxier = Proxier(Iptables(NetnsCommand(node_a)), RenderOptions(node_name="node-a"))
    remote = {ip_b: "node-b", ip_c: "node-c"}
    services = [(_service("spread", "198.19.0.20"), remote),
                (_service("sticky", "198.19.0.21", sessionAffinity="ClientIP"), remote),
                (_service("cluster", "198.19.0.22", node_port=30080), remote),
                (_service("local", "198.19.0.23", node_port=30081, externalTrafficPolicy="Local"),
                 {ip_a: "node-a", **remote})]
    for service, endpoints in services:
        proxier.on_service(service)
        proxier.on_endpoint_slice(_slice(service["metadata"]["name"], endpoints))
    asyncio.run(proxier.sync_rules(full=True))

    # ClusterIP from pod a1: both remote pods answer (40 tries: a fair split misses one with
    # probability 2 x 2^-40), and they see a1's own address (pod traffic is not masqueraded).
    answers = [_ask(pod_a, "198.19.0.20", 80) for _ in range(40)]
    assert {name for name, _ in answers} == {"b1", "c1"}
    assert {peer for _, peer in answers} == {ip_a}
    assert len({_ask(pod_a, "198.19.0.21", 80)[0] for _ in range(15)}) == 1  # affinity sticks
    # NodePort on node a from the bastion (outside the cluster): Cluster policy spreads over the
    # other nodes' pods behind node a's address; Local goes to a1 alone and keeps the client's.
    node_ip = vpc.node_ip("a")
    answers = [_ask(vpc.bastion_netns, node_ip, 30080) for _ in range(40)]
    assert {name for name, _ in answers} == {"b1", "c1"}
    assert {peer for _, peer in answers} == {node_ip}
    assert {_ask(vpc.bastion_netns, node_ip, 30081) for _ in range(10)} == {("a1", vpc.bastion_ip)}


def _nat_rules(netns_path: str) -> list[str]:
    saved = subprocess.run(["nsenter", f"--net={netns_path}", "iptables-save", "-t", "nat"], check=True,
                           capture_output=True, text=True, timeout=10).stdout
    return [line for line in saved.splitlines() if line.startswith("-A ")]


def _wait(what: str, check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_killed_kube_proxy_leaves_its_rules_and_a_restart_takes_over(vpc: Vpc, apiserver: Any,
                                                                       tmp_path: Path) -> None:
    (pod_a, _), (_, ip_b), (_, ip_c) = (vpc.pod_in(zone) for zone in ZONES)
    node_a = names.netns_path(names.instance_netns(vpc.name, vpc.nodes["a"].instance_id))
    namespace = f"e2e-{vpc.name}"

    def send(method: str, path: str, body: JSON | None, expect: int) -> JSON:
        status, obj, _ = apiserver.request(method, path, body)
        assert status == expect, obj
        result: JSON = obj
        return result

    send("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}}, 201)
    cluster_ip = send("POST", f"/api/v1/namespaces/{namespace}/services", {"metadata": {"name": "web"}, "spec": {
        "ports": [{"name": "http", "port": 80, "targetPort": POD_PORT}]}}, 201)["spec"]["clusterIP"]
    slice_path = f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", **_slice("web", {ip_b: "node-b", ip_c: "node-c"})}
    body["metadata"]["namespace"] = namespace
    send("POST", slice_path, body, 201)

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / "proxy.log").open("ab") as log:
            return subprocess.Popen([sys.executable, "-m", "kubeplane.proxy.app", f"--kubeconfig={apiserver.kubeconfig}",
                                     "--hostname-override=node-a", f"--netns={node_a}", "--metrics-bind-address=",
                                     "--iptables-min-sync-period=100ms"],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def serving() -> set[str]:
        return {_ask(pod_a, cluster_ip, 80)[0] for _ in range(30)}

    proxy = start()
    try:
        _wait("both endpoints programmed", lambda: sum(f"{namespace}/web:http -> " in rule
                                                       for rule in _nat_rules(node_a)) == 2)
        assert serving() == {"b1", "c1"}
        rules = _nat_rules(node_a)
        proxy.send_signal(signal.SIGKILL)
        proxy.wait(10)
        assert _nat_rules(node_a) == rules  # nothing is lost with the process
        assert serving() == {"b1", "c1"}
        proxy = start()
        body = send("GET", f"{slice_path}/web-x", None, 200) | {
            "endpoints": [{"addresses": [ip_b], "conditions": {"ready": True}, "nodeName": "node-b"}]}
        send("PUT", f"{slice_path}/web-x", body, 200)
        _wait("the restarted proxy applies a change", lambda: sum(f"{namespace}/web:http -> " in rule
                                                                  for rule in _nat_rules(node_a)) == 1)
        assert serving() == {"b1"}
    finally:
        if proxy.poll() is None:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(10)
        apiserver.request("DELETE", f"/api/v1/namespaces/{namespace}")


def test_a_killed_ipamd_restarts_with_every_address_and_pod_traffic(vpc: Vpc) -> None:
    node = vpc.nodes["b"]
    extra = vpc.add_pod("b", "b2")
    before = node.status()["assigned"]
    assert vpc.pods[extra][1] in before
    node.kill()
    node.start()
    assert node.status()["assigned"] == before
    client = next(pod for pod, (zone, _) in vpc.pods.items() if zone == "a")
    for pod, (zone, ip) in vpc.pods.items():
        if zone == "b":
            assert tcp_exchange(client, pod, ip) == vpc.pods[client][1]
    newcomer = vpc.add_pod("b", "b3")  # no address is handed out twice after the restart
    assert vpc.pods[newcomer][1] not in before
