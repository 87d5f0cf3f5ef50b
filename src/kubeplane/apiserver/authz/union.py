"""The authorizer chain kube-apiserver builds: system:masters first, then each configured mode."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kubeplane.apiserver.authz.attributes import (
    NO_OPINION,
    SYSTEM_MASTERS,
    Attributes,
    Authorizer,
    Decision,
    RuleSet,
    UserInfo,
)
from kubeplane.apiserver.authz.gofmt import aggregate_messages


class PrivilegedGroupsAuthorizer:
    """Allows members of the given groups everything (the API server's own loopback client is one)."""

    def __init__(self, groups: Iterable[str] = (SYSTEM_MASTERS,)) -> None:
        self.groups = frozenset(groups)

    def authorize(self, attrs: Attributes) -> Decision:
        if self.groups.intersection(attrs.user.groups):
            return Decision(True)
        return NO_OPINION

    def rules_for(self, user: UserInfo, namespace: str) -> RuleSet:
        # Upstream's privileged-groups authorizer does not resolve rules; RBAC's cluster-admin binding does.
        return RuleSet()


class UnionAuthorizer:
    """The first allow or deny wins; no-opinion reasons and errors are collected for the final answer."""

    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = list(authorizers)

    def authorize(self, attrs: Attributes) -> Decision:
        reasons: list[str] = []
        errors: list[str] = []
        for authorizer in self.authorizers:
            decision = authorizer.authorize(attrs)
            if decision.allowed or decision.denied:
                return decision
            if decision.reason:
                reasons.append(decision.reason)
            if decision.evaluation_error:
                errors.append(decision.evaluation_error)
        return Decision(False, "\n".join(reasons), evaluation_error=aggregate_messages(errors) if errors else "")

    def rules_for(self, user: UserInfo, namespace: str) -> RuleSet:
        combined = RuleSet()
        errors: list[str] = []
        for authorizer in self.authorizers:
            part = authorizer.rules_for(user, namespace)
            combined.resource_rules.extend(part.resource_rules)
            combined.non_resource_rules.extend(part.non_resource_rules)
            combined.incomplete = combined.incomplete or part.incomplete
            if part.evaluation_error:
                errors.append(part.evaluation_error)
        combined.evaluation_error = aggregate_messages(errors) if errors else ""
        return combined
