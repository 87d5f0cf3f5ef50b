"""Impersonation headers and their authorization checks."""

from __future__ import annotations

import pytest

from kubeplane.apiserver.authn.impersonation import Headers, impersonate
from kubeplane.apiserver.authz import Attributes, Decision, RuleSet, UserInfo
from kubeplane.apiserver.endpoints.reviews import forbidden_error
from kubeplane.machinery.errors import StatusError

ADMIN = UserInfo("admin", ("system:authenticated",))


class RecordingAuthorizer:
    """Allows what is in ``allowed`` (resource, name) and records every check."""

    def __init__(self, allowed: set[tuple[str, str]]) -> None:
        self.allowed = allowed
        self.seen: list[Attributes] = []

    def authorize(self, attrs: Attributes) -> Decision:
        self.seen.append(attrs)
        key = (f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource, attrs.name)
        return Decision(key in self.allowed)

    def rules_for(self, user: UserInfo, namespace: str) -> RuleSet:
        return RuleSet()


def test_no_headers_keeps_the_user():
    assert impersonate(Headers([]), ADMIN, RecordingAuthorizer(set()), forbidden_error) is ADMIN


def test_user_groups_uid_and_extra_are_each_checked():
    authz = RecordingAuthorizer({("users", "jane"), ("groups", "devs"), ("uids", "u-1"),
                                 ("userextras/scopes", "view")})
    headers = Headers([("Impersonate-User", "jane"), ("Impersonate-Group", "devs"), ("Impersonate-Uid", "u-1"),
                       ("Impersonate-Extra-Scopes", "view")])
    user = impersonate(headers, ADMIN, authz, forbidden_error)
    assert user == UserInfo("jane", ("devs", "system:authenticated"), "u-1", {"scopes": ["view"]})
    assert {a.verb for a in authz.seen} == {"impersonate"}
    assert [(a.api_group, a.resource) for a in authz.seen] == [
        ("", "users"), ("", "groups"), ("authentication.k8s.io", "uids"), ("authentication.k8s.io", "userextras")]


def test_service_account_impersonation_checks_serviceaccounts_and_adds_its_groups():
    authz = RecordingAuthorizer({("serviceaccounts", "robot")})
    user = impersonate(Headers([("Impersonate-User", "system:serviceaccount:ci:robot")]), ADMIN, authz,
                       forbidden_error)
    assert authz.seen[0].namespace == "ci"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated")


def test_refusal_is_upstreams_forbidden():
    with pytest.raises(StatusError) as raised:
        impersonate(Headers([("Impersonate-User", "jane")]), UserInfo("bob"), RecordingAuthorizer(set()),
                    forbidden_error)
    assert raised.value.code == 403
    assert raised.value.message == ('users "jane" is forbidden: User "bob" cannot impersonate resource "users" in '
                                    'API group "" at the cluster scope')


def test_group_without_user_is_bad_request():
    with pytest.raises(StatusError) as raised:
        impersonate(Headers([("Impersonate-Group", "devs")]), ADMIN, RecordingAuthorizer(set()), forbidden_error)
    assert raised.value.code == 400 and "without impersonating a user" in raised.value.message


def test_impersonating_anonymous_gets_unauthenticated_group():
    authz = RecordingAuthorizer({("users", "system:anonymous")})
    user = impersonate(Headers([("Impersonate-User", "system:anonymous")]), ADMIN, authz, forbidden_error)
    assert user.groups == ("system:unauthenticated",)
