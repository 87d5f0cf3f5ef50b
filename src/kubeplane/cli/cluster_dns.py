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

from kubeplane.cli import kubeconfig_file
from kubeplane.cli.state import ClusterPaths, ClusterRecord, ComponentRecord, NodeRecord, save_record
from kubeplane.component import etcd, process
from kubeplane.component.pki import issue_client_cert, read_certified_key, write_certified_key

Progress = Callable[[str], None]

DNS_USER = "system:coredns"
REPLICAS = 2
DNS_PORT = 53
SLICE_MANAGER = "kubeplane-cluster-dns"  # a label value: no slash
_LABELS = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS", "eks.amazonaws.com/component": "kube-dns"}
_PORTS = [("dns", "UDP"), ("dns-tcp", "TCP")]


def cluster_dns_objects(cluster_ip: str, replicas: list[NodeRecord]) -> list[tuple[str, str, dict[str, Any]]]:
    """(resource path, namespace, object) for the RBAC, the Service and its EndpointSlice."""
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": DNS_USER, "labels": {"eks.amazonaws.com/component": "coredns"}},
            "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                       "verbs": ["list", "watch"]},
                      {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                       "verbs": ["list", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": DNS_USER},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": DNS_USER},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": DNS_USER}]}
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
    return [("/apis/rbac.authorization.k8s.io/v1/clusterroles", "", role),
            ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "", binding),
            ("/api/v1/namespaces/kube-system/services", "kube-system", service),
            ("/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices", "kube-system", endpoints)]


async def start_cluster_dns(paths: ClusterPaths, record: ClusterRecord, cluster_ip: str, progress: Progress) -> None:
    from kubeplane.network.vpc import names

    replicas = record.workerNodes[:REPLICAS]
    if not replicas:
        return
    tls = process.ClientTLS(paths.pki.ca_cert, paths.pki.admin_cert, paths.pki.admin_key)
    for path, _, obj in cluster_dns_objects(cluster_ip, replicas):
        status, body = await process.https_post(f"{record.server}{path}", tls, obj)
        if status not in (201, 409):  # 409: already there (a re-run of `up`)
            from kubeplane.cli.nodes import NodeStartError

            raise NodeStartError(f"cluster DNS: creating {obj['kind']} failed ({status}): {body[:300]}")
    kubeconfig = _write_dns_kubeconfig(paths, record)
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


def _write_dns_kubeconfig(paths: ClusterPaths, record: ClusterRecord) -> Any:
    pki = paths.pki
    ca = read_certified_key(pki.ca_cert, pki.ca_key)
    write_certified_key(issue_client_cert(ca, DNS_USER), pki.component_cert("coredns"), pki.component_key("coredns"))
    path = paths.component_kubeconfig("coredns")
    kubeconfig_file.write(path, kubeconfig_file.client_kubeconfig(
        paths.name, record.server, pki, pki.component_cert("coredns"), pki.component_key("coredns")))
    return path
