"""RBAC in the request path: users authenticated by client certificates get exactly what their
bindings grant; `kubectl auth can-i` and `auth whoami` answer from the same authorizer."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from kubeplane.component.pki import issue_client_cert, read_certified_key, write_certified_key

pytestmark = pytest.mark.integration


def _user_kubeconfig(apiserver, tmp_path: Path, name: str, groups: tuple[str, ...] = ()) -> Path:
    ca = read_certified_key(apiserver.pki.ca_cert, apiserver.pki.ca_key)
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    write_certified_key(issue_client_cert(ca, name, list(groups)), cert, key)
    config = yaml.safe_load(apiserver.kubeconfig.read_text())
    config["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(cert.read_bytes()).decode(),
        "client-key-data": base64.b64encode(key.read_bytes()).decode()}
    path = tmp_path / f"kubeconfig-{name}"
    path.write_text(yaml.safe_dump(config))
    return path


def _as(apiserver, kubeconfig: Path, *args: str, input: str | None = None):
    return apiserver.kubectl(*args, "--kubeconfig", str(kubeconfig), input=input, check=False)


def _bind(apiserver, namespace: str, role: str, user: str, kind: str = "ClusterRole") -> None:
    apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {user}-{role}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {kind}, name: {role}}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}]
""")


def test_default_policy_is_bootstrapped(apiserver):
    roles = apiserver.kubectl("get", "clusterroles", "-o", "name").stdout.split()
    for name in ("cluster-admin", "admin", "edit", "view", "system:node", "system:kube-scheduler"):
        assert f"clusterrole.rbac.authorization.k8s.io/{name}" in roles
    view = json.loads(apiserver.kubectl("get", "clusterrole", "view", "-o", "json").stdout)
    assert view["aggregationRule"]["clusterRoleSelectors"]
    binding = json.loads(apiserver.kubectl("get", "clusterrolebinding", "cluster-admin", "-o", "json").stdout)
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "system:masters"}]


def test_a_viewer_can_read_but_not_write(apiserver, namespace, tmp_path):
    apiserver.kubectl("create", "configmap", "visible", "-n", namespace, "--from-literal=a=b")
    viewer = _user_kubeconfig(apiserver, tmp_path, "vera")
    denied = _as(apiserver, viewer, "get", "configmaps", "-n", namespace)
    assert denied.returncode != 0
    assert ('configmaps is forbidden: User "vera" cannot list resource "configmaps" in API group "" '
            f'in the namespace "{namespace}"') in denied.stderr
    _bind(apiserver, namespace, "view", "vera")
    listed = _as(apiserver, viewer, "get", "configmaps", "-n", namespace, "-o", "name")
    assert listed.returncode == 0, listed.stderr
    assert "configmap/visible" in listed.stdout
    write = _as(apiserver, viewer, "delete", "configmap", "visible", "-n", namespace)
    assert write.returncode != 0 and "forbidden" in write.stderr
    secrets = _as(apiserver, viewer, "get", "secrets", "-n", namespace)
    assert secrets.returncode != 0 and "forbidden" in secrets.stderr
    other = _as(apiserver, viewer, "get", "configmaps", "-n", "default")
    assert other.returncode != 0


def test_can_i_and_whoami(apiserver, namespace, tmp_path):
    editor = _user_kubeconfig(apiserver, tmp_path, "eddie", ("devs",))
    _bind(apiserver, namespace, "edit", "eddie")
    assert _as(apiserver, editor, "auth", "can-i", "create", "deployments", "-n", namespace).stdout.strip() == "yes"
    assert _as(apiserver, editor, "auth", "can-i", "create", "roles", "-n", namespace).stdout.strip() == "no"
    assert _as(apiserver, editor, "auth", "can-i", "get", "pods", "-n", "default").stdout.strip() == "no"
    listing = _as(apiserver, editor, "auth", "can-i", "--list", "-n", namespace)
    assert listing.returncode == 0, listing.stderr
    assert "deployments.apps" in listing.stdout
    whoami = _as(apiserver, editor, "auth", "whoami", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    info = json.loads(whoami.stdout)["status"]["userInfo"]
    assert info["username"] == "eddie"
    assert set(info["groups"]) == {"devs", "system:authenticated"}


def test_granting_what_you_do_not_hold_is_refused(apiserver, namespace, tmp_path):
    admin = _user_kubeconfig(apiserver, tmp_path, "adam")
    _bind(apiserver, namespace, "admin", "adam")
    # admin may bind roles it holds within its namespace...
    ok = _as(apiserver, admin, "create", "rolebinding", "friend-view", "-n", namespace,
             "--clusterrole=view", "--user=friend")
    assert ok.returncode == 0, ok.stderr
    # ...but not cluster-admin, which it does not hold.
    escalate = _as(apiserver, admin, "create", "rolebinding", "friend-root", "-n", namespace,
                   "--clusterrole=cluster-admin", "--user=friend")
    assert escalate.returncode != 0
    assert "is attempting to grant RBAC permissions not currently held" in escalate.stderr
    assert _as(apiserver, admin, "get", "rolebinding", "friend-root", "-n", namespace).returncode != 0
