"""Which rules apply to a user in a namespace (upstream's DefaultRuleResolver).

Cluster role bindings apply everywhere; role bindings only in their namespace. Each applying rule is
visited together with a description of the binding that granted it, which becomes the authorizer's
reason (``ClusterRoleBinding "x" of ClusterRole "y" to User "z"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubeplane.apiserver.authz.attributes import UserInfo, service_account_username
from kubeplane.apiserver.authz.gofmt import go_quote
from kubeplane.apiserver.authz.source import RBACSource

JSON = dict[str, Any]

RBAC_GROUP = "rbac.authorization.k8s.io"


class RoleResolutionError(Exception):
    """A binding whose role cannot be read; its message is what upstream's lister error says."""


class RoleNotFound(RoleResolutionError):
    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        # Upstream's listers name the resource in the singular here (clusterrole.rbac...).
        super().__init__(f'{kind.lower()}.{RBAC_GROUP} "{name}" not found')


def describe_subject(subject: JSON, binding_namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        # Upstream prints name/namespace (in that order) for service accounts.
        return f"{kind} {go_quote(name + '/' + (subject.get('namespace') or binding_namespace))}"
    return f"{kind} {go_quote(name)}"


def describe_binding(binding: JSON, subject: JSON) -> str:
    meta, ref = binding.get("metadata", {}), binding.get("roleRef", {})
    namespace = meta.get("namespace", "")
    if binding.get("kind") == "RoleBinding" or namespace:
        title = f"RoleBinding {go_quote(meta.get('name', '') + '/' + namespace)}"
    else:
        title = f"ClusterRoleBinding {go_quote(meta.get('name', ''))}"
    return (f"{title} of {ref.get('kind', '')} {go_quote(ref.get('name', ''))} "
            f"to {describe_subject(subject, namespace)}")


def subject_applies(user: UserInfo, subject: JSON, namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return user.name == subject.get("name")
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        # A role binding may name a service account of its own namespace without saying so.
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == service_account_username(sa_namespace, subject.get("name", ""))
    return False


def first_applying_subject(user: UserInfo, binding: JSON, namespace: str) -> JSON | None:
    for subject in binding.get("subjects") or []:
        if subject_applies(user, subject, namespace):
            return dict(subject)
    return None


@dataclass(frozen=True)
class VisitedRule:
    """A rule and the binding that granted it, or (rule None) an error resolving some binding."""

    rule: JSON | None
    source: str = ""
    error: str = ""


class RuleResolver:
    def __init__(self, source: RBACSource) -> None:
        self.source = source

    def role_reference_rules(self, role_ref: JSON, binding_namespace: str) -> list[JSON]:
        """The rules a roleRef points at; raises RoleResolutionError when it cannot be read."""
        kind, name = role_ref.get("kind", ""), role_ref.get("name", "")
        if kind == "Role":
            role = self.source.role(binding_namespace, name)
        elif kind == "ClusterRole":
            role = self.source.cluster_role(name)
        else:
            raise RoleResolutionError(f"unsupported role reference kind: {go_quote(kind)}")
        if role is None:
            raise RoleNotFound(kind, name)
        return list(role.get("rules") or [])

    def _bindings(self, namespace: str) -> Iterator[tuple[JSON, str]]:
        for binding in self.source.cluster_role_bindings():
            yield binding, ""
        if namespace:
            for binding in self.source.role_bindings(namespace):
                yield binding, namespace

    def visit(self, user: UserInfo, namespace: str) -> Iterator[VisitedRule]:
        """Every rule that applies, lazily, so the authorizer can stop at the first that allows."""
        for binding, binding_namespace in self._bindings(namespace):
            subject = first_applying_subject(user, binding, binding_namespace)
            if subject is None:
                continue
            try:
                rules = self.role_reference_rules(binding.get("roleRef", {}), binding_namespace)
            except RoleResolutionError as exc:
                yield VisitedRule(None, error=str(exc))
                continue
            description = describe_binding(binding, subject)
            for rule in rules:
                yield VisitedRule(rule, source=description)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[JSON], list[str]]:
        """All applying rules plus the resolution errors met on the way (rules are still valid: deny
        is the default, so a partial list can only under-grant)."""
        rules: list[JSON] = []
        errors: list[str] = []
        for visited in self.visit(user, namespace):
            if visited.rule is not None:
                rules.append(visited.rule)
            if visited.error:
                errors.append(visited.error)
        return rules, errors


