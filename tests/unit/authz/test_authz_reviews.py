"""SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview and SelfSubjectRulesReview."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.apiserver.authz import (
    InMemoryRBACSource,
    PrivilegedGroupsAuthorizer,
    RBACAuthorizer,
    UnionAuthorizer,
    UserInfo,
    apply_aggregation,
    bootstrap_policy,
    local_subject_access_review,
    self_subject_access_review,
    self_subject_rules_review,
    subject_access_review,
)
from kubeplane.machinery.errors import StatusError

JSON = dict[str, Any]
G = "rbac.authorization.k8s.io"


@pytest.fixture
def authz() -> UnionAuthorizer:
    policy = bootstrap_policy("1.31")
    roles = apply_aggregation([o for o in policy if o["kind"] == "ClusterRole"])
    extra = {"kind": "RoleBinding", "metadata": {"name": "alice-view", "namespace": "team"},
             "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "view"},
             "subjects": [{"apiGroup": G, "kind": "User", "name": "alice"}]}
    source = InMemoryRBACSource([*roles, *(o for o in policy if o["kind"] != "ClusterRole"), extra])
    return UnionAuthorizer([PrivilegedGroupsAuthorizer(), RBACAuthorizer(source)])


def sar(spec: JSON, kind: str = "SubjectAccessReview") -> JSON:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "metadata": {}, "spec": spec}


ALICE_GET_PODS = {"user": "alice", "groups": ["system:authenticated"],
                  "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "pods"}}


def test_subject_access_review_allowed_with_reason(authz: UnionAuthorizer) -> None:
    out = subject_access_review(authz, sar(ALICE_GET_PODS))
    assert out["status"] == {"allowed": True,
                             "reason": 'RBAC: allowed by RoleBinding "alice-view/team" of ClusterRole "view" '
                                       'to User "alice"'}
    assert out["spec"] == ALICE_GET_PODS


def test_subject_access_review_denied_is_just_not_allowed(authz: UnionAuthorizer) -> None:
    spec = {**ALICE_GET_PODS, "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "secrets"}}
    assert subject_access_review(authz, sar(spec))["status"] == {"allowed": False}


def test_non_resource_review(authz: UnionAuthorizer) -> None:
    spec = {"user": "x", "groups": ["system:unauthenticated"], "nonResourceAttributes": {"verb": "get", "path": "/livez"}}
    assert subject_access_review(authz, sar(spec))["status"]["allowed"] is True


def test_masters_are_allowed_by_the_privileged_groups_authorizer(authz: UnionAuthorizer) -> None:
    spec = {"user": "root", "groups": ["system:masters"], "resourceAttributes": {"verb": "delete", "resource": "nodes"}}
    assert subject_access_review(authz, sar(spec))["status"] == {"allowed": True}


@pytest.mark.parametrize(("spec", "message"), [
    ({"user": "a"}, 'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
                    'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified'),
    ({"resourceAttributes": {"verb": "get"}},
     'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
     'at least one of user or group must be specified'),
])
def test_subject_access_review_validation(authz: UnionAuthorizer, spec: JSON, message: str) -> None:
    with pytest.raises(StatusError) as exc:
        subject_access_review(authz, sar(spec))
    assert (exc.value.code, exc.value.message) == (422, message)


def test_local_review_must_match_the_namespace(authz: UnionAuthorizer) -> None:
    review = sar(ALICE_GET_PODS, "LocalSubjectAccessReview")
    assert local_subject_access_review(authz, "team", review)["status"]["allowed"]
    with pytest.raises(StatusError) as exc:
        local_subject_access_review(authz, "other", review)
    assert exc.value.code == 400


def test_self_review_uses_the_requesting_user(authz: UnionAuthorizer) -> None:
    review = sar({"resourceAttributes": {"namespace": "team", "verb": "list", "resource": "pods"}},
                 "SelfSubjectAccessReview")
    alice = UserInfo("alice", ("system:authenticated",))
    assert self_subject_access_review(authz, alice, review)["status"]["allowed"]
    bob = UserInfo("bob", ("system:authenticated",))
    assert not self_subject_access_review(authz, bob, review)["status"]["allowed"]


def test_self_rules_review_lists_rules_like_can_i_list(authz: UnionAuthorizer) -> None:
    alice = UserInfo("alice", ("system:authenticated",))
    review = sar({"namespace": "team"}, "SelfSubjectRulesReview")
    status = self_subject_rules_review(authz, alice, review)["status"]
    assert status["incomplete"] is False
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in status["resourceRules"]
    assert any("pods" in r["resources"] and "get" in r["verbs"] for r in status["resourceRules"])
    assert {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]} \
        in status["nonResourceRules"]
    other_ns = self_subject_rules_review(authz, alice, sar({"namespace": "x"}, "SelfSubjectRulesReview"))["status"]
    assert not any("pods" in r["resources"] for r in other_ns["resourceRules"])
    with pytest.raises(StatusError) as exc:
        self_subject_rules_review(authz, alice, sar({}, "SelfSubjectRulesReview"))
    assert (exc.value.code, exc.value.message) == (400, "no namespace on request")
