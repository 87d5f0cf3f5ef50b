"""Does one PolicyRule allow one request (upstream's rbac/v1 evaluation helpers)?

Rules are wire dicts: ``{"verbs": [...], "apiGroups": [...], "resources": [...],
"resourceNames": [...], "nonResourceURLs": [...]}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeplane.apiserver.authz.attributes import Attributes

JSON = dict[str, Any]

ALL = "*"


def field_values(rule: JSON, key: str) -> list[str]:
    return list(rule.get(key) or [])


def verb_matches(rule: JSON, verb: str) -> bool:
    verbs = field_values(rule, "verbs")
    return ALL in verbs or verb in verbs


def api_group_matches(rule: JSON, group: str) -> bool:
    groups = field_values(rule, "apiGroups")
    return ALL in groups or group in groups


def resource_matches(rule: JSON, combined_resource: str, subresource: str) -> bool:
    """``*`` matches anything, ``pods/log`` matches exactly, ``*/scale`` matches any resource's scale."""
    for allowed in field_values(rule, "resources"):
        if allowed in (ALL, combined_resource):
            return True
        if subresource and allowed == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: JSON, name: str) -> bool:
    """An empty resourceNames allows every name; otherwise only named requests can match, which is why
    such rules never allow ``list`` or ``create`` (those requests carry no name)."""
    names = field_values(rule, "resourceNames")
    return not names or name in names


def url_covers(allowed: str, path: str) -> bool:
    """A trailing ``*`` is a prefix match (``/apis/*``); anything else must be equal."""
    if allowed == path:
        return True
    return allowed.endswith(ALL) and path.startswith(allowed.rstrip(ALL))


def non_resource_url_matches(rule: JSON, path: str) -> bool:
    return any(url_covers(allowed, path) for allowed in field_values(rule, "nonResourceURLs"))


def rule_allows(attrs: Attributes, rule: JSON) -> bool:
    if not verb_matches(rule, attrs.verb):
        return False
    if not attrs.is_resource_request:
        return non_resource_url_matches(rule, attrs.path)
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    return (api_group_matches(rule, attrs.api_group)
            and resource_matches(rule, combined, attrs.subresource)
            and resource_name_matches(rule, attrs.name))


def rules_allow(attrs: Attributes, rules: Iterable[JSON]) -> bool:
    return any(rule_allows(attrs, rule) for rule in rules)
