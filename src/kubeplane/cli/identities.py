"""What ``kubeplane up`` gives the processes it runs beside the control plane: a client certificate
and kubeconfig per identity, the RBAC that identity needs, and other objects created once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubeplane.cli import kubeconfig_file
from kubeplane.cli.state import ClusterPaths, ClusterRecord
from kubeplane.component import process
from kubeplane.component.pki import issue_client_cert, read_certified_key, write_certified_key

JSON = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"


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


def _collection_path(obj: JSON) -> str:
    group_version, kind = obj["apiVersion"], obj["kind"]
    plural = {"EndpointSlice": "endpointslices", "Service": "services", "ClusterRole": "clusterroles",
              "ClusterRoleBinding": "clusterrolebindings"}[kind]
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
