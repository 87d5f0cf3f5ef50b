"""`kubeplane up --nodes 2` end to end (root only): two EKS-style nodes in two zones of the
cluster's VPC, a Deployment spread over them serving through its Service, and a `down` that leaves
nothing behind. State lives in a temporary KUBEPLANE_HOME under a random cluster name."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from netns_testlib import root_netns_snapshot

from kubeplane.cli.demo import find_kubectl

CLUSTER_DNS = "198.19.0.10"  # the kube-dns Service every kubelet hands to pods

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("etcd") is None or shutil.which("containerd") is None,
                       reason="needs Debian's etcd and containerd"),
    pytest.mark.skipif(os.geteuid() != 0, reason="nodes need root (network namespaces, cgroups)"),
    pytest.mark.timeout(240),
]
pytest.importorskip("kubeplane.apiserver.app", reason="needs the API server")

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: spread}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: spread}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector: {matchLabels: {app: web}}
      containers:
        - name: httpd
          image: localhost/busybox:1.35
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: spread}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


@dataclass
class Cluster:
    name: str
    home: Path
    up_seconds: float
    summary: dict[str, Any]
    root_before: dict[str, object]  # the root namespace's links, routes, rules and iptables before `up`

    @property
    def root(self) -> Path:
        return self.home / "clusters" / self.name

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def kubeplane(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _kubeplane(self.home, *args, check=check)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([find_kubectl(), f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def node_netns(self, node_name: str) -> str:
        netns: str = next(n["netns"] for n in self.summary["nodes"] if n["name"] == node_name)
        return netns


def _kubeplane(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBEPLANE_HOME": str(home), "HOME": str(home / "user")}
    done = subprocess.run([sys.executable, "-m", "kubeplane.cli", *args], env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    if check and done.returncode != 0:
        pytest.fail(f"kubeplane {' '.join(args)} -> {done.returncode}\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = Path(tmp_path_factory.mktemp("kpn"))
    name = f"tn{secrets.token_hex(3)}"
    root_before = root_netns_snapshot()
    started = time.monotonic()
    try:
        done = _kubeplane(home, "up", "--name", name, "--nodes", "2", "-o", "json")
        elapsed = time.monotonic() - started
        print(f"\nup --nodes 2: all nodes Ready {elapsed:.1f}s after `up` started")
        yield Cluster(name, home, elapsed, json.loads(done.stdout), root_before)
    finally:
        _kubeplane(home, "down", "--name", name, check=False)  # a no-op after test_down_...


def _run_in_netns(netns: str, *command: str) -> subprocess.CompletedProcess[str]:
    # Debian's static busybox `wget -T` crashes: `timeout` bounds the request instead.
    return subprocess.run(["nsenter", f"--net={netns}", "timeout", "5", *command], capture_output=True,
                          text=True, timeout=30, check=False)


def _wget(netns: str, url: str) -> str | None:
    done = _run_in_netns(netns, "busybox", "wget", "-q", "-O", "-", url)
    return done.stdout.strip() if done.returncode == 0 else None


def _resolve(netns: str, name: str, tcp: bool) -> str | None:
    """The A record of ``name`` asked of the cluster DNS Service from inside ``netns``."""
    query = ("import dns.message, dns.query, sys; q = dns.message.make_query(sys.argv[1], 'A'); "
             f"r = dns.query.{'tcp' if tcp else 'udp'}(q, '{CLUSTER_DNS}', timeout=2); "
             "print(r.answer[0][0].address if r.answer else '')")
    done = _run_in_netns(netns, sys.executable, "-c", query, name)
    return done.stdout.strip() or None if done.returncode == 0 else None


def _wait(what: str, probe: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_nodes_are_ready_in_two_zones_with_eks_labels(cluster: Cluster) -> None:
    nodes = cluster.get("nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(n["name"] for n in cluster.summary["nodes"])
    zones = set()
    for node in nodes:
        labels, name = node["metadata"]["labels"], node["metadata"]["name"]
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", name
        internal_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        assert name == f"ip-{internal_ip.replace('.', '-')}.ec2.internal"
        assert ipaddress.ip_address(internal_ip) in ipaddress.ip_network("198.18.0.0/16")
        assert labels["node.kubernetes.io/instance-type"] == "m5.large"
        assert labels["topology.kubernetes.io/region"] == "us-east-1"
        assert labels["kubernetes.io/hostname"] == name
        assert node["status"]["capacity"]["pods"] == "29"  # EKS's max pods for m5.large
        zones.add(labels["topology.kubernetes.io/zone"])
    assert zones == {"us-east-1a", "us-east-1b"}

    status = json.loads(cluster.kubeplane("status", "--name", cluster.name, "-o", "json").stdout)
    assert status["healthy"] is True
    assert {c["kind"] for c in status["components"]} >= {"containerd", "ipamd", "kubelet", "proxy"}
    assert all(n["ready"] for n in status["nodes"]) and len(status["nodes"]) == 2

    # The cluster's VPC is the one `kubeplane vpc` shows: the nodes are its instances.
    vpc = json.loads(cluster.kubeplane("vpc", "describe", "--name", cluster.name, "-o", "json").stdout)
    node_ips = {n["ip"] for n in status["nodes"]}
    assert node_ips <= {instance["privateIpAddress"] for instance in vpc["instances"]}


def _subnet_of_zone(cluster: Cluster, zone: str) -> ipaddress.IPv4Network:
    from kubeplane.network.vpc import VpcService

    vpc = VpcService(cluster.root / "vpcs").describe(cluster.name)
    return vpc.subnet_in_zone(zone).network


async def _sandbox_pid(socket: Path, pod_uid: str) -> int:
    """The pod's pause process (its netns is the pod's), from containerd's verbose sandbox status."""
    from kubeplane.kubelet.cri import CRIClient, pb

    async with CRIClient(socket) as cri:
        [sandbox] = await cri.list_pod_sandbox(pb.PodSandboxFilter(label_selector={"io.kubernetes.pod.uid": pod_uid}))
        status = await cri.pod_sandbox_status(sandbox.id, verbose=True)
        pid: int = json.loads(status.info["info"])["pid"]
        return pid


def test_deployment_runs_one_pod_per_node_and_serves_through_its_service(cluster: Cluster) -> None:
    started = time.monotonic()
    cluster.kubectl("apply", "-f", "-", stdin=APP)

    def running_pods() -> list[dict[str, Any]] | None:
        pods = [p for p in cluster.get("pods", "-n", "spread")["items"] if not p["metadata"].get("deletionTimestamp")]
        ok = len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods)
        return pods if ok else None

    pods = _wait("both pods Running", running_pods)
    print(f"\n2-replica Deployment: apply -> both pods Running in {time.monotonic() - started:.1f}s")
    by_node = {p["spec"]["nodeName"]: p for p in pods}
    assert len(by_node) == 2, "the required anti-affinity puts one pod on each node"

    nodes = {n["metadata"]["name"]: n for n in cluster.get("nodes")["items"]}
    for node_name, pod in by_node.items():
        zone = nodes[node_name]["metadata"]["labels"]["topology.kubernetes.io/zone"]
        assert ipaddress.ip_address(pod["status"]["podIP"]) in _subnet_of_zone(cluster, zone)

    node_a, node_b = sorted(by_node)
    netns_a = f"/run/netns/{cluster.node_netns(node_a)}"
    service_ip = cluster.get("service", "web", "-n", "spread")["spec"]["clusterIP"]
    # The page is the pod's hostname (its name): ClusterIP traffic from node A reaches both pods.
    served: set[str] = set()
    deadline = time.monotonic() + 60
    while served != {p["metadata"]["name"] for p in pods} and time.monotonic() < deadline:
        page = _wget(netns_a, f"http://{service_ip}/")
        if page:
            served.add(page)
        else:
            time.sleep(0.2)
    assert served == {p["metadata"]["name"] for p in pods}

    # Pod to pod across nodes and zones: from inside the pod on node A to the pod on node B.
    socket = Path(next(c["endpoint"] for c in cluster.summary["components"]
                       if c["kind"] == "containerd" and c["name"] == f"containerd-{_index(cluster, node_a)}")
                  .removeprefix("unix://"))
    pid = asyncio.run(_sandbox_pid(socket, by_node[node_a]["metadata"]["uid"]))
    page = _wget(f"/proc/{pid}/ns/net", f"http://{by_node[node_b]['status']['podIP']}:8080/")
    assert page == by_node[node_b]["metadata"]["name"]

    # Cluster DNS from inside that pod: kube-dns's ClusterIP (DNAT to the node-hosted servers)
    # resolves the Service's name to its ClusterIP, over UDP and TCP.
    for tcp in (False, True):
        answer = _wait("the Service name resolves", lambda tcp=tcp: _resolve(
            f"/proc/{pid}/ns/net", "web.spread.svc.cluster.local", tcp), timeout=30)
        assert answer == service_ip

    # kubectl exec through the API server to node B's kubelet and its containerd.
    name_b = by_node[node_b]["metadata"]["name"]
    assert cluster.kubectl("exec", "-n", "spread", name_b, "--", "hostname").strip() == name_b

    # NetworkPolicy, enforced by node B's agent: default-deny ingress in the namespace cuts pod A
    # off from pod B; deleting the policy lets it through again.
    deny = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: spread}\n"
            "spec: {podSelector: {}, policyTypes: [Ingress]}\n")
    target = f"http://{by_node[node_b]['status']['podIP']}:8080/"
    cluster.kubectl("apply", "-f", "-", stdin=deny)
    _wait("the policy blocks pod A -> pod B", lambda: _wget(f"/proc/{pid}/ns/net", target) is None, timeout=30)
    cluster.kubectl("delete", "networkpolicy", "deny", "-n", "spread")
    _wait("pod A reaches pod B again", lambda: _wget(f"/proc/{pid}/ns/net", target), timeout=30)


def _index(cluster: Cluster, node_name: str) -> int:
    index: int = next(n["index"] for n in cluster.summary["nodes"] if n["name"] == node_name)
    return index


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{entry.name}: {cmdline!r}")
    return found


def test_down_leaves_nothing_behind(cluster: Cluster) -> None:
    cluster.kubeplane("down", "--name", cluster.name)
    assert _processes_mentioning(str(cluster.root)) == []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert [line for line in netns.splitlines() if line.startswith(f"kp-{cluster.name}-")] == []
    assert str(cluster.root) not in Path("/proc/self/mountinfo").read_text()
    assert list(Path("/sys/fs/cgroup").glob(f"*/kp-{cluster.name}")) == []
    assert not cluster.root.exists()
    assert list(Path("/run/kubeplane").glob(f"{cluster.name}-*")) == []  # containerd's sockets
    # The root namespace's links, routes, rules, forwarding and iptables are exactly as before `up`.
    assert root_netns_snapshot() == cluster.root_before
