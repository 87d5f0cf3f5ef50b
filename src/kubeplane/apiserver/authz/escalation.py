"""Escalation prevention for writes to roles and bindings (upstream's rbac policybased storages).

A user may write a Role/ClusterRole only with rules they already hold (or with the ``escalate`` verb on
it), and may write a binding only to a role whose rules they already hold (or with the ``bind`` verb on
that role). system:masters, and requests without a user, are never checked.
"""

from __future__ import annotations

import copy
from typing import Any

from kubeplane.apiserver.authz.attributes import SYSTEM_MASTERS, Attributes, Authorizer, UserInfo
from kubeplane.apiserver.authz.coverage import compact, compact_string, uncovered
from kubeplane.apiserver.authz.gofmt import aggregate_messages, go_quote, go_quote_list
from kubeplane.apiserver.authz.rbac import RBACAuthorizer
from kubeplane.apiserver.authz.resolver import RBAC_GROUP, RoleNotFound, RoleResolutionError, RuleResolver
from kubeplane.apiserver.authz.source import RBACSource
from kubeplane.machinery import errors

JSON = dict[str, Any]

# Setting an aggregationRule can gather any rule at all, so it takes everything.
FULL_AUTHORITY: list[JSON] = [
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
]
AGGREGATION_RULE_MESSAGE = "must have cluster-admin privileges to use the aggregationRule"

_ROLE_RESOURCES = {"Role": "roles", "ClusterRole": "clusterroles"}


def escalation_allowed(user: UserInfo | None) -> bool:
    # No user means authentication is off (upstream: insecure port); masters is the loopback client.
    return user is None or SYSTEM_MASTERS in user.groups


def escalation_message(resolver: RuleResolver, user: UserInfo, namespace: str, rules: list[JSON]) -> str | None:
    """Upstream's ConfirmNoEscalation text, or None when ``user`` already holds every rule in ``rules``."""
    owned, resolution_errors = resolver.rules_for(user, namespace)
    missing = uncovered(owned, rules)
    if not missing:
        return None
    descriptions = sorted({compact_string(rule) for rule in compact(missing)})
    message = (f"user {go_quote(user.name)} (groups={go_quote_list(user.groups)}) is attempting to grant "
               f"RBAC permissions not currently held:\n" + "\n".join(descriptions))
    if resolution_errors:
        message += f"; resolution errors: [{aggregate_messages(resolution_errors)}]"
    return message


def only_gc_fields_changed(new: JSON, old: JSON | None) -> bool:
    """Updates touching only ownerReferences/finalizers (the garbage collector's) are never escalations."""
    if old is None:
        return False
    stomped = copy.deepcopy(new)
    meta = stomped.setdefault("metadata", {})
    old_meta = old.get("metadata", {})
    for key in ("ownerReferences", "finalizers", "selfLink", "managedFields"):
        meta.pop(key, None)
        if key in old_meta:
            meta[key] = old_meta[key]
    return bool(stomped == old)


class EscalationGuard:
    """Checks one create/update of a role or binding; raises the StatusError upstream returns.

    ``authorizer`` answers the ``bind``/``escalate`` checks; upstream asks the whole authorizer chain,
    so pass the chain the API server uses (defaults to plain RBAC over the same source).
    """

    def __init__(self, source: RBACSource, authorizer: Authorizer | None = None) -> None:
        self.resolver = RuleResolver(source)
        self.authorizer = authorizer if authorizer is not None else RBACAuthorizer(source)

    def _allowed(self, user: UserInfo, verb: str, resource: str, namespace: str, name: str) -> bool:
        attrs = Attributes(user=user, verb=verb, namespace=namespace, api_group=RBAC_GROUP,
                           resource=resource, name=name)
        return self.authorizer.authorize(attrs).allowed

    def _confirm(self, user: UserInfo, namespace: str, rules: list[JSON], resource: str, name: str) -> None:
        message = escalation_message(self.resolver, user, namespace, rules)
        if message is not None:
            raise errors.forbidden(RBAC_GROUP, resource, name, message)

    def check_role_write(self, user: UserInfo | None, resource: str, namespace: str, new: JSON,
                         old: JSON | None = None) -> None:
        """``resource`` is "roles" or "clusterroles"; ``old`` is None for a create."""
        if escalation_allowed(user) or only_gc_fields_changed(new, old):
            return
        assert user is not None
        name = new.get("metadata", {}).get("name", "")
        # A create request carries no name, so `escalate` limited by resourceNames never allows a create.
        if self._allowed(user, "escalate", resource, namespace, name if old is not None else ""):
            return
        self._confirm(user, namespace, list(new.get("rules") or []), resource, name)
        aggregation = new.get("aggregationRule")
        aggregation_changed = bool(aggregation) and (old is None or old.get("aggregationRule") != aggregation)
        if aggregation_changed and escalation_message(self.resolver, user, namespace, FULL_AUTHORITY) is not None:
            raise errors.forbidden(RBAC_GROUP, resource, name, AGGREGATION_RULE_MESSAGE)

    def check_binding_write(self, user: UserInfo | None, resource: str, namespace: str, new: JSON,
                            old: JSON | None = None) -> None:
        """``resource`` is "rolebindings" or "clusterrolebindings" (namespace "")."""
        if escalation_allowed(user) or only_gc_fields_changed(new, old):
            return
        assert user is not None
        role_ref = new.get("roleRef") or {}
        role_resource = _ROLE_RESOURCES.get(role_ref.get("kind", ""))
        if role_resource and self._allowed(user, "bind", role_resource, namespace, role_ref.get("name", "")):
            return
        try:
            rules = self.resolver.role_reference_rules(role_ref, namespace)
        except RoleNotFound as exc:
            # The registry reads the role from storage, so this is the store's plural NotFound.
            raise errors.not_found(RBAC_GROUP, _ROLE_RESOURCES[exc.kind], exc.name) from None
        except RoleResolutionError as exc:
            raise errors.internal(str(exc)) from None
        self._confirm(user, namespace, rules, resource, new.get("metadata", {}).get("name", ""))
