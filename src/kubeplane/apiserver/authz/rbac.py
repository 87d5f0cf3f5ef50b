"""The RBAC authorizer: allow when some rule bound to the user allows, otherwise no opinion."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz.attributes import NO_OPINION, Attributes, Decision, RuleSet, UserInfo
from kubeplane.apiserver.authz.gofmt import aggregate_messages
from kubeplane.apiserver.authz.resolver import RuleResolver
from kubeplane.apiserver.authz.rules import field_values, rule_allows
from kubeplane.apiserver.authz.source import RBACSource

JSON = dict[str, Any]


def split_rules(rules: list[JSON]) -> tuple[list[JSON], list[JSON]]:
    """PolicyRules as SelfSubjectRulesReview shows them: a rule may feed both lists."""
    resource_rules: list[JSON] = []
    non_resource_rules: list[JSON] = []
    for rule in rules:
        verbs = field_values(rule, "verbs")
        if rule.get("resources"):
            entry: JSON = {"verbs": verbs}
            for key in ("apiGroups", "resources", "resourceNames"):
                if rule.get(key):
                    entry[key] = field_values(rule, key)
            resource_rules.append(entry)
        if rule.get("nonResourceURLs"):
            non_resource_rules.append({"verbs": verbs, "nonResourceURLs": field_values(rule, "nonResourceURLs")})
    return resource_rules, non_resource_rules


class RBACAuthorizer:
    def __init__(self, source: RBACSource) -> None:
        self.resolver = RuleResolver(source)

    def authorize(self, attrs: Attributes) -> Decision:
        errors: list[str] = []
        for visited in self.resolver.visit(attrs.user, attrs.namespace):
            if visited.rule is not None and rule_allows(attrs, visited.rule):
                return Decision(True, f"RBAC: allowed by {visited.source}")
            if visited.error:
                errors.append(visited.error)
        if errors:
            return Decision(False, f"RBAC: {aggregate_messages(errors)}")
        return NO_OPINION

    def rules_for(self, user: UserInfo, namespace: str) -> RuleSet:
        rules, errors = self.resolver.rules_for(user, namespace)
        resource_rules, non_resource_rules = split_rules(rules)
        # RBAC always knows all of a user's rules; a resolution error shows up as evaluationError.
        return RuleSet(resource_rules, non_resource_rules, incomplete=False,
                       evaluation_error=aggregate_messages(errors) if errors else "")
