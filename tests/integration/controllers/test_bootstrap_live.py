"""Node TLS bootstrap end to end with a real API server (bootstrap tokens on) and a real
controller manager process (CSR approving and signing): the kubelet's bootstrap code gets a
``system:node:<name>`` certificate with a bootstrap token, reads its own Node with it and
rotates it; the bootstrap signer (in this process) signs cluster-info with the token and the
token cleaner deletes an expired token."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from apiserver_process import APIServerProcess, start_apiserver, stop_apiserver
from controllers_livelib import eventually, running_controllers

from kubeplane.cli.identities import (
    BootstrapToken,
    bootstrap_token_secret,
    cluster_info_objects,
    node_bootstrap_rbac,
    write_bootstrap_kubeconfig,
)
from kubeplane.client import Client, NotFound, Resource, load_kubeconfig
from kubeplane.controllers.bootstrap import (
    BootstrapSignerController,
    TokenCleanerController,
    detached_signature,
)
from kubeplane.controllers.manager import ControllerSpec
from kubeplane.kubelet.certificate import (
    CertificateManager,
    CertificateStore,
    RotatingClientConfig,
    load_client_cert,
)

SECRETS = Resource("", "v1", "secrets", kind="Secret")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
NODES = Resource("", "v1", "nodes", namespaced=False, kind="Node")
SELF_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
# Registered here until the controller manager's registry has them (off by default, as upstream).
BOOTSTRAP_REGISTRY = {
    "bootstrap-signer-controller": ControllerSpec(BootstrapSignerController, aliases=("bootstrapsigner",),
                                                  enabled_by_default=False),
    "token-cleaner-controller": ControllerSpec(TokenCleanerController, aliases=("tokencleaner",),
                                               enabled_by_default=False),
}


@pytest.fixture
def bootstrap_apiserver(apiserver: APIServerProcess, tmp_path: Path) -> Iterator[APIServerProcess]:
    """An API server of its own (a fresh etcd prefix) that accepts bootstrap tokens."""
    server = start_apiserver(tmp_path, apiserver.etcd_url, f"/kp-{uuid.uuid4().hex[:8]}/registry",
                             pki=apiserver.pki, extra=("--enable-bootstrap-token-auth=true",))
    yield server
    stop_apiserver(server)


@pytest.fixture
def csr_controller_manager(bootstrap_apiserver: APIServerProcess, tmp_path: Path) -> Iterator[None]:
    pki = bootstrap_apiserver.pki
    log = tmp_path / "kcm.log"
    argv = [sys.executable, "-m", "kubeplane.controllers.app", f"--kubeconfig={bootstrap_apiserver.kubeconfig}",
            "--controllers=csrapproving,csrsigning", "--leader-elect=false",
            f"--cluster-signing-cert-file={pki.ca_cert}", f"--cluster-signing-key-file={pki.ca_key}",
            f"--log-file={log}"]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    yield
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
async def admin(bootstrap_apiserver: APIServerProcess) -> AsyncIterator[Client]:
    async with Client(load_kubeconfig(bootstrap_apiserver.kubeconfig), component="test") as c:
        yield c


async def create(client: Client, obj: dict[str, Any]) -> None:
    plural = {"Secret": "secrets", "ConfigMap": "configmaps", "Role": "roles", "RoleBinding": "rolebindings",
              "ClusterRoleBinding": "clusterrolebindings"}[obj["kind"]]
    group, _, version = obj["apiVersion"].rpartition("/")
    namespace = obj["metadata"].get("namespace")
    await client.create(Resource(group, version, plural, namespaced=namespace is not None, kind=obj["kind"]), obj,
                        namespace)


async def test_a_kubelet_bootstraps_reads_its_node_and_rotates_while_tokens_are_signed_and_cleaned(
        bootstrap_apiserver: APIServerProcess, csr_controller_manager: None, admin: Client, tmp_path: Path) -> None:
    cluster = SimpleNamespace(name="kpboot", pki=bootstrap_apiserver.pki)
    record = SimpleNamespace(server=bootstrap_apiserver.url)
    token, expired = BootstrapToken.generate(), BootstrapToken.generate()
    now = datetime.now(UTC)
    for obj in [bootstrap_token_secret(token, now + timedelta(hours=1)),
                bootstrap_token_secret(expired, now - timedelta(seconds=1)),
                *node_bootstrap_rbac(), *cluster_info_objects(cluster, record)]:  # type: ignore[arg-type]
        await create(admin, obj)
    bootstrap = write_bootstrap_kubeconfig(cluster, record, token, tmp_path / "bootstrap.kubeconfig")  # type: ignore[arg-type]

    async with running_controllers(bootstrap_apiserver, list(BOOTSTRAP_REGISTRY), BOOTSTRAP_REGISTRY):
        node = "ip-198-18-0-9.ec2.internal"
        kubeconfig, cert_dir = tmp_path / "kubelet.kubeconfig", tmp_path / "pki"
        async with asyncio.timeout(60):  # it retries forever, as a kubelet should
            config = await load_client_cert(kubeconfig, bootstrap, cert_dir, node)
        assert (cert_dir / "kubelet-client-current.pem").is_symlink() and kubeconfig.exists()
        rotating = RotatingClientConfig.of(config)
        async with Client(rotating, component="kubelet") as kubelet:
            review = await kubelet.request("POST", SELF_REVIEWS, body={
                "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
            user = review["status"]["userInfo"]
            assert user["username"] == f"system:node:{node}" and "system:nodes" in user["groups"]
            await kubelet.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
            assert (await kubelet.get(NODES, node))["metadata"]["name"] == node

            # Rotation: a fresh CSR made as the node itself, approved as selfnodeclient.
            store = CertificateStore(cert_dir)
            before = store.current()
            assert before is not None and rotating.tls is not None
            rotated = await CertificateManager(kubelet, store, node, rotating.tls).rotate()
            assert rotated.certificate.serial_number != before.certificate.serial_number
            assert len(list(cert_dir.glob("kubelet-client-2*.pem"))) == 2
            assert (await kubelet.get(NODES, node))["metadata"]["name"] == node
        # A kubelet restarted now finds a usable kubeconfig and does not bootstrap again.
        again = await load_client_cert(kubeconfig, bootstrap, cert_dir, node)
        assert again.client_cert_data is not None and rotated.cert_pem in again.client_cert_data

        async def signed() -> bool:
            data = (await admin.get(CONFIGMAPS, "cluster-info", "kube-public")).get("data") or {}
            return data.get(f"jws-kubeconfig-{token.id}") == detached_signature(data["kubeconfig"], token.id,
                                                                                 token.secret)

        async def expired_deleted() -> bool:
            try:
                await admin.get(SECRETS, f"bootstrap-token-{expired.id}", "kube-system")
            except NotFound:
                return True
            return False

        await eventually(signed, "cluster-info signed with the bootstrap token")
        await eventually(expired_deleted, "the expired bootstrap token deleted")
        data = (await admin.get(CONFIGMAPS, "cluster-info", "kube-public"))["data"]
        assert f"jws-kubeconfig-{expired.id}" not in data
        await admin.get(SECRETS, f"bootstrap-token-{token.id}", "kube-system")  # the live one stays
