"""Audit policy: parsing and upstream's first-match rule semantics."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.apiserver.audit import Level, Policy, PolicyError, Stage
from kubeplane.apiserver.authz import UserInfo
from kubeplane.apiserver.requestinfo import parse_request_info

ALICE = UserInfo("alice", ("dev", "system:authenticated"))
KUBELET = UserInfo("system:node:n1", ("system:nodes", "system:authenticated"))


def policy(*rules: dict[str, Any], **top: Any) -> Policy:
    return Policy.parse({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": list(rules), **top})


def level(p: Policy, user: UserInfo | None, method: str, path: str, watch: bool = False) -> Level:
    return p.evaluate(user, parse_request_info(method, path, watch)).level


def test_first_matching_rule_wins_and_no_match_is_none() -> None:
    p = policy({"level": "None", "users": ["system:node:n1"]},
               {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]},
               {"level": "RequestResponse", "namespaces": ["prod"]})
    assert level(p, KUBELET, "GET", "/api/v1/namespaces/prod/secrets/s") == Level.NONE
    assert level(p, ALICE, "GET", "/api/v1/namespaces/prod/secrets/s") == Level.METADATA
    assert level(p, ALICE, "GET", "/api/v1/namespaces/prod/pods/p") == Level.REQUEST_RESPONSE
    assert level(p, ALICE, "GET", "/api/v1/namespaces/dev/pods/p") == Level.NONE


def test_users_groups_and_verbs() -> None:
    p = policy({"level": "Request", "userGroups": ["dev"], "verbs": ["create", "watch"]})
    assert level(p, ALICE, "POST", "/api/v1/namespaces/a/pods") == Level.REQUEST
    assert level(p, ALICE, "GET", "/api/v1/namespaces/a/pods", watch=True) == Level.REQUEST
    assert level(p, ALICE, "GET", "/api/v1/namespaces/a/pods") == Level.NONE  # list
    assert level(p, KUBELET, "POST", "/api/v1/namespaces/a/pods") == Level.NONE
    assert level(p, None, "POST", "/api/v1/namespaces/a/pods") == Level.NONE  # unauthenticated


@pytest.mark.parametrize(("resources", "path", "matches"), [
    (["pods"], "/api/v1/namespaces/a/pods/p", True),
    (["pods"], "/api/v1/namespaces/a/pods/p/status", False),
    (["pods/status"], "/api/v1/namespaces/a/pods/p/status", True),
    (["pods/*"], "/api/v1/namespaces/a/pods/p/log", True),
    (["pods/*"], "/api/v1/namespaces/a/pods/p", True),
    (["*/status"], "/apis/apps/v1/namespaces/a/deployments/d/status", False),  # group "" only
    (["*/status"], "/api/v1/namespaces/a/pods/p/status", True),
    (["*/status"], "/api/v1/namespaces/a/pods/p", False),
    (["*"], "/api/v1/nodes/n", True),
])
def test_resource_patterns(resources: list[str], path: str, matches: bool) -> None:
    p = policy({"level": "Metadata", "resources": [{"group": "", "resources": resources}]})
    assert (level(p, ALICE, "GET", path) == Level.METADATA) is matches


def test_groups_resource_names_and_cluster_scope() -> None:
    p = policy({"level": "Metadata", "resources": [{"group": "apps", "resources": ["deployments"],
                                                    "resourceNames": ["web"]}]},
               {"level": "Request", "resources": [{"group": "rbac.authorization.k8s.io"}]},
               {"level": "RequestResponse", "namespaces": [""]})
    assert level(p, ALICE, "GET", "/apis/apps/v1/namespaces/a/deployments/web") == Level.METADATA
    assert level(p, ALICE, "GET", "/apis/apps/v1/namespaces/a/deployments/db") == Level.NONE
    assert level(p, ALICE, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles") == Level.REQUEST
    assert level(p, ALICE, "GET", "/api/v1/nodes") == Level.REQUEST_RESPONSE  # cluster-scoped: ""
    assert level(p, ALICE, "GET", "/api/v1/namespaces/a/pods") == Level.NONE


def test_non_resource_urls() -> None:
    p = policy({"level": "None", "nonResourceURLs": ["/healthz*", "/version"]},
               {"level": "Metadata", "nonResourceURLs": ["*"]})
    assert level(p, ALICE, "GET", "/healthz") == Level.NONE
    assert level(p, ALICE, "GET", "/healthz/etcd") == Level.NONE
    assert level(p, ALICE, "GET", "/version") == Level.NONE
    assert level(p, ALICE, "GET", "/openapi/v2") == Level.METADATA
    # A non-resource rule never matches a resource request.
    assert level(p, ALICE, "GET", "/api/v1/pods") == Level.NONE


def test_omit_stages_and_managed_fields_combine() -> None:
    p = policy({"level": "Request", "omitStages": ["ResponseStarted"], "verbs": ["get"]},
               {"level": "Request", "omitManagedFields": False},
               omitStages=["RequestReceived"], omitManagedFields=True)
    info = parse_request_info("GET", "/api/v1/namespaces/a/pods/p", False)
    config = p.evaluate(ALICE, info)
    assert config.omit_stages == {Stage.REQUEST_RECEIVED, Stage.RESPONSE_STARTED}
    assert config.omit_managed_fields is True
    other = p.evaluate(ALICE, parse_request_info("DELETE", "/api/v1/namespaces/a/pods/p", False))
    assert other.omit_stages == {Stage.REQUEST_RECEIVED} and other.omit_managed_fields is False


@pytest.mark.parametrize(("rule", "message"), [
    ({"level": "Everything"}, "level 'Everything'"),
    ({"level": "Metadata", "omitStages": ["Done"]}, "'Done' is not a stage"),
    ({"level": "Metadata", "nonResourceURLs": ["/x"], "namespaces": ["a"]}, "both regular resources"),
    ({"level": "Metadata", "nonResourceURLs": ["/a*/b"]}, "only allowed at the end"),
    ({"level": "Metadata", "resources": [{"resourceNames": ["x"]}]}, "requires at least one resource"),
    ({"level": "Metadata", "users": "alice"}, "not a list"),
])
def test_invalid_policies_are_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy(rule)


def test_wrong_kind_is_refused() -> None:
    with pytest.raises(PolicyError, match="want kind Policy"):
        Policy.parse({"apiVersion": "audit.k8s.io/v1beta1", "kind": "Policy", "rules": []})
