"""The built-in admission plugins through a real API server: ServiceAccount token volumes,
LimitRanger defaults and bounds, ResourceQuota (atomic under concurrent creates), PodSecurity,
Priority, DefaultTolerationSeconds, DefaultStorageClass, NamespaceLifecycle and NodeRestriction with
the Node authorizer."""

from __future__ import annotations

import concurrent.futures
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from apiserver_process import APIServerProcess, start_apiserver, stop_apiserver

from kubeplane.component import pki

pytestmark = pytest.mark.integration


# -- helpers (the webhook tests use them too) ---------------------------------------------------------
def new_namespace(server: APIServerProcess, labels: dict[str, str] | None = None,
                  service_account: bool = True) -> str:
    name = f"adm-{uuid.uuid4().hex[:8]}"
    status, body, _ = server.request("POST", "/api/v1/namespaces",
                                     {"metadata": {"name": name, "labels": labels or {}}})
    assert status == 201, body
    if service_account:
        status, body, _ = server.request("POST", f"/api/v1/namespaces/{name}/serviceaccounts",
                                         {"metadata": {"name": "default"}})
        assert status == 201, body
    return name


def pod(name: str, **spec: Any) -> dict[str, Any]:
    labels = spec.pop("labels", {})
    container = {"name": "c", "image": "busybox", **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [container], **spec}}


def create_pod(server: APIServerProcess, namespace: str, body: dict[str, Any],
               query: str = "") -> tuple[int, Any, dict[str, str]]:
    return server.request("POST", f"/api/v1/namespaces/{namespace}/pods{query}", body)


class ClientAs:
    """Raw HTTPS as another identity, with a client certificate signed by the cluster CA."""

    def __init__(self, server: APIServerProcess, directory: Path, user: str, groups: list[str]) -> None:
        self.server = server
        ca = pki.read_certified_key(server.pki.ca_cert, server.pki.ca_key)
        leaf = pki.issue_client_cert(ca, user, groups)
        self.cert, self.key = directory / f"{uuid.uuid4().hex[:6]}.crt", directory / f"{uuid.uuid4().hex[:6]}.key"
        pki.write_certified_key(leaf, self.cert, self.key)

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> tuple[int, Any]:
        context = ssl.create_default_context(cafile=str(self.server.pki.ca_cert))
        context.load_cert_chain(str(self.cert), str(self.key))
        data = orjson.dumps(body) if body is not None else None
        req = urllib.request.Request(self.server.url + path, data=data, method=method,
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, context=context, timeout=30) as resp:
                return resp.status, orjson.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, orjson.loads(err.read())


@pytest.fixture(scope="module")
def server(etcd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServerProcess]:
    workdir = tmp_path_factory.mktemp("admission")
    process = start_apiserver(workdir, etcd_url, f"/kp-{uuid.uuid4().hex[:8]}/registry",
                              extra=("--enable-admission-plugins=NodeRestriction",))
    yield process
    stop_apiserver(process)


def test_service_account_token_volume_and_pod_defaults(server: APIServerProcess) -> None:
    ns = new_namespace(server, service_account=False)
    status, body, _ = create_pod(server, ns, pod("p"))
    assert status == 403, body
    assert body["message"] == (f'pods "p" is forbidden: error looking up service account {ns}/default: '
                               'serviceaccount "default" not found')
    server.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "default"}})
    body = pod("p", initContainers=[{"name": "init", "image": "busybox"}])
    status, created, _ = create_pod(server, ns, body)
    assert status == 201, created
    spec = created["spec"]
    assert spec["serviceAccountName"] == "default"
    [volume] = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(volume["name"]) == len("kube-api-access-") + 5
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    for container in spec["containers"] + spec["initContainers"]:
        assert {"name": volume["name"], "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"} in container["volumeMounts"]
    # DefaultTolerationSeconds and Priority ran too.
    assert {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 300} in spec["tolerations"]
    assert spec["priority"] == 0
    # On update too: a PUT whose tolerations leave the defaults out gets them back (upstream), so an
    # apply of the original manifest does not fail "existing toleration can not be modified".
    status, updated, _ = server.request("PUT", f"/api/v1/namespaces/{ns}/pods/p",
                                        {**created, "spec": {**spec, "tolerations": []}})
    assert status == 200, updated
    assert {t["key"] for t in updated["spec"]["tolerations"]} == {"node.kubernetes.io/not-ready",
                                                                  "node.kubernetes.io/unreachable"}

    server.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                   {"metadata": {"name": "quiet"}, "automountServiceAccountToken": False})
    status, created, _ = create_pod(server, ns, pod("q", serviceAccountName="quiet"))
    assert status == 201, created
    assert not any(v["name"].startswith("kube-api-access-") for v in created["spec"].get("volumes") or ())


def test_limit_range_defaults_and_bounds(server: APIServerProcess) -> None:
    ns = new_namespace(server)
    server.kubectl("apply", "-n", ns, "-f", "-", input="""
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 128Mi}
    defaultRequest: {cpu: 100m}
    max: {cpu: "1"}
""")
    status, created, _ = create_pod(server, ns, pod("defaulted"))
    assert status == 201, created
    resources = created["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "500m", "memory": "128Mi"},
                         "requests": {"cpu": "100m", "memory": "128Mi"}}
    assert "kubernetes.io/limit-ranger" in created["metadata"]["annotations"]
    status, body, _ = create_pod(server, ns, pod("big", container={"resources": {"limits": {"cpu": "2"}}}))
    assert status == 403, body
    assert body["message"] == 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'


def test_quota_is_charged_atomically_under_concurrent_creates(server: APIServerProcess) -> None:
    ns = new_namespace(server)
    server.kubectl("create", "quota", "q", "-n", ns, "--hard=pods=5,configmaps=3")

    def create(index: int) -> int:
        return create_pod(server, ns, pod(f"p{index}"))[0]

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(create, range(20)))
    assert sorted(codes) == [201] * 5 + [403] * 15
    status, pods, _ = server.request("GET", f"/api/v1/namespaces/{ns}/pods")
    assert len(pods["items"]) == 5
    status, body, _ = create_pod(server, ns, pod("extra"))
    assert status == 403
    assert body["message"] == ('pods "extra" is forbidden: exceeded quota: q, requested: pods=1, used: pods=5, '
                               "limited: pods=5")
    status, quota, _ = server.request("GET", f"/api/v1/namespaces/{ns}/resourcequotas/q")
    assert quota["status"]["used"]["pods"] == "5"


def test_quota_on_compute_needs_requests(server: APIServerProcess) -> None:
    ns = new_namespace(server)
    server.kubectl("create", "quota", "compute", "-n", ns, "--hard=requests.cpu=1")
    status, body, _ = create_pod(server, ns, pod("bare"))
    assert status == 403
    assert body["message"] == 'pods "bare" is forbidden: failed quota: compute: must specify requests.cpu for: c'
    status, body, _ = create_pod(server, ns, pod("fits", container={"resources": {"requests": {"cpu": "600m"}}}))
    assert status == 201, body
    # A dry run is checked against the quota but charges nothing.
    status, body, _ = create_pod(server, ns, pod("dry", container={"resources": {"requests": {"cpu": "300m"}}}),
                                 "?dryRun=All")
    assert status == 201, body
    status, body, _ = create_pod(server, ns, pod("over", container={"resources": {"requests": {"cpu": "600m"}}}))
    assert status == 403
    assert body["message"] == ('pods "over" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
                               "used: requests.cpu=600m, limited: requests.cpu=1")


def test_pod_security_enforce_and_warn(server: APIServerProcess) -> None:
    ns = new_namespace(server, {"pod-security.kubernetes.io/enforce": "baseline",
                                "pod-security.kubernetes.io/warn": "restricted"})
    status, body, _ = create_pod(server, ns, pod("priv", container={"securityContext": {"privileged": True}}))
    assert status == 403, body
    assert body["message"] == ('pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged '
                               '(container "c" must not set securityContext.privileged=true)')
    status, body, headers = create_pod(server, ns, pod("plain"))
    assert status == 201, body
    assert 'would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != false' in \
        headers.get("Warning", "")
    result = server.kubectl("run", "viakubectl", "-n", ns, "--image=busybox")
    assert 'would violate PodSecurity "restricted:latest"' in result.stderr


def test_priority_classes(server: APIServerProcess) -> None:
    ns = new_namespace(server)
    status, body, _ = server.request("GET", "/apis/scheduling.k8s.io/v1/priorityclasses/system-node-critical")
    assert status == 200 and body["value"] == 2000001000
    name = f"high-{uuid.uuid4().hex[:6]}"
    status, body, _ = server.request("POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
                                     {"metadata": {"name": name}, "value": 1000})
    assert status == 201, body
    status, created, _ = create_pod(server, ns, pod("important", priorityClassName=name))
    assert status == 201 and created["spec"]["priority"] == 1000
    status, body, _ = create_pod(server, ns, pod("lost", priorityClassName="nope"))
    assert status == 403
    assert body["message"] == 'pods "lost" is forbidden: no PriorityClass with name nope was found'


def test_default_storage_class(server: APIServerProcess) -> None:
    ns = new_namespace(server)
    name = f"gp-{uuid.uuid4().hex[:6]}"
    server.kubectl("apply", "-f", "-", input=f"""
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {name}
  annotations: {{storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: ebs.csi.aws.com
""")
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}
    status, created, _ = server.request("POST", f"/api/v1/namespaces/{ns}/persistentvolumeclaims", claim)
    assert status == 201, created
    assert created["spec"]["storageClassName"] == name
    server.kubectl("delete", "storageclass", name)


def test_namespace_lifecycle(server: APIServerProcess) -> None:
    status, body, _ = server.request("DELETE", "/api/v1/namespaces/kube-system")
    assert status == 403
    assert body["message"] == 'namespaces "kube-system" is forbidden: this namespace may not be deleted'
    ns = new_namespace(server)
    status, body, _ = server.request("DELETE", f"/api/v1/namespaces/{ns}")
    assert status == 200, body
    status, body, _ = server.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "late"}})
    assert status == 403
    assert body["message"] == (f'configmaps "late" is forbidden: unable to create new content in namespace {ns} '
                               "because it is being terminated")
    assert body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    status, body, _ = server.request("POST", "/api/v1/namespaces/missing-ns/configmaps", {"metadata": {"name": "x"}})
    assert status == 404 and body["message"] == 'namespaces "missing-ns" not found'


def test_node_restriction_and_node_authorizer(server: APIServerProcess, tmp_path: Path) -> None:
    ns = new_namespace(server)
    for node in ("n1", "n2"):
        server.request("POST", "/api/v1/nodes", {"metadata": {"name": f"{node}-{ns}"}})
    for index, node in enumerate(("n1", "n2")):
        server.request("POST", f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": f"s{index}"}})
        body = pod(f"p{index}", nodeName=f"{node}-{ns}", volumes=[{"name": "s", "secret": {"secretName": f"s{index}"}}])
        status, created, _ = create_pod(server, ns, body)
        assert status == 201, created
    kubelet = ClientAs(server, tmp_path, f"system:node:n1-{ns}", ["system:nodes"])
    status, _ = kubelet.request("GET", f"/api/v1/namespaces/{ns}/secrets/s0")
    assert status == 200
    status, body = kubelet.request("GET", f"/api/v1/namespaces/{ns}/secrets/s1")
    assert status == 403
    assert f"no relationship found between node 'n1-{ns}' and this object" in body["message"]
    # Its own node: fine; another node, or a restricted label on its own: refused.
    status, body = kubelet.request("PATCH", f"/api/v1/nodes/n1-{ns}", {"metadata": {"labels": {"team": "a"}}},
                                   "application/merge-patch+json")
    assert status == 200, body
    status, body = kubelet.request("PATCH", f"/api/v1/nodes/n2-{ns}", {"metadata": {"labels": {"team": "a"}}},
                                   "application/merge-patch+json")
    assert status == 403
    assert body["message"] == f'nodes "n2-{ns}" is forbidden: node "n1-{ns}" is not allowed to modify node "n2-{ns}"'
    status, body = kubelet.request("PATCH", f"/api/v1/nodes/n1-{ns}",
                                   {"metadata": {"labels": {"node-restriction.kubernetes.io/x": "y"}}},
                                   "application/merge-patch+json")
    assert status == 403
    assert "is not allowed to modify labels: node-restriction.kubernetes.io/x" in body["message"]
    status, body = kubelet.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("rogue", nodeName=f"n1-{ns}"))
    assert status == 403
    assert 'can only create mirror pods' in body["message"]
