"""The real controller manager process as ``system:kube-controller-manager`` (not in system:masters)
with ``--use-service-account-credentials``: every controller writes with its own kube-system
service account's token, and RBAC's ``system:controller:*`` roles are enough for the work.

The API server here writes an audit log, which names the user behind every request: that is the
evidence of who made each write, and of any request RBAC refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import APIServerProcess, start_apiserver, stop_apiserver
from controllers_livelib import eventually

from kubeplane.client import Client, NotFound, Resource, load_kubeconfig
from kubeplane.client.resource import (
    CONFIGMAPS,
    DEPLOYMENTS,
    JOBS,
    NAMESPACES,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICASETS,
    SERVICEACCOUNTS,
    SERVICES,
    STATEFULSETS,
)
from kubeplane.component.pki import issue_client_cert, read_certified_key, write_certified_key

JSON = dict[str, Any]
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
SA_PREFIX = "system:serviceaccount:kube-system:"

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
"""


@pytest.fixture(scope="module")
def audited(etcd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[APIServerProcess, Path]]:
    """An API server of its own (fresh etcd prefix) that audits every request at Metadata level."""
    workdir = tmp_path_factory.mktemp("cm-sa")
    policy = workdir / "audit-policy.yaml"
    policy.write_text(AUDIT_POLICY)
    log = workdir / "audit" / "audit.log"
    server = start_apiserver(workdir, etcd_url, f"/kp-{uuid.uuid4().hex[:8]}/registry",
                             extra=(f"--audit-policy-file={policy}", f"--audit-log-path={log}"))
    try:
        yield server, log
    finally:
        stop_apiserver(server)


def write_cm_kubeconfig(server: APIServerProcess, directory: Path) -> Path:
    """A kubeconfig for system:kube-controller-manager with no groups (so not system:masters)."""
    ca = read_certified_key(server.pki.ca_cert, server.pki.ca_key)
    cert, key = directory / "kcm.crt", directory / "kcm.key"
    write_certified_key(issue_client_cert(ca, CONTROLLER_MANAGER_USER), cert, key)
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "kcm",
        "clusters": [{"name": "c", "cluster": {"server": server.url, "certificate-authority": str(server.pki.ca_cert)}}],
        "users": [{"name": "kcm", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "kcm", "context": {"cluster": "c", "user": "kcm"}}],
    }
    path = directory / "kcm.kubeconfig"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def controller_manager(audited: tuple[APIServerProcess, Path],
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The controller manager process with per-controller credentials; yields its log file."""
    server, _ = audited
    workdir = tmp_path_factory.mktemp("kcm")
    log = workdir / "controller-manager.log"
    # Every controller, so the audit log shows whether each one's role covers what it does.
    argv = [sys.executable, "-m", "kubeplane.controllers.app", f"--kubeconfig={write_cm_kubeconfig(server, workdir)}",
            "--use-service-account-credentials", "--leader-elect=false", "--controllers=*",
            f"--root-ca-file={server.pki.ca_cert}", f"--cluster-signing-cert-file={server.pki.ca_cert}",
            f"--cluster-signing-key-file={server.pki.ca_key}", f"--log-file={log}"]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        yield log
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
async def admin(audited: tuple[APIServerProcess, Path]) -> AsyncIterator[Client]:
    async with Client(load_kubeconfig(audited[0].kubeconfig), component="test") as c:
        yield c


def audit_events(log: Path) -> list[JSON]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


async def audited_write(log: Path, resource: str, verb: str, namespace: str, user: str,
                        subresource: str | None = None) -> JSON:
    """The first audit event of ``user`` doing ``verb`` on ``resource`` in ``namespace``."""
    async def find() -> JSON | None:
        for event in audit_events(log):
            ref = event.get("objectRef") or {}
            if (event["verb"] == verb and ref.get("resource") == resource and ref.get("namespace") == namespace
                    and ref.get("subresource") == subresource and event["user"]["username"] == user):
                return event
        return None
    found: JSON = await eventually(find, f"{user} to {verb} {resource} in {namespace} (audit log)", timeout=30)
    return found


def pod_template(labels: dict[str, str], restart_policy: str = "Always") -> JSON:
    return {"metadata": {"labels": labels},
            "spec": {"restartPolicy": restart_policy,
                     "containers": [{"name": "c", "image": "localhost/busybox:1.35", "ports": [{"containerPort": 80}]}]}}


def deployment(name: str, replicas: int) -> JSON:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": pod_template(labels)}}


CLAIM_TEMPLATE = {"metadata": {"name": "data"},
                  "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
RESOURCEQUOTAS = Resource("", "v1", "resourcequotas", kind="ResourceQuota")


async def new_namespace(admin: Client) -> str:
    name = f"sa-{uuid.uuid4().hex[:8]}"
    await admin.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def test_controllers_write_as_their_service_accounts(
        audited: tuple[APIServerProcess, Path], controller_manager: Path, admin: Client) -> None:
    _, log = audited
    ns = await new_namespace(admin)
    await admin.create(DEPLOYMENTS, deployment("web", 2), namespace=ns)

    async def two_pods() -> bool:
        return len((await admin.list(PODS, ns))["items"]) == 2
    await eventually(two_pods, "the Deployment's two pods")

    await audited_write(log, "replicasets", "create", ns, SA_PREFIX + "deployment-controller")
    await audited_write(log, "pods", "create", ns, SA_PREFIX + "replicaset-controller")
    await audited_write(log, "serviceaccounts", "create", ns, SA_PREFIX + "service-account-controller")
    # The manager itself only asked for the tokens (and created the accounts).
    await audited_write(log, "serviceaccounts", "create", "kube-system", CONTROLLER_MANAGER_USER, subresource="token")
    for account in ("deployment-controller", "replicaset-controller", "generic-garbage-collector"):
        await admin.get(SERVICEACCOUNTS, account, "kube-system")

    # Deleting the Deployment leaves its ReplicaSet to the garbage collector.
    await admin.delete(DEPLOYMENTS, "web", ns, propagation_policy="Background")

    async def no_replicasets() -> bool:
        return not (await admin.list(REPLICASETS, ns))["items"]
    await eventually(no_replicasets, "the garbage collector to delete the ReplicaSet")
    await audited_write(log, "replicasets", "delete", ns, SA_PREFIX + "generic-garbage-collector")


async def test_namespace_deletion_completes_as_the_namespace_controller(
        audited: tuple[APIServerProcess, Path], controller_manager: Path, admin: Client) -> None:
    _, log = audited
    ns = await new_namespace(admin)
    await admin.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}, namespace=ns)
    await admin.delete(NAMESPACES, ns)

    async def gone() -> bool:
        try:
            await admin.get(NAMESPACES, ns)
        except NotFound:
            return True
        return False
    await eventually(gone, f"namespace {ns} to be deleted")
    await audited_write(log, "configmaps", "deletecollection", ns, SA_PREFIX + "namespace-controller")


async def test_more_controllers_act_as_their_service_accounts(
        audited: tuple[APIServerProcess, Path], controller_manager: Path, admin: Client) -> None:
    """Objects that set endpoints, job, statefulset, disruption, quota and root-CA controllers to work."""
    _, log = audited
    ns = await new_namespace(admin)
    labels = {"app": "set"}
    await admin.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "set"},
                                  "spec": {"selector": labels, "ports": [{"port": 80}]}}, namespace=ns)
    await admin.create(STATEFULSETS, {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "set"},
                                      "spec": {"replicas": 1, "serviceName": "set", "selector": {"matchLabels": labels},
                                               "template": pod_template(labels),
                                               "volumeClaimTemplates": [CLAIM_TEMPLATE],
                                               # claims owned by the set: the controller writes their owners
                                               "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}},
                       namespace=ns)
    await admin.create(JOBS, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
                              "spec": {"template": pod_template({"job": "once"}, "Never")}}, namespace=ns)
    await admin.create(PODDISRUPTIONBUDGETS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                              "metadata": {"name": "set"},
                                              "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}}},
                       namespace=ns)
    await admin.create(RESOURCEQUOTAS, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                                        "spec": {"hard": {"pods": "10"}}}, namespace=ns)

    await audited_write(log, "pods", "create", ns, SA_PREFIX + "statefulset-controller")
    await audited_write(log, "persistentvolumeclaims", "create", ns, SA_PREFIX + "statefulset-controller")
    await audited_write(log, "pods", "create", ns, SA_PREFIX + "job-controller")
    await audited_write(log, "endpoints", "create", ns, SA_PREFIX + "endpoint-controller")
    await audited_write(log, "endpointslices", "create", ns, SA_PREFIX + "endpointslice-controller")
    await audited_write(log, "poddisruptionbudgets", "update", ns, SA_PREFIX + "disruption-controller",
                        subresource="status")
    await audited_write(log, "resourcequotas", "update", ns, SA_PREFIX + "resourcequota-controller",
                        subresource="status")
    await audited_write(log, "configmaps", "create", ns, SA_PREFIX + "root-ca-cert-publisher")


async def test_no_controller_request_was_forbidden(
        audited: tuple[APIServerProcess, Path], controller_manager: Path) -> None:
    """Runs after the others in this module: whatever the controllers did, RBAC allowed it."""
    _, log = audited
    forbidden = {(e["user"]["username"].removeprefix(SA_PREFIX), e["verb"], (e.get("objectRef") or {}).get("resource"))
                 for e in audit_events(log)
                 if (e.get("responseStatus") or {}).get("code") == 403
                 and e["user"]["username"].startswith((SA_PREFIX, CONTROLLER_MANAGER_USER))}
    assert forbidden == set()
