"""The VPC CNI for real: a VPC with two instances in two zones, an ipamd per instance, the plugin
executed per the CNI spec (environment + stdin) against namespaces that play pods, and one node
where a real containerd runs a sandbox through the conflist.

Everything is named after a random VPC name (``t<hex>``): pod namespaces ``kp-<vpc>-pod-*``, the
CNI network ``kubeplane-vpc-<vpc>``. The module's fixture removes it all and checks the root
namespace is exactly as it found it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import netns as pyroute2_netns  # type: ignore[import-untyped]
from vpc_probes import icmp_echo_ttl, root_netns_snapshot, tcp_exchange

from kubeplane.kubelet.cri import (
    Containerd,
    CRIClient,
    leftovers,
    pb,
    remove_all_sandboxes,
    wait_network_ready,
)
from kubeplane.kubelet.images import build_base_images, ensure_imported
from kubeplane.network.cni import install
from kubeplane.network.cni.wiring import FROM_POD_RULE_PRIORITY, TO_POD_RULE_PRIORITY, host_veth_name
from kubeplane.network.ipam import protocol
from kubeplane.network.vpc import VpcService, names
from kubeplane.network.vpc.netlink import Netns, delete_netns, list_netns, run_in_netns

pytestmark = pytest.mark.integration


@dataclass
class Ipamd:
    instance_id: str
    state_dir: Path
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return protocol.socket_path(self.state_dir)

    def start(self) -> None:
        log = (self.state_dir.parent / f"ipamd-{self.instance_id}.log").open("ab")
        with log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.status()
                return
            except protocol.IpamdError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log_text = (self.state_dir.parent / f"ipamd-{self.instance_id}.log").read_text()
                    raise RuntimeError(f"ipamd did not come up:\n{log_text[-3000:]}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def status(self) -> dict[str, Any]:
        return protocol.call(self.socket, {"command": "STATUS"}, timeout=10)


@dataclass
class Cluster:
    vpc: str
    service: VpcService
    base: Path
    plugin: Path
    instances: dict[str, str]  # "a"/"b" → instance id
    ipamds: dict[str, Ipamd] = field(default_factory=dict)
    pods: list[str] = field(default_factory=list)

    @property
    def network(self) -> str:
        return f"kubeplane-vpc-{self.vpc}"

    def node_netns(self, node: str) -> str:
        return names.instance_netns(self.vpc, self.instances[node])

    def primary_ip(self, node: str) -> str:
        return self.service.describe(self.vpc).primary_eni(self.instances[node]).primary_ip

    def subnet(self, node: str) -> str:
        state = self.service.describe(self.vpc)
        return state.subnet(state.instance(self.instances[node]).subnet_id).cidr

    def start_ipamd(self, node: str, instance_type: str) -> Ipamd:
        instance_id = self.instances[node]
        state_dir = self.base / f"ipamd-{node}"
        argv = [sys.executable, "-m", "kubeplane.network.ipam", "--vpc", self.vpc,
                "--vpc-state-root", str(self.base / "vpcs"), "--instance-id", instance_id,
                "--state-dir", str(state_dir), "--instance-type", instance_type,
                "--ip-cooldown", "0", "--reconcile-interval", "0.5", "--pod-route", "198.19.0.0/16"]
        ipamd = Ipamd(instance_id, state_dir, argv)
        self.ipamds[node] = ipamd
        ipamd.start()
        return ipamd

    def new_pod(self, label: str) -> str:
        name = f"kp-{self.vpc}-pod-{label}"
        pyroute2_netns.create(name)
        self.pods.append(name)
        return name

    def cni(self, node: str, command: str, container_id: str, pod_netns: str | None) -> tuple[int, dict[str, Any] | None]:
        """Run the installed plugin as a runtime does: CNI_* variables and the config on stdin."""
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_IFNAME": "eth0",
               "CNI_NETNS": names.netns_path(pod_netns) if pod_netns else "",
               "CNI_PATH": str(self.plugin.parent), "PATH": os.environ.get("PATH", ""),
               "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={container_id}"}
        conf = {"cniVersion": "1.0.0", "name": self.network, "type": install.PLUGIN_TYPE,
                "ipamdSocket": str(self.ipamds[node].socket)}
        done = subprocess.run([str(self.plugin)], env=env, input=json.dumps(conf).encode(), capture_output=True,
                              timeout=60, check=False)
        return done.returncode, json.loads(done.stdout) if done.stdout else None

    def add(self, node: str, container_id: str, pod_netns: str) -> str:
        code, result = self.cni(node, "ADD", container_id, pod_netns)
        assert code == 0 and result is not None, result
        address: str = result["ips"][0]["address"]
        return address.removesuffix("/32")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.skip("the VPC CNI needs root (network namespaces)")
    before = root_netns_snapshot()
    base = tmp_path_factory.mktemp("cni")
    name = f"t{secrets.token_hex(4)}"
    service = VpcService(base / "vpcs")
    test_cluster = Cluster(name, service, base, install.install_plugin(base / "cni-bin"), {})
    try:
        service.create(name)
        test_cluster.instances = {zone: service.run_instance(name, zone).id for zone in ("a", "b")}
        test_cluster.start_ipamd("a", "t3.nano")  # 2 ENIs, one pod address each: exhausts quickly
        test_cluster.start_ipamd("b", "t3.medium")
        yield test_cluster
    finally:
        for ipamd in test_cluster.ipamds.values():
            ipamd.stop()
        for pod in test_cluster.pods:
            delete_netns(pod)
        service.delete(name)
    assert [ns for ns in list_netns() if ns.startswith(f"kp-{name}-")] == []
    assert root_netns_snapshot() == before


def _routes(netns: str) -> list[dict[str, Any]]:
    with Netns(netns) as ns:
        return [r for r in ns.routes() if r["table"] != 255]


def _links(netns: str) -> list[str]:
    with Netns(netns) as ns:
        return ns.link_names()


def _tx_packets(netns: str, ifname: str) -> int:
    with Netns(netns) as ns:
        [link] = ns.ipr.link("get", index=ns.link_index(ifname))
        packets: int = link.get("stats64")["tx_packets"]
        return packets


def _rules(netns: str) -> set[tuple[int, str | None, str | None, int]]:
    with Netns(netns) as ns:
        return {(r.get("priority"), r.get("dst"), r.get("src"), r.get("table"))
                for r in ns.ipr.rule("dump", family=socket.AF_INET)}


def _ip_forward() -> str:
    with open("/proc/sys/net/ipv4/ip_forward") as handle:
        return handle.read().strip()


def test_pods_reach_each_other_across_zones_by_vpc_address(cluster: Cluster) -> None:
    a1, a2, b1 = cluster.new_pod("a1"), cluster.new_pod("a2"), cluster.new_pod("b1")
    ip_a1, ip_a2 = cluster.add("a", "a1", a1), cluster.add("a", "a2", a2)
    ip_b1 = cluster.add("b", "b1", b1)
    state = cluster.service.describe(cluster.vpc)
    eni_of = {ip: eni for eni in state.enis for ip in eni.secondary_ips}
    assert eni_of[ip_a1].device_index == 0 and eni_of[ip_a2].device_index == 1  # a2 needed ENI 2
    assert eni_of[ip_b1].instance_id == cluster.instances["b"]
    # Pod to pod across zones, both ways, and with the secondary ENI's pod: no NAT anywhere.
    assert tcp_exchange(a1, b1, ip_b1) == ip_a1
    assert tcp_exchange(b1, a1, ip_a1) == ip_b1
    eth1_before = _tx_packets(cluster.node_netns("a"), "eth1")
    assert tcp_exchange(a2, b1, ip_b1) == ip_a2
    assert tcp_exchange(b1, a2, ip_a2) == ip_b1
    # a2's packets leave by the ENI that owns its address (aws-vpc-cni's "from <ip>" rule).
    assert _tx_packets(cluster.node_netns("a"), "eth1") >= eth1_before + 6
    rules = _rules(cluster.node_netns("a"))
    assert (TO_POD_RULE_PRIORITY, ip_a2, None, 254) in rules
    assert (FROM_POD_RULE_PRIORITY, None, ip_a2, names.eni_route_table(1)) in rules
    assert not any(priority == FROM_POD_RULE_PRIORITY and src == ip_a1 for priority, _, src, _ in rules)
    # Pod to nodes (its own and another zone's) and node to pod.
    assert tcp_exchange(a1, cluster.node_netns("b"), cluster.primary_ip("b")) == ip_a1
    assert tcp_exchange(a1, cluster.node_netns("a"), cluster.primary_ip("a")) == ip_a1
    assert tcp_exchange(cluster.node_netns("b"), a2, ip_a2) == cluster.primary_ip("b")
    assert icmp_echo_ttl(b1, ip_a1) == 64 - 3  # routed by node a, the VPC router and node b
    # Pods route the VPC and Service CIDRs via 169.254.1.1 and have no default route; nor do nodes.
    assert {(r["dst"], r["dst_len"], r["gateway"]) for r in _routes(a1)} == {
        ("169.254.1.1", 32, None), ("198.18.0.0", 16, "169.254.1.1"), ("198.19.0.0", 16, "169.254.1.1")}
    for netns in (a1, a2, b1, cluster.node_netns("a"), cluster.node_netns("b")):
        assert [r for r in _routes(netns) if r["dst_len"] == 0] == [], netns
    assert run_in_netns(cluster.node_netns("a"), _ip_forward) == "1"


def test_exhausted_node_fails_with_a_clear_cni_error(cluster: Cluster) -> None:
    # Node a (t3.nano) holds a1 and a2 from the test above, or fills up now.
    status = cluster.ipamds["a"].status()
    for number in range(status["maxPodIps"] - len(status["assigned"])):
        cluster.add("a", f"fill{number}", cluster.new_pod(f"fill{number}"))
    code, error = cluster.cni("a", "ADD", "one-too-many", cluster.new_pod("extra"))
    assert code == 1 and error is not None
    assert (error["code"], error["msg"]) == (11, "failed to assign an IP address to container")
    assert _links(cluster.pods[-1]) == ["lo"]  # nothing was wired


def test_del_twice_releases_the_address_and_leaves_nothing(cluster: Cluster) -> None:
    pod = cluster.new_pod("del")
    ip = cluster.add("b", "del", pod)
    assert cluster.cni("b", "CHECK", "del", pod) == (0, None)
    node, veth = cluster.node_netns("b"), host_veth_name("default", "del", "del")
    assert veth in _links(node) and (ip, 32) in {(r["dst"], r["dst_len"]) for r in _routes(node)}
    assert cluster.cni("b", "DEL", "del", pod) == (0, None)
    assert cluster.cni("b", "DEL", "del", None) == (0, None)  # the runtime's second DEL: no netns (G3)
    assert veth not in _links(node)
    assert (ip, 32) not in {(r["dst"], r["dst_len"]) for r in _routes(node)}
    assert not any(ip in (dst, src) for _, dst, src, _ in _rules(node))
    assert ip not in cluster.ipamds["b"].status()["assigned"]
    assert _links(pod) == ["lo"]  # the pod end went with the host end
    code, error = cluster.cni("b", "CHECK", "del", pod)
    assert code == 1 and error is not None and error["code"] == protocol.ERR_UNKNOWN_CONTAINER


def test_ipamd_restart_keeps_assignments_and_pod_traffic(cluster: Cluster) -> None:
    pod, client = cluster.new_pod("keep"), cluster.new_pod("client")
    ip = cluster.add("b", "keep", pod)
    client_ip = cluster.add("a", "client", client) if cluster.ipamds["a"].status()["free"] else None
    cluster.ipamds["b"].stop()
    cluster.ipamds["b"].start()
    assert cluster.ipamds["b"].status()["assigned"][ip] == "keep/eth0"
    if client_ip is not None:
        assert tcp_exchange(client, pod, ip) == client_ip
    assert tcp_exchange(cluster.node_netns("a"), pod, ip) == cluster.primary_ip("a")
    assert cluster.add("b", "keep", pod) == ip  # ADD again after the restart: same address
    other = cluster.add("b", "other", cluster.new_pod("other"))
    assert other != ip


async def test_containerd_sandbox_gets_a_vpc_address(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A kubelet-style node: containerd in the instance's namespace runs our conflist."""
    images = build_base_images(tmp_path_factory.mktemp("images"))
    containerd = Containerd(tmp_path_factory.mktemp("node") / "containerd",
                            Path(names.netns_path(cluster.node_netns("b"))))
    cgroup_root = f"/kp-{cluster.vpc}-node"
    try:
        await containerd.start()
        install.install_plugin(containerd.paths.cni_bin_dir)
        install.write_conflist(containerd.paths.cni_conf_dir, cluster.ipamds["b"].socket, cluster.network)
        async with CRIClient(containerd.socket, request_timeout=30.0) as cri:
            await ensure_imported(cri, containerd.socket, images)
            await wait_network_ready(cri)
            uid = str(uuid.uuid4())
            config = pb.PodSandboxConfig(
                metadata=pb.PodSandboxMetadata(name="web", uid=uid, namespace="default"), hostname="web",
                log_directory=str(containerd.paths.base / "pods" / uid),
                dns_config=pb.DNSConfig(servers=["198.19.0.10"]),
                linux=pb.LinuxPodSandboxConfig(cgroup_parent=f"{cgroup_root}/pod{uid}"))
            sandbox_id = await cri.run_pod_sandbox(config)
            ip = (await cri.pod_sandbox_status(sandbox_id)).status.network.ip
            assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(cluster.subnet("b"))
            assert cluster.ipamds["b"].status()["assigned"][ip] == f"{sandbox_id}/eth0"
            # Reached from another zone's node by its VPC address: pod 64, node b 63, router 62.
            assert icmp_echo_ttl(cluster.node_netns("a"), ip) == 62
            await cri.stop_pod_sandbox(sandbox_id)
            await cri.remove_pod_sandbox(sandbox_id)  # DEL again, with no netns
            assert ip not in cluster.ipamds["b"].status()["assigned"]
    finally:
        if containerd.is_running():
            async with CRIClient(containerd.socket, request_timeout=30.0) as cri:
                await remove_all_sandboxes(cri)
        containerd.stop(grace=10.0)
        leftovers.clean(containerd.paths, cluster.network, cgroup_root)
        containerd.remove_files()
    assert not leftovers.find(containerd.paths, cluster.network, cgroup_root)
