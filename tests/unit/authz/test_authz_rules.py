"""Rule matching, table-driven against upstream's evaluation semantics."""

from __future__ import annotations

import pytest

from kubeplane.apiserver.authz import Attributes, UserInfo, rule_allows
from kubeplane.apiserver.authz.rules import url_covers

ALICE = UserInfo("alice")


def res(verb: str, resource: str, group: str = "", subresource: str = "", name: str = "") -> Attributes:
    return Attributes(user=ALICE, verb=verb, api_group=group, resource=resource, subresource=subresource, name=name,
                      namespace="ns")


def url(verb: str, path: str) -> Attributes:
    return Attributes(user=ALICE, verb=verb, is_resource_request=False, path=path)


PODS_GET = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}

CASES = [
    ("exact match", PODS_GET, res("get", "pods"), True),
    ("other verb", PODS_GET, res("list", "pods"), False),
    ("other group", PODS_GET, res("get", "pods", group="apps"), False),
    ("subresource not implied by resource", PODS_GET, res("get", "pods", subresource="log"), False),
    ("verb star", {"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}, res("delete", "pods"), True),
    ("group star", {"verbs": ["get"], "apiGroups": ["*"], "resources": ["pods"]}, res("get", "pods", "x.io"), True),
    ("resource star covers subresources", {"verbs": ["get"], "apiGroups": [""], "resources": ["*"]},
     res("get", "pods", subresource="log"), True),
    ("explicit subresource", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
     res("get", "pods", subresource="log"), True),
    ("subresource rule does not grant the resource", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
     res("get", "pods"), False),
    ("star-slash-subresource", {"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("get", "deployments", "apps", "scale"), True),
    ("star-slash-subresource other sub", {"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("get", "deployments", "apps", "status"), False),
    ("star-slash-subresource no sub", {"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("get", "deployments", "apps"), False),
    ("resourceNames match", {**PODS_GET, "resourceNames": ["a"]}, res("get", "pods", name="a"), True),
    ("resourceNames other name", {**PODS_GET, "resourceNames": ["a"]}, res("get", "pods", name="b"), False),
    ("resourceNames do not allow list", {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"],
                                         "resourceNames": ["a"]}, res("list", "pods"), False),
    ("resourceNames do not allow create", {"verbs": ["create"], "apiGroups": [""], "resources": ["pods"],
                                           "resourceNames": ["a"]}, res("create", "pods"), False),
    ("resource rule never grants URLs", {"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]},
     url("get", "/healthz"), False),
    ("url exact", {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("get", "/healthz"), True),
    ("url not prefix without star", {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("get", "/healthz/etcd"),
     False),
    ("url star prefix", {"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]}, url("get", "/healthz/etcd"), True),
    ("url star prefix needs the slash", {"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, url("get", "/apis"),
     False),
    ("url star everything", {"verbs": ["*"], "nonResourceURLs": ["*"]}, url("post", "/anything"), True),
    ("url rule never grants resources", {"verbs": ["*"], "nonResourceURLs": ["*"]}, res("get", "pods"), False),
    ("url verb mismatch", {"verbs": ["get"], "nonResourceURLs": ["*"]}, url("post", "/x"), False),
]


@pytest.mark.parametrize(("rule", "attrs", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_allows(rule: dict, attrs: Attributes, allowed: bool) -> None:
    assert rule_allows(attrs, rule) is allowed


@pytest.mark.parametrize(("owner", "path", "covered"), [
    ("/api", "/api", True), ("/api/*", "/api/v1", True), ("/api*", "/apis", True), ("*", "/", True),
    ("/api", "/apis", False), ("/api/*", "/api", False),
])
def test_url_covers(owner: str, path: str, covered: bool) -> None:
    assert url_covers(owner, path) is covered
