"""Issue 7's acceptance on `kubeplane up --nodes 3` (root only): three EKS-style nodes in zones a, b
and c, pods pinned one per node reaching each other by pod IP across zones, busybox `nslookup`
inside a pod resolving a Service to its ClusterIP, and a node out of pod addresses telling the
Pod why in a FailedCreatePodSandBox Event.

The nodes are t3.nano instances: 2 ENIs of 2 addresses each, so 2 pod IPs (max pods 4, because
EKS's formula keeps 2 slots for host-network pods). The kubelet admits a third pod on a node, and
ipamd has no address left for it: a real exhaustion, not a mocked one.

The helpers (the `kubeplane` runner, the Cluster handle, waits) are test_cli_nodes.py's.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from netns_testlib import root_netns_snapshot
from test_cli_nodes import Cluster, _kubeplane, _subnet_of_zone, _wait
from test_cli_nodes import pytestmark as nodes_pytestmark
from test_cli_nodes import test_down_leaves_nothing_behind as check_down_leaves_nothing_behind

from kubeplane.cli.demo import find_kubectl

pytestmark = nodes_pytestmark
pytest.importorskip("kubeplane.apiserver.app", reason="needs the API server")

INSTANCE_TYPE = "t3.nano"
POD_IPS_PER_NODE = 2  # 2 ENIs x (2 addresses - the ENI's primary)
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
NAMESPACE = "zones"
NO_ADDRESS = "failed to assign an IP address to container"  # aws-vpc-cni's wording, from ipamd


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = Path(tmp_path_factory.mktemp("kpz"))
    name = f"kpz{secrets.token_hex(3)}"
    root_before = root_netns_snapshot()
    started = time.monotonic()
    try:
        done = _kubeplane(home, "up", "--name", name, "--nodes", "3", "--instance-type", INSTANCE_TYPE, "-o", "json")
        elapsed = time.monotonic() - started
        print(f"\nup --nodes 3: all nodes Ready {elapsed:.1f}s after `up` started")
        yield Cluster(name, home, elapsed, json.loads(done.stdout), root_before)
    finally:
        _kubeplane(home, "down", "--name", name, check=False)


def _pod(name: str, node: str, command: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name.split("-")[0]}},
        "spec": {
            "nodeName": node,  # pinned: the scheduler plays no part in where it lands
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "localhost/busybox:1.35", "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", command], "ports": [{"containerPort": 8080}]}],
        },
    }


HTTPD = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"


def _apply(cluster: Cluster, *objects: dict[str, Any]) -> None:
    # Separate YAML documents: `kubectl apply` of a v1 List asks for an OpenAPI document the API
    # server does not serve ("unable to respond with a content type that the client supports").
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def _nodes_by_zone(cluster: Cluster) -> dict[str, str]:
    return {n["metadata"]["labels"]["topology.kubernetes.io/zone"]: n["metadata"]["name"]
            for n in cluster.get("nodes")["items"]}


def _running(cluster: Cluster, names: list[str]) -> list[dict[str, Any]] | None:
    pods = {p["metadata"]["name"]: p for p in cluster.get("pods", "-n", NAMESPACE)["items"]}
    wanted = [pods.get(name) for name in names]
    if all(p is not None and p["status"].get("phase") == "Running" and p["status"].get("podIP") for p in wanted):
        return [p for p in wanted if p is not None]
    return None


def test_three_nodes_in_three_zones(cluster: Cluster) -> None:
    nodes = cluster.get("nodes")["items"]
    assert len(nodes) == 3
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", node["metadata"]["name"]
        assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == INSTANCE_TYPE
        assert node["status"]["capacity"]["pods"] == str(POD_IPS_PER_NODE + 2)
    assert sorted(_nodes_by_zone(cluster)) == list(ZONES)


def test_pods_reach_each_other_across_zones_and_resolve_services_with_nslookup(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", NAMESPACE)
    by_zone = _nodes_by_zone(cluster)
    names = [f"web-{zone[-1]}" for zone in ZONES]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NAMESPACE},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    _apply(cluster, *[_pod(name, by_zone[zone], HTTPD) for name, zone in zip(names, ZONES, strict=True)], service)
    pods = _wait("one web pod Running on each node", lambda: _running(cluster, names), timeout=90)

    # Each pod's address is a secondary IP of its node's ENI, so it lies in its zone's subnet.
    for pod, zone in zip(pods, ZONES, strict=True):
        assert ipaddress.ip_address(pod["status"]["podIP"]) in _subnet_of_zone(cluster, zone)

    # Every pod fetches the next one's page by pod IP: a -> b -> c -> a crosses every zone pair.
    for source, target in zip(pods, pods[1:] + pods[:1], strict=True):
        url = f"http://{target['status']['podIP']}:8080/"

        def fetch(source: dict[str, Any] = source, url: str = url) -> str | None:
            page = _exec(cluster, source["metadata"]["name"], "timeout", "5", "wget", "-q", "-O", "-", url)
            return page.strip() if page else None

        assert _wait(f"{source['metadata']['name']} -> {url}", fetch, timeout=30) == target["metadata"]["name"]

    # busybox nslookup inside a pod, through the pod's resolv.conf (the kube-dns ClusterIP).
    cluster_ip = cluster.get("service", "web", "-n", NAMESPACE)["spec"]["clusterIP"]
    for pod in pods:
        answer = _wait("nslookup answers", lambda pod=pod: _nslookup(cluster, pod["metadata"]["name"],
                                                                      f"web.{NAMESPACE}.svc.cluster.local"), timeout=30)
        assert answer == [cluster_ip], pod["metadata"]["name"]


def _exec(cluster: Cluster, pod: str, *command: str) -> str | None:
    done = subprocess.run([find_kubectl(), f"--kubeconfig={cluster.kubeconfig}", "exec", "-n", NAMESPACE, pod, "--",
                           *command], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout if done.returncode == 0 else None


def _nslookup(cluster: Cluster, pod: str, name: str) -> list[str] | None:
    """The addresses busybox's nslookup prints for ``name`` (after the Server block)."""
    output = _exec(cluster, pod, "timeout", "10", "nslookup", name)
    if output is None or (f"Name:\t{name}" not in output and f"Name: {name}" not in output):
        return None
    answer = output.split(name, 1)[1]
    return [line.split()[-1] for line in answer.splitlines() if line.startswith("Address")] or None


def test_a_node_out_of_addresses_says_so_in_the_pods_event(cluster: Cluster) -> None:
    node = _nodes_by_zone(cluster)[ZONES[0]]
    # web-a holds one of the node's two pod IPs; the first filler takes the other one.
    _apply(cluster, _pod("filler-1", node, "exec sleep 3600"))
    _wait("filler-1 Running", lambda: _running(cluster, ["filler-1"]), timeout=60)
    _apply(cluster, _pod("filler-2", node, "exec sleep 3600"))

    def sandbox_event() -> dict[str, Any] | None:
        events = cluster.get("events", "-n", NAMESPACE, "--field-selector",
                             "involvedObject.name=filler-2,reason=FailedCreatePodSandBox")["items"]
        return events[0] if events else None

    event = _wait("filler-2's FailedCreatePodSandBox event", sandbox_event, timeout=60)
    print(f"\nevent: {event['message']}")
    assert event["type"] == "Warning"
    assert NO_ADDRESS in event["message"]
    assert "room for 2 pod addresses" in event["message"]  # ipamd says why: the node's limit
    pod = cluster.get("pod", "filler-2", "-n", NAMESPACE)
    assert pod["status"].get("phase") == "Pending" and not pod["status"].get("podIP")

    # Freeing an address lets the kubelet's next sandbox attempt succeed.
    cluster.kubectl("delete", "pod", "filler-1", "-n", NAMESPACE, "--wait=true")
    _wait("filler-2 Running once an address is free", lambda: _running(cluster, ["filler-2"]), timeout=90)


def test_down_leaves_nothing_behind(cluster: Cluster) -> None:
    check_down_leaves_nothing_behind(cluster)  # the same checks as for two nodes: processes, netns, mounts, cgroups
