"""Escalation prevention: coverage, upstream's message, and the bind/escalate/masters bypasses."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.apiserver.authz import EscalationGuard, InMemoryRBACSource, UserInfo
from kubeplane.apiserver.authz.coverage import compact, compact_string, uncovered
from kubeplane.machinery.errors import StatusError

JSON = dict[str, Any]
G = "rbac.authorization.k8s.io"
BOB = UserInfo("bob", ("system:authenticated",))


def r(verbs: str, groups: list[str], resources: str, names: str = "") -> JSON:
    out: JSON = {"verbs": verbs.split(), "apiGroups": groups, "resources": resources.split()}
    if names:
        out["resourceNames"] = names.split()
    return out


def cluster_role(name: str, *rules: JSON, **extra: Any) -> JSON:
    return {"kind": "ClusterRole", "metadata": {"name": name}, "rules": list(rules), **extra}


def crb(name: str, role: str, user: str = "bob") -> JSON:
    return {"kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": G, "kind": "User", "name": user}]}


def rb(ns: str, name: str, role_kind: str, role: str, user: str = "bob") -> JSON:
    return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": G, "kind": role_kind, "name": role},
            "subjects": [{"apiGroup": G, "kind": "User", "name": user}]}


def guard(*objects: JSON) -> EscalationGuard:
    return EscalationGuard(InMemoryRBACSource(objects))


COVERAGE = [
    ("same rule", [r("get", [""], "pods")], [r("get", [""], "pods")], []),
    ("star verbs", [r("*", [""], "pods")], [r("get list", [""], "pods")], []),
    ("star resources cover subresources", [r("get", ["*"], "*")], [r("get", ["apps"], "deployments/scale")], []),
    ("*/scale covers any scale", [r("get", ["*"], "*/scale")], [r("get", ["apps"], "deployments/scale")], []),
    ("*/scale does not cover the resource", [r("get", ["*"], "*/scale")], [r("get", ["apps"], "deployments")],
     [r("get", ["apps"], "deployments")]),
    ("named owner does not cover unnamed grant", [r("get", [""], "pods", "a")], [r("get", [""], "pods")],
     [r("get", [""], "pods")]),
    ("unnamed owner covers named grant", [r("get", [""], "pods")], [r("get", [""], "pods", "a b")], []),
    ("named owner covers subset", [r("get", [""], "pods", "a b")], [r("get", [""], "pods", "a")], []),
    ("missing verbs split out", [r("get", [""], "pods")], [r("get list", [""], "pods")], [r("list", [""], "pods")]),
    ("urls with star", [{"verbs": ["get"], "nonResourceURLs": ["/api/*"]}],
     [{"verbs": ["get"], "nonResourceURLs": ["/api/v1", "/apis"]}], [{"nonResourceURLs": ["/apis"], "verbs": ["get"]}]),
]


@pytest.mark.parametrize(("owner", "wanted", "missing"), [c[1:] for c in COVERAGE], ids=[c[0] for c in COVERAGE])
def test_uncovered(owner: list[JSON], wanted: list[JSON], missing: list[JSON]) -> None:
    assert uncovered(owner, wanted) == missing


def test_compact_merges_verbs_and_prints_like_upstream() -> None:
    missing = uncovered([], [r("get list", [""], "pods"), r("get", ["apps"], "deployments", "a")])
    printed = sorted(compact_string(rule) for rule in compact(missing))
    assert printed == ['{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
                       '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["a"], Verbs:["get"]}']


def test_creating_a_role_beyond_own_rights_is_forbidden_with_upstream_message() -> None:
    g = guard(cluster_role("pod-reader", r("get", [""], "pods")), crb("x", "pod-reader"))
    role = {"kind": "Role", "metadata": {"name": "wide", "namespace": "dev"},
            "rules": [r("get list", [""], "pods"), r("get", [""], "secrets")]}
    with pytest.raises(StatusError) as exc:
        g.check_role_write(BOB, "roles", "dev", role)
    assert exc.value.code == 403 and exc.value.reason == "Forbidden"
    assert exc.value.message == (
        'roles.rbac.authorization.k8s.io "wide" is forbidden: user "bob" (groups=["system:authenticated"]) is '
        'attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["list"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}')


def test_creating_a_role_within_own_rights_is_allowed() -> None:
    g = guard(cluster_role("pod-admin", r("*", [""], "pods pods/log")), crb("x", "pod-admin"))
    g.check_role_write(BOB, "roles", "dev", {"kind": "Role", "metadata": {"name": "ok"},
                                             "rules": [r("get list", [""], "pods/log")]})


def test_namespaced_rights_count_only_in_their_namespace() -> None:
    g = guard(cluster_role("pod-reader", r("get", [""], "pods")), rb("dev", "x", "ClusterRole", "pod-reader"))
    role = {"kind": "Role", "metadata": {"name": "r"}, "rules": [r("get", [""], "pods")]}
    g.check_role_write(BOB, "roles", "dev", role)
    with pytest.raises(StatusError):
        g.check_role_write(BOB, "roles", "prod", role)
    with pytest.raises(StatusError):
        g.check_role_write(BOB, "clusterroles", "", {**role, "kind": "ClusterRole"})


def test_masters_and_missing_user_bypass() -> None:
    g = guard()
    role = {"kind": "ClusterRole", "metadata": {"name": "all"}, "rules": [r("*", ["*"], "*")]}
    g.check_role_write(UserInfo("admin", ("system:masters",)), "clusterroles", "", role)
    g.check_role_write(None, "clusterroles", "", role)


def test_escalate_verb_bypasses_the_role_check() -> None:
    g = guard(cluster_role("escalator", r("escalate", [G], "clusterroles")), crb("x", "escalator"))
    g.check_role_write(BOB, "clusterroles", "", {"kind": "ClusterRole", "metadata": {"name": "all"},
                                                 "rules": [r("*", ["*"], "*")]})


def test_escalate_limited_to_a_name_allows_updates_of_that_role_only() -> None:
    g = guard(cluster_role("escalator", r("escalate", [G], "clusterroles", "mine")), crb("x", "escalator"))
    mine = {"kind": "ClusterRole", "metadata": {"name": "mine"}, "rules": [r("*", ["*"], "*")]}
    g.check_role_write(BOB, "clusterroles", "", mine, old={**mine, "rules": []})
    with pytest.raises(StatusError):
        g.check_role_write(BOB, "clusterroles", "", mine)  # a create carries no name


def test_aggregation_rule_needs_full_authority() -> None:
    g = guard(cluster_role("escalator", r("escalate", [G], "clusterroles")), crb("x", "escalator"),
              cluster_role("pods", r("*", [""], "pods")), crb("y", "pods"))
    agg = {"kind": "ClusterRole", "metadata": {"name": "agg"}, "rules": [],
           "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}}
    # escalate covers it (upstream checks escalate first)
    g.check_role_write(BOB, "clusterroles", "", agg)
    plain = guard(cluster_role("pods", r("*", [""], "pods")), crb("y", "pods"))
    with pytest.raises(StatusError) as exc:
        plain.check_role_write(BOB, "clusterroles", "", agg)
    assert exc.value.message == ('clusterroles.rbac.authorization.k8s.io "agg" is forbidden: '
                                 'must have cluster-admin privileges to use the aggregationRule')
    # an update that keeps the same aggregationRule is fine
    plain.check_role_write(BOB, "clusterroles", "", agg, old=dict(agg))


def test_gc_only_updates_are_never_escalations() -> None:
    old = {"kind": "ClusterRole", "metadata": {"name": "all", "resourceVersion": "5"}, "rules": [r("*", ["*"], "*")]}
    new = {**old, "metadata": {**old["metadata"], "finalizers": ["x"], "ownerReferences": [{"uid": "u"}]}}
    guard().check_role_write(BOB, "clusterroles", "", new, old=old)


def test_binding_to_a_role_the_user_holds_is_allowed() -> None:
    g = guard(cluster_role("pod-reader", r("get", [""], "pods")), crb("x", "pod-reader"))
    g.check_binding_write(BOB, "rolebindings", "dev", rb("dev", "new", "ClusterRole", "pod-reader", user="eve"))


def test_binding_to_a_stronger_role_is_forbidden() -> None:
    g = guard(cluster_role("pod-reader", r("get", [""], "pods")), crb("x", "pod-reader"),
              cluster_role("admin", r("*", ["*"], "*")))
    with pytest.raises(StatusError) as exc:
        g.check_binding_write(BOB, "clusterrolebindings", "", crb("new", "admin", user="eve"))
    assert exc.value.message.startswith('clusterrolebindings.rbac.authorization.k8s.io "new" is forbidden: user "bob"')
    assert exc.value.message.endswith('{APIGroups:["*"], Resources:["*"], Verbs:["*"]}')


def test_bind_verb_on_the_role_bypasses() -> None:
    g = guard(cluster_role("binder", r("bind", [G], "clusterroles", "admin")), rb("dev", "x", "ClusterRole", "binder"),
              cluster_role("admin", r("*", ["*"], "*")))
    g.check_binding_write(BOB, "rolebindings", "dev", rb("dev", "new", "ClusterRole", "admin", user="eve"))
    # the rolebinding grant of bind only counts in its namespace
    with pytest.raises(StatusError):
        g.check_binding_write(BOB, "rolebindings", "prod", rb("prod", "new", "ClusterRole", "admin", user="eve"))


def test_binding_to_a_missing_role_is_not_found() -> None:
    with pytest.raises(StatusError) as exc:
        guard().check_binding_write(BOB, "rolebindings", "dev", rb("dev", "new", "Role", "ghost"))
    assert (exc.value.code, exc.value.message) == (404, 'roles.rbac.authorization.k8s.io "ghost" not found')
