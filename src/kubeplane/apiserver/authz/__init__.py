"""Authorization: RBAC as upstream (rules, bindings, aggregation, escalation prevention), the default
policy, and the access/rules reviews ``kubectl auth can-i`` uses. Pure logic over JSON dicts; the API
server wires it into its request path and keeps an RBACSource fresh from its watch cache."""

from kubeplane.apiserver.authz.aggregation import aggregate, apply_aggregation
from kubeplane.apiserver.authz.attributes import (
    Attributes,
    Authorizer,
    Decision,
    RuleSet,
    UserInfo,
    service_account_groups,
    service_account_username,
)
from kubeplane.apiserver.authz.bootstrap import bootstrap_policy
from kubeplane.apiserver.authz.escalation import EscalationGuard, escalation_allowed, escalation_message
from kubeplane.apiserver.authz.node import NodeAuthorizer, NodeGraph, node_rules
from kubeplane.apiserver.authz.rbac import RBACAuthorizer
from kubeplane.apiserver.authz.reconcile import ReconcileResult, reconcile, reconcile_object
from kubeplane.apiserver.authz.reviews import (
    local_subject_access_review,
    self_subject_access_review,
    self_subject_rules_review,
    subject_access_review,
)
from kubeplane.apiserver.authz.rules import rule_allows, rules_allow
from kubeplane.apiserver.authz.source import InMemoryRBACSource, RBACSource
from kubeplane.apiserver.authz.union import PrivilegedGroupsAuthorizer, UnionAuthorizer

__all__ = [
    "Attributes", "Authorizer", "Decision", "EscalationGuard", "InMemoryRBACSource", "NodeAuthorizer", "NodeGraph",
    "PrivilegedGroupsAuthorizer",
    "RBACAuthorizer", "RBACSource", "ReconcileResult", "RuleSet", "UnionAuthorizer", "UserInfo", "aggregate",
    "apply_aggregation", "bootstrap_policy", "escalation_allowed", "escalation_message",
    "local_subject_access_review", "node_rules", "reconcile", "reconcile_object", "rule_allows", "rules_allow",
    "self_subject_access_review", "self_subject_rules_review", "service_account_groups",
    "service_account_username", "subject_access_review",
]
