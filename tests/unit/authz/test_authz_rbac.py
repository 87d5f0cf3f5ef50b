"""The RBAC authorizer over bindings: reasons, subject kinds, namespaces, missing roles, rules_for."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz import (
    Attributes,
    InMemoryRBACSource,
    RBACAuthorizer,
    UserInfo,
    service_account_groups,
    service_account_username,
)

JSON = dict[str, Any]
G = "rbac.authorization.k8s.io"


def cluster_role(name: str, *rules: JSON) -> JSON:
    return {"kind": "ClusterRole", "metadata": {"name": name}, "rules": list(rules)}


def ns_role(ns: str, name: str, *rules: JSON) -> JSON:
    return {"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": list(rules)}


def crb(name: str, role: str, *subjects: JSON) -> JSON:
    return {"kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": role}, "subjects": list(subjects)}


def rb(ns: str, name: str, kind: str, role: str, *subjects: JSON) -> JSON:
    return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": G, "kind": kind, "name": role}, "subjects": list(subjects)}


def subj(kind: str, name: str, namespace: str = "") -> JSON:
    out = {"kind": kind, "name": name}
    if namespace:
        out["namespace"] = namespace
    return out


READ_PODS = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}
HEALTH = {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}


def get_pods(user: UserInfo, ns: str = "dev", verb: str = "get") -> Attributes:
    return Attributes(user=user, verb=verb, namespace=ns, resource="pods", name="p" if verb == "get" else "")


def authorizer(*objects: JSON) -> RBACAuthorizer:
    return RBACAuthorizer(InMemoryRBACSource(objects))


def test_cluster_role_binding_to_user_allows_with_upstream_reason() -> None:
    authz = authorizer(cluster_role("pod-reader", READ_PODS), crb("read", "pod-reader", subj("User", "alice")))
    decision = authz.authorize(get_pods(UserInfo("alice")))
    assert decision.allowed
    assert decision.reason == 'RBAC: allowed by ClusterRoleBinding "read" of ClusterRole "pod-reader" to User "alice"'
    assert not authz.authorize(get_pods(UserInfo("bob"))).allowed


def test_group_subject_matches_any_member() -> None:
    authz = authorizer(cluster_role("pod-reader", READ_PODS), crb("read", "pod-reader", subj("Group", "devs")))
    decision = authz.authorize(get_pods(UserInfo("bob", ("system:authenticated", "devs"))))
    assert decision.reason.endswith('to Group "devs"')
    assert not authz.authorize(get_pods(UserInfo("bob", ("system:authenticated",)))).allowed


def test_role_binding_only_applies_in_its_namespace() -> None:
    authz = authorizer(ns_role("dev", "reader", READ_PODS), rb("dev", "read", "Role", "reader", subj("User", "alice")))
    decision = authz.authorize(get_pods(UserInfo("alice"), ns="dev"))
    assert decision.reason == 'RBAC: allowed by RoleBinding "read/dev" of Role "reader" to User "alice"'
    assert not authz.authorize(get_pods(UserInfo("alice"), ns="prod")).allowed
    # and never cluster-wide (a list across all namespaces)
    assert not authz.authorize(get_pods(UserInfo("alice"), ns="", verb="list")).allowed


def test_role_binding_may_reference_a_cluster_role_scoped_to_its_namespace() -> None:
    authz = authorizer(cluster_role("pod-reader", READ_PODS),
                       rb("dev", "read", "ClusterRole", "pod-reader", subj("User", "alice")))
    assert authz.authorize(get_pods(UserInfo("alice"), ns="dev")).allowed
    assert not authz.authorize(get_pods(UserInfo("alice"), ns="prod")).allowed


def test_service_account_subject_defaults_to_binding_namespace() -> None:
    authz = authorizer(ns_role("dev", "reader", READ_PODS),
                       rb("dev", "read", "Role", "reader", subj("ServiceAccount", "builder")))
    sa = UserInfo(service_account_username("dev", "builder"), service_account_groups("dev"))
    decision = authz.authorize(get_pods(sa, ns="dev"))
    assert decision.reason == 'RBAC: allowed by RoleBinding "read/dev" of Role "reader" to ServiceAccount "builder/dev"'
    other = UserInfo(service_account_username("prod", "builder"), service_account_groups("prod"))
    assert not authz.authorize(get_pods(other, ns="dev")).allowed


def test_service_account_subject_in_cluster_binding_needs_a_namespace() -> None:
    sa = UserInfo(service_account_username("kube-system", "ctrl"))
    with_ns = authorizer(cluster_role("pod-reader", READ_PODS),
                         crb("x", "pod-reader", subj("ServiceAccount", "ctrl", "kube-system")))
    assert with_ns.authorize(get_pods(sa)).reason.endswith('to ServiceAccount "ctrl/kube-system"')
    without_ns = authorizer(cluster_role("pod-reader", READ_PODS), crb("x", "pod-reader", subj("ServiceAccount", "ctrl")))
    assert not without_ns.authorize(get_pods(sa)).allowed


def test_service_account_groups_bind_every_service_account() -> None:
    authz = authorizer(cluster_role("pod-reader", READ_PODS),
                       crb("x", "pod-reader", subj("Group", "system:serviceaccounts:dev")))
    sa = UserInfo(service_account_username("dev", "default"), ("system:authenticated", *service_account_groups("dev")))
    assert authz.authorize(get_pods(sa)).allowed


def test_non_resource_urls_come_only_from_cluster_role_bindings() -> None:
    authz = authorizer(cluster_role("health", HEALTH), crb("h", "health", subj("Group", "system:unauthenticated")),
                       rb("dev", "h2", "ClusterRole", "health", subj("User", "alice")))
    anon = UserInfo("system:anonymous", ("system:unauthenticated",))
    assert authz.authorize(Attributes(user=anon, verb="get", is_resource_request=False, path="/healthz")).allowed
    alice = Attributes(user=UserInfo("alice"), verb="get", is_resource_request=False, path="/healthz")
    assert not authz.authorize(alice).allowed


def test_missing_role_gives_no_opinion_with_the_lister_error_as_reason() -> None:
    authz = authorizer(crb("broken", "nope", subj("User", "alice")),
                       rb("dev", "broken2", "Role", "gone", subj("User", "alice")))
    decision = authz.authorize(get_pods(UserInfo("alice")))
    assert not decision.allowed and not decision.denied
    assert decision.reason == ('RBAC: [clusterrole.rbac.authorization.k8s.io "nope" not found, '
                               'role.rbac.authorization.k8s.io "gone" not found]')


def test_missing_role_does_not_hide_other_grants() -> None:
    authz = authorizer(cluster_role("pod-reader", READ_PODS), crb("broken", "nope", subj("User", "alice")),
                       crb("ok", "pod-reader", subj("User", "alice")))
    assert authz.authorize(get_pods(UserInfo("alice"))).allowed


def test_no_bindings_is_no_opinion_without_reason() -> None:
    decision = authorizer().authorize(get_pods(UserInfo("alice")))
    assert (decision.allowed, decision.reason) == (False, "")


def test_rules_for_splits_resource_and_url_rules() -> None:
    mixed = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}
    authz = authorizer(cluster_role("r", READ_PODS, HEALTH), crb("x", "r", subj("User", "alice")),
                       ns_role("dev", "named", mixed), rb("dev", "y", "Role", "named", subj("User", "alice")),
                       crb("broken", "nope", subj("User", "alice")))
    rules = authz.rules_for(UserInfo("alice"), "dev")
    assert rules.resource_rules == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
                                    {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}]
    assert rules.non_resource_rules == [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]
    assert rules.incomplete is False
    assert rules.evaluation_error == 'clusterrole.rbac.authorization.k8s.io "nope" not found'
    assert len(authz.rules_for(UserInfo("alice"), "prod").resource_rules) == 1
