"""Which webhooks a request reaches: rules (operations, groups, versions, resources with
subresources and wildcards, scope), matchPolicy, namespaceSelector and objectSelector."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.admission.attributes import Attributes
from kubeplane.apiserver.admission.webhook.equivalence import GVR, equivalents
from kubeplane.machinery.labels import from_label_selector

JSON = dict[str, Any]


def _listed(values: list[str] | None, want: str) -> bool:
    return any(v == "*" or v == want for v in values or ())


def resource_matches(patterns: list[str] | None, resource: str, subresource: str) -> bool:
    """``pods`` (main only), ``pods/status``, ``pods/*`` (any subresource), ``*`` (every main resource),
    ``*/status`` and ``*/*`` (everything), as upstream's rule matcher reads them."""
    for pattern in patterns or ():
        if pattern == "*/*":
            return True
        head, _, tail = pattern.partition("/")
        if not _:
            if not subresource and head in ("*", resource):
                return True
            continue
        if head in ("*", resource) and subresource and tail in ("*", subresource):
            return True
    return False


def rule_matches(rule: JSON, attrs: Attributes, gvr: GVR | None = None) -> bool:
    """Whether ``rule`` covers the request, asked for as ``gvr`` (the request's own by default)."""
    gvr = gvr or request_gvr(attrs)
    if not _listed(rule.get("operations"), attrs.operation):
        return False
    if not _listed(rule.get("apiGroups"), gvr.group) or not _listed(rule.get("apiVersions"), gvr.version):
        return False
    if not resource_matches(rule.get("resources"), gvr.resource, attrs.subresource):
        return False
    scope = rule.get("scope") or "*"
    if scope == "Cluster":
        return not attrs.resource.namespaced
    if scope == "Namespaced":
        return attrs.resource.namespaced
    return True


def request_gvr(attrs: Attributes) -> GVR:
    return GVR(attrs.group, attrs.resource.version, attrs.resource.resource)


def invocation(webhook: JSON, attrs: Attributes) -> GVR | None:
    """The resource the webhook is called for: the request's own when a rule names it; with
    matchPolicy Equivalent (the default) otherwise the first equivalent resource a rule names;
    None when the webhook does not match."""
    rules = webhook.get("rules") or ()
    own = request_gvr(attrs)
    if any(rule_matches(rule, attrs, own) for rule in rules):
        return own
    if webhook.get("matchPolicy") == "Exact":
        return None
    # Versions the rules name for the request's own group and resource are equivalents too.
    versions = {v for rule in rules if _listed(rule.get("apiGroups"), own.group)
                for v in rule.get("apiVersions") or () if v != "*"}
    for candidate in equivalents(own, versions):
        if any(rule_matches(rule, attrs, candidate) for rule in rules):
            return candidate
    return None


def rules_match(webhook: JSON, attrs: Attributes) -> bool:
    return invocation(webhook, attrs) is not None


def object_selector_matches(webhook: JSON, attrs: Attributes) -> bool:
    selector = from_label_selector(webhook.get("objectSelector") if webhook.get("objectSelector") is not None else {})
    if selector.empty:
        return True
    for obj in (attrs.object, attrs.old_object):
        if obj is not None and selector.matches((obj.get("metadata") or {}).get("labels") or {}):
            return True
    return False


def namespace_selector_matches(webhook: JSON, attrs: Attributes, namespace_labels: dict[str, str] | None) -> bool:
    """Cluster-scoped objects other than namespaces always match; a namespace matches by its own labels."""
    raw = webhook.get("namespaceSelector")
    selector = from_label_selector(raw if raw is not None else {})
    if selector.empty:
        return True
    if attrs.is_resource("", "namespaces"):
        obj = attrs.object if attrs.object is not None else attrs.old_object
        return selector.matches(((obj or {}).get("metadata") or {}).get("labels") or {})
    if not attrs.resource.namespaced:
        return True
    return selector.matches(namespace_labels or {})
