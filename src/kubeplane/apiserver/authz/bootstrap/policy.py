"""The whole default RBAC policy of one Kubernetes minor, in the order upstream creates it."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz.bootstrap.builders import cluster_role_binding, group, service_account, user
from kubeplane.apiserver.authz.bootstrap.cluster_roles import cluster_roles
from kubeplane.apiserver.authz.bootstrap.controller_roles import controller_role_bindings, controller_roles
from kubeplane.apiserver.authz.bootstrap.namespace_roles import namespace_role_bindings, namespace_roles

JSON = dict[str, Any]

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"


def cluster_role_bindings(minor: int) -> list[JSON]:
    return [
        cluster_role_binding("cluster-admin", [group("system:masters")]),
        cluster_role_binding("system:monitoring", [group("system:monitoring")]),
        cluster_role_binding("system:discovery", [group(AUTHENTICATED)]),
        cluster_role_binding("system:basic-user", [group(AUTHENTICATED)]),
        cluster_role_binding("system:public-info-viewer", [group(AUTHENTICATED), group(UNAUTHENTICATED)]),
        cluster_role_binding("system:node-proxier", [user("system:kube-proxy")]),
        cluster_role_binding("system:kube-controller-manager", [user("system:kube-controller-manager")]),
        cluster_role_binding("system:kube-dns", [service_account("kube-system", "kube-dns")]),
        cluster_role_binding("system:kube-scheduler", [user("system:kube-scheduler")]),
        cluster_role_binding("system:volume-scheduler", [user("system:kube-scheduler")]),
        # Deprecated since the Node authorizer (1.7): kept, but with no subjects.
        cluster_role_binding("system:node", []),
        cluster_role_binding("system:service-account-issuer-discovery", [group("system:serviceaccounts")]),
    ]


def _minor_number(minor: str | int) -> int:
    return minor if isinstance(minor, int) else int(str(minor).split(".")[-1])


def bootstrap_policy(minor: str | int) -> list[JSON]:
    """ClusterRoles, ClusterRoleBindings, Roles and RoleBindings for ``minor`` ("1.31" or 31).

    Aggregated ClusterRoles (admin, edit, view) come without rules, as upstream creates them; run
    ``aggregate``/``apply_aggregation`` (the aggregation controller's job) to fill them in.
    """
    number = _minor_number(minor)
    return [
        *cluster_roles(number),
        *controller_roles(number),
        *cluster_role_bindings(number),
        *controller_role_bindings(number),
        *namespace_roles(number),
        *namespace_role_bindings(number),
    ]
