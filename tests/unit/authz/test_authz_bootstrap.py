"""The default policy: upstream's golden data for a few roles, and what the well-known roles allow."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubeplane.apiserver.authz import (
    Attributes,
    InMemoryRBACSource,
    RBACAuthorizer,
    UserInfo,
    apply_aggregation,
    bootstrap_policy,
    service_account_username,
)

JSON = dict[str, Any]

# Excerpts of upstream's plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/*.yaml.
GOLDEN = yaml.safe_load("""
system:discovery:
- nonResourceURLs: [/api, /api/*, /apis, /apis/*, /healthz, /livez, /openapi, /openapi/*, /readyz, /version,
                    /version/]
  verbs: [get]
system:aggregate-to-admin:
- apiGroups: [authorization.k8s.io]
  resources: [localsubjectaccessreviews]
  verbs: [create]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [rolebindings, roles]
  verbs: [create, delete, deletecollection, get, list, patch, update, watch]
system:kube-dns:
- apiGroups: [""]
  resources: [endpoints, services]
  verbs: [list, watch]
system:node-proxier:
- {apiGroups: [""], resources: [endpoints, services], verbs: [list, watch]}
- {apiGroups: [""], resources: [nodes], verbs: [get, list, watch]}
- {apiGroups: ["", events.k8s.io], resources: [events], verbs: [create, patch, update]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
system:certificates.k8s.io:kubelet-serving-approver:
- {apiGroups: [certificates.k8s.io], resourceNames: [kubernetes.io/kubelet-serving], resources: [signers],
   verbs: [approve]}
system:controller:deployment-controller:
- {apiGroups: [apps, extensions], resources: [deployments], verbs: [get, list, update, watch]}
- {apiGroups: [apps, extensions], resources: [deployments/status], verbs: [update]}
- {apiGroups: [apps, extensions], resources: [deployments/finalizers], verbs: [update]}
- {apiGroups: [apps, extensions], resources: [replicasets], verbs: [create, delete, get, list, patch, update, watch]}
- {apiGroups: [""], resources: [pods], verbs: [get, list, update, watch]}
- {apiGroups: ["", events.k8s.io], resources: [events], verbs: [create, patch, update]}
system:controller:namespace-controller:
- {apiGroups: [""], resources: [namespaces], verbs: [delete, get, list, watch]}
- {apiGroups: [""], resources: [namespaces/finalize, namespaces/status], verbs: [update]}
- {apiGroups: ["*"], resources: ["*"], verbs: [delete, deletecollection, get, list, watch]}
system:controller:statefulset-controller:
- {apiGroups: [""], resources: [pods], verbs: [list, watch]}
- {apiGroups: [apps], resources: [statefulsets], verbs: [get, list, watch]}
- {apiGroups: [apps], resources: [statefulsets/status], verbs: [update]}
- {apiGroups: [apps], resources: [statefulsets/finalizers], verbs: [update]}
- {apiGroups: [""], resources: [pods], verbs: [create, delete, get, patch, update]}
- {apiGroups: [apps], resources: [controllerrevisions], verbs: [create, delete, get, list, patch, update, watch]}
- {apiGroups: [""], resources: [persistentvolumeclaims], verbs: [create, get, list, watch]}
- {apiGroups: [""], resources: [persistentvolumeclaims], verbs: [delete, update]}
- {apiGroups: [""], resources: [pods/finalizers], verbs: [update]}
- {apiGroups: ["", events.k8s.io], resources: [events], verbs: [create, patch, update]}
""")

MINOR = "1.31"


def by_key(objects: list[JSON]) -> dict[tuple[str, str, str], JSON]:
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects}


@pytest.fixture(scope="module")
def policy() -> list[JSON]:
    return bootstrap_policy(MINOR)


@pytest.fixture(scope="module")
def authz(policy: list[JSON]) -> RBACAuthorizer:
    roles = [o for o in policy if o["kind"] == "ClusterRole"]
    others = [o for o in policy if o["kind"] != "ClusterRole"]
    return RBACAuthorizer(InMemoryRBACSource([*apply_aggregation(roles), *others]))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_matches_upstream_golden(policy: list[JSON], name: str) -> None:
    assert by_key(policy)[("ClusterRole", "", name)]["rules"] == GOLDEN[name]


def test_every_object_is_labelled_and_auto_updated(policy: list[JSON]) -> None:
    assert len(by_key(policy)) == len(policy), "no duplicates"
    for obj in policy:
        assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert obj["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"


def test_every_binding_references_a_role_in_the_policy(policy: list[JSON]) -> None:
    keys = by_key(policy)
    for obj in policy:
        if obj["kind"].endswith("Binding"):
            ref = obj["roleRef"]
            ns = obj["metadata"].get("namespace", "") if ref["kind"] == "Role" else ""
            assert (ref["kind"], ns, ref["name"]) in keys, obj["metadata"]["name"]


def test_aggregated_roles_carry_upstream_selectors(policy: list[JSON]) -> None:
    keys = by_key(policy)
    for name in ("admin", "edit", "view"):
        selectors = keys[("ClusterRole", "", name)]["aggregationRule"]["clusterRoleSelectors"]
        assert selectors == [{"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{name}": "true"}}]
    assert keys[("ClusterRole", "", "edit")]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"]
    assert keys[("ClusterRole", "", "view")]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"]


def test_minor_gates(policy: list[JSON]) -> None:
    old = by_key(bootstrap_policy("1.25"))
    new = by_key(bootstrap_policy(33))
    assert ("ClusterRole", "", "system:controller:service-cidrs-controller") in new
    assert ("ClusterRole", "", "system:controller:service-cidrs-controller") not in old
    basic_old = old[("ClusterRole", "", "system:basic-user")]["rules"]
    assert not any("selfsubjectreviews" in r["resources"] for r in basic_old)


def bound(authz: RBACAuthorizer, role: str, namespace: str = "team") -> RBACAuthorizer:
    """The default policy plus a RoleBinding of ``role`` to user "u" in ``namespace``."""
    source = authz.resolver.source
    assert isinstance(source, InMemoryRBACSource)
    source.put({"kind": "RoleBinding", "metadata": {"name": f"u-{role}", "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": f"u-{role}"}]})
    return authz


def can(authz: RBACAuthorizer, user: UserInfo, verb: str, resource: str, group: str = "", ns: str = "team",
        sub: str = "", name: str = "") -> bool:
    return authz.authorize(Attributes(user=user, verb=verb, namespace=ns, api_group=group, resource=resource,
                                      subresource=sub, name=name)).allowed


@pytest.mark.parametrize(("role", "verb", "resource", "group", "sub", "allowed"), [
    ("view", "get", "pods", "", "", True),
    ("view", "list", "deployments", "apps", "", True),
    ("view", "get", "pods", "", "log", True),
    ("view", "get", "secrets", "", "", False),
    ("view", "create", "pods", "", "", False),
    ("view", "get", "roles", "rbac.authorization.k8s.io", "", False),
    ("edit", "create", "deployments", "apps", "", True),
    ("edit", "get", "secrets", "", "", True),
    ("edit", "create", "pods", "", "exec", True),
    ("edit", "create", "roles", "rbac.authorization.k8s.io", "", False),
    ("edit", "create", "rolebindings", "rbac.authorization.k8s.io", "", False),
    ("admin", "create", "rolebindings", "rbac.authorization.k8s.io", "", True),
    ("admin", "create", "roles", "rbac.authorization.k8s.io", "", True),
    ("admin", "get", "pods", "", "", True),
    ("admin", "create", "resourcequotas", "", "", False),
])
def test_user_facing_roles(authz: RBACAuthorizer, role: str, verb: str, resource: str, group: str, sub: str,
                           allowed: bool) -> None:
    user = UserInfo(f"u-{role}", ("system:authenticated",))
    assert can(bound(authz, role), user, verb, resource, group, sub=sub) is allowed
    assert not can(authz, user, verb, resource, group, ns="elsewhere", sub=sub)


def test_cluster_admin_for_masters_and_discovery_for_everyone(authz: RBACAuthorizer) -> None:
    master = UserInfo("root", ("system:masters", "system:authenticated"))
    assert can(authz, master, "delete", "nodes", ns="")
    assert authz.authorize(Attributes(user=master, verb="post", is_resource_request=False, path="/x")).allowed
    anon = UserInfo("system:anonymous", ("system:unauthenticated",))
    someone = UserInfo("someone", ("system:authenticated",))
    for path, anon_ok in (("/version", True), ("/healthz", True), ("/apis/apps", False)):
        def get(user: UserInfo, p: str = path) -> bool:
            return authz.authorize(Attributes(user=user, verb="get", is_resource_request=False, path=p)).allowed
        assert get(anon) is anon_ok
        assert get(someone)
    assert can(authz, someone, "create", "selfsubjectaccessreviews", "authorization.k8s.io", ns="")
    assert not can(authz, someone, "list", "pods")


def test_system_components(authz: RBACAuthorizer) -> None:
    scheduler = UserInfo("system:kube-scheduler", ("system:authenticated",))
    assert can(authz, scheduler, "create", "pods", sub="binding")
    assert can(authz, scheduler, "update", "leases", "coordination.k8s.io", ns="kube-system", name="kube-scheduler")
    # any lease in kube-system (system::leader-locking-kube-scheduler), elsewhere only its own
    assert can(authz, scheduler, "update", "leases", "coordination.k8s.io", ns="kube-system", name="other")
    assert not can(authz, scheduler, "update", "leases", "coordination.k8s.io", ns="default", name="other")
    assert can(authz, scheduler, "patch", "persistentvolumes", ns="")  # volume-scheduler
    proxy = UserInfo("system:kube-proxy", ("system:authenticated",))
    assert can(authz, proxy, "watch", "endpointslices", "discovery.k8s.io", ns="")
    assert not can(authz, proxy, "get", "secrets")
    kcm_sa = UserInfo(service_account_username("kube-system", "deployment-controller"))
    assert can(authz, kcm_sa, "create", "replicasets", "apps")
    assert not can(authz, kcm_sa, "create", "pods")


def test_system_node_role_and_its_empty_binding(authz: RBACAuthorizer, policy: list[JSON]) -> None:
    binding = by_key(policy)[("ClusterRoleBinding", "", "system:node")]
    assert "subjects" not in binding
    node_user = UserInfo("system:node:n1", ("system:nodes", "system:authenticated"))
    assert not can(authz, node_user, "update", "nodes", sub="status", ns="")
    node_authz = bound(authz, "system:node", namespace="team")
    node = UserInfo("u-system:node", ("system:nodes",))
    assert can(node_authz, node, "patch", "pods", sub="status")
    assert can(node_authz, node, "create", "serviceaccounts", sub="token")
    assert not can(node_authz, node, "update", "pods")
