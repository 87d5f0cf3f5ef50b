"""What ``kubeplane up`` gives the processes it runs beside the control plane: a client certificate
and kubeconfig per identity, the RBAC that identity needs, and other objects created once.

Kubelets are the exception, as with kubeadm and EKS: they get a bootstrap token (a Secret in
kube-system), the RBAC that lets its holders ask for node certificates and have them approved,
and a bootstrap kubeconfig; each kubelet then obtains its own ``system:node:<name>`` certificate
through a CSR (``kubelet/certificate``)."""

from __future__ import annotations

import asyncio
import base64
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubeplane.cli import kubeconfig_file
from kubeplane.cli.state import ClusterPaths, ClusterRecord
from kubeplane.component import process
from kubeplane.component.pki import issue_client_cert, read_certified_key, write_certified_key
from kubeplane.machinery import bootstraptoken

JSON = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"

BOOTSTRAPPERS_GROUP = "system:bootstrappers"
# kubeadm's extra group for node tokens, with our name in place of "kubeadm".
NODE_TOKEN_GROUP = "system:bootstrappers:kubeplane:default-node-token"
NODES_GROUP = "system:nodes"
BOOTSTRAP_TOKEN_TTL = timedelta(hours=24)  # kubeadm's default token TTL
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


class ObjectCreateError(Exception):
    """The API server refused an object ``up`` creates (the message has its answer)."""


def write_client_kubeconfig(paths: ClusterPaths, record: ClusterRecord, cert: Path, key: Path, kubeconfig: Path,
                            user: str, groups: Sequence[str] = ()) -> Path:
    """Issue ``user``'s client certificate (in ``groups``) from the cluster CA and a kubeconfig using it."""
    pki = paths.pki
    ca = read_certified_key(pki.ca_cert, pki.ca_key)
    write_certified_key(issue_client_cert(ca, user, list(groups)), cert, key)
    kubeconfig_file.write(kubeconfig, kubeconfig_file.client_kubeconfig(paths.name, record.server, pki, cert, key))
    return kubeconfig


def component_kubeconfig(paths: ClusterPaths, record: ClusterRecord, component: str, user: str) -> Path:
    """A cluster-wide component's identity, kept beside the other component certificates."""
    pki = paths.pki
    return write_client_kubeconfig(paths, record, pki.component_cert(component), pki.component_key(component),
                                   paths.component_kubeconfig(component), user)


def cluster_role_for_user(user: str, rules: list[JSON], labels: dict[str, str] | None = None) -> list[JSON]:
    """A ClusterRole named after ``user`` with ``rules`` and the ClusterRoleBinding granting it."""
    metadata: JSON = {"name": user, **({"labels": labels} if labels else {})}
    role = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": metadata, "rules": rules}
    binding = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": user},
               "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": user},
               "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user}]}
    return [role, binding]


@dataclass(frozen=True)
class BootstrapToken:
    """``<id>.<secret>`` as bootstrap tokens are written (6 and 16 of [a-z0-9])."""

    id: str
    secret: str

    @classmethod
    def generate(cls) -> BootstrapToken:
        def pick(count: int) -> str:
            return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(count))
        return cls(pick(6), pick(16))

    def __str__(self) -> str:
        return f"{self.id}.{self.secret}"


def bootstrap_token_secret(token: BootstrapToken, expires: datetime, groups: Sequence[str] = (NODE_TOKEN_GROUP,),
                           description: str = "kubeplane bootstrap token for nodes joining") -> JSON:
    """The token's Secret as kubeadm writes it: authentication and signing usages, an expiration."""
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    data = {"token-id": token.id, "token-secret": token.secret, "description": description,
            "expiration": expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
            "auth-extra-groups": ",".join(groups)}
    return {"apiVersion": "v1", "kind": "Secret", "type": bootstraptoken.SECRET_TYPE,
            "metadata": {"name": bootstraptoken.SECRET_PREFIX + token.id, "namespace": bootstraptoken.SECRET_NAMESPACE},
            "data": {key: b64(value) for key, value in data.items()}}


def _cluster_role_binding(name: str, role: str, group: str) -> JSON:
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": RBAC, "kind": "Group", "name": group}]}


def node_bootstrap_rbac() -> list[JSON]:
    """kubeadm's bindings for TLS bootstrap: bootstrap-token holders may create CSRs, their node
    client CSRs are auto-approved, and so are a node's renewals of its own certificate."""
    csr_role = "system:certificates.k8s.io:certificatesigningrequests:"
    return [
        _cluster_role_binding("kubeplane:kubelet-bootstrap", "system:node-bootstrapper", BOOTSTRAPPERS_GROUP),
        _cluster_role_binding("kubeplane:node-autoapprove-bootstrap", csr_role + "nodeclient", BOOTSTRAPPERS_GROUP),
        _cluster_role_binding("kubeplane:node-autoapprove-certificate-rotation", csr_role + "selfnodeclient",
                              NODES_GROUP),
    ]


def cluster_info_objects(paths: ClusterPaths, record: ClusterRecord) -> list[JSON]:
    """kube-public/cluster-info (the server and CA a joining node trusts once the bootstrap signer
    has signed it with its token) and kubeadm's Role letting anyone read it."""
    ca = base64.b64encode(paths.pki.ca_cert.read_bytes()).decode()
    kubeconfig = kubeconfig_file.dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "", "cluster": {"server": record.server, "certificate-authority-data": ca}}],
        "contexts": [], "current-context": "", "preferences": {}, "users": []})
    name = "kubeplane:bootstrap-signer-clusterinfo"
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-info", "namespace": "kube-public"},
         "data": {"kubeconfig": kubeconfig}},
        {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"name": name, "namespace": "kube-public"},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"],
                    "verbs": ["get"]}]},
        {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": name, "namespace": "kube-public"},
         "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": name},
         "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "system:anonymous"}]},
    ]


async def create_node_bootstrap(paths: ClusterPaths, record: ClusterRecord,
                                ttl: timedelta = BOOTSTRAP_TOKEN_TTL) -> BootstrapToken:
    """A new bootstrap token for this ``up``'s nodes, with the RBAC and cluster-info around it."""
    token = BootstrapToken.generate()
    expires = datetime.now(UTC) + ttl
    objects = [bootstrap_token_secret(token, expires), *node_bootstrap_rbac(), *cluster_info_objects(paths, record)]
    # Independent objects (a binding may name a role that does not exist yet): created at once,
    # since each is a TLS connection of its own and `up` waits for them.
    await asyncio.gather(*(create_objects(paths, record, [obj], "setting up node TLS bootstrap")
                           for obj in objects))
    return token


def write_bootstrap_kubeconfig(paths: ClusterPaths, record: ClusterRecord, token: BootstrapToken,
                               path: Path) -> Path:
    """The kubeconfig a kubelet bootstraps with: the cluster CA and the bootstrap token."""
    ca = base64.b64encode(paths.pki.ca_cert.read_bytes()).decode()
    kubeconfig_file.write(path, {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": paths.name, "cluster": {"server": record.server, "certificate-authority-data": ca}}],
        "users": [{"name": "tls-bootstrap-token-user", "user": {"token": str(token)}}],
        "contexts": [{"name": "tls-bootstrap-token-user@" + paths.name,
                      "context": {"cluster": paths.name, "user": "tls-bootstrap-token-user"}}],
        "current-context": "tls-bootstrap-token-user@" + paths.name, "preferences": {}})
    return path


_PLURALS = {"EndpointSlice": "endpointslices", "Service": "services", "ClusterRole": "clusterroles",
            "ClusterRoleBinding": "clusterrolebindings", "Role": "roles", "RoleBinding": "rolebindings",
            "Secret": "secrets", "ConfigMap": "configmaps"}


def _collection_path(obj: JSON) -> str:
    group_version, kind = obj["apiVersion"], obj["kind"]
    plural = _PLURALS[kind]
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    namespace = obj["metadata"].get("namespace")
    return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"


async def create_objects(paths: ClusterPaths, record: ClusterRecord, objects: Sequence[JSON], what: str) -> None:
    """Create each object as the admin; one already there (an earlier run of ``up``) is fine."""
    tls = process.ClientTLS(paths.pki.ca_cert, paths.pki.admin_cert, paths.pki.admin_key)
    for obj in objects:
        status, body = await process.https_post(f"{record.server}{_collection_path(obj)}", tls, obj)
        if status not in (201, 409):
            raise ObjectCreateError(f"{what}: creating {obj['kind']} failed ({status}): {body[:300]}")
