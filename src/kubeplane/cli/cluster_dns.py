"""Cluster DNS for ``kubeplane up --nodes N``: what the EKS CoreDNS add-on provides.

Two replicas of ``kubeplane dns`` (one on each of the first two nodes) serve inside their node's
network namespace on the node's address, port 53. The ``kube-system/kube-dns`` Service keeps the
address every kubelet hands to pods (``--cluster-dns``); it has no selector because the replicas
are node processes rather than pods, so its EndpointSlice is written here with the nodes'
addresses, and kube-proxy on every node DNATs the Service to them. The servers read the API as
``system:coredns`` with the add-on's ClusterRole.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from kubeplane.cli.identities import cluster_role_for_user, component_kubeconfig, create_objects
from kubeplane.cli.state import ClusterPaths, ClusterRecord, ComponentRecord, NodeRecord, save_record
from kubeplane.component import etcd, process

Progress = Callable[[str], None]

DNS_USER = "system:coredns"
REPLICAS = 2
DNS_PORT = 53
SLICE_MANAGER = "kubeplane-cluster-dns"  # a label value: no slash
_LABELS = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS", "eks.amazonaws.com/component": "kube-dns"}
_PORTS = [("dns", "UDP"), ("dns-tcp", "TCP")]


def cluster_dns_objects(cluster_ip: str, replicas: list[NodeRecord]) -> list[dict[str, Any]]:
    """The RBAC, the Service and its EndpointSlice."""
    rbac = cluster_role_for_user(DNS_USER, [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}],
        labels={"eks.amazonaws.com/component": "coredns"})
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": _LABELS},
               "spec": {"clusterIP": cluster_ip,
                        "ports": [{"name": name, "port": DNS_PORT, "protocol": protocol, "targetPort": DNS_PORT}
                                  for name, protocol in _PORTS]}}
    endpoints = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                 "metadata": {"name": "kube-dns-nodes", "namespace": "kube-system",
                              "labels": {"kubernetes.io/service-name": "kube-dns",
                                         "endpointslice.kubernetes.io/managed-by": SLICE_MANAGER}},
                 "addressType": "IPv4",
                 "endpoints": [{"addresses": [node.ip], "conditions": {"ready": True}, "nodeName": node.name,
                                "zone": node.zone} for node in replicas],
                 "ports": [{"name": name, "port": DNS_PORT, "protocol": protocol} for name, protocol in _PORTS]}
    return [*rbac, service, endpoints]


async def start_cluster_dns(paths: ClusterPaths, record: ClusterRecord, cluster_ip: str, progress: Progress) -> None:
    from kubeplane.network.vpc import names

    replicas = record.workerNodes[:REPLICAS]
    if not replicas:
        return
    await create_objects(paths, record, cluster_dns_objects(cluster_ip, replicas), "cluster DNS")
    kubeconfig = component_kubeconfig(paths, record, "coredns", DNS_USER)
    taken = {port for component in record.components for port in component.ports.values()}
    for node in replicas:
        health = etcd.free_port()
        while health in taken:
            health = etcd.free_port()
        taken.add(health)
        name = f"dns-{node.index}"
        started = process.start(name, [
            sys.executable, "-m", "kubeplane.cli", "dns", f"--kubeconfig={kubeconfig}",
            f"--netns={names.netns_path(node.netns)}", f"--listen={node.ip}:{DNS_PORT}",
            f"--health-port={health}"], paths.logs, paths.run)
        record.components.append(ComponentRecord(name, "dns", f"udp://{node.ip}:{DNS_PORT}", {"health": health},
                                                 started.pid, node.name))
        save_record(paths, record)
        await process.wait_ready(started, process.wait_http_ready(f"http://127.0.0.1:{health}/ready", 60.0),
                                 paths.logfile(name), 60.0)
        progress(f"{name}: cluster DNS ready on {node.ip}:{DNS_PORT} in {node.name} (pid {started.pid})")
    progress(f"kube-system/kube-dns at {cluster_ip} resolves *.{'cluster.local'} for pods")
