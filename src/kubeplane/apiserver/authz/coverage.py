"""Does one set of rules cover another (upstream's Covers / BreakdownRule / CompactRules)?

Escalation prevention asks this of the rules a user holds and the rules they try to grant; the
uncovered remainder, compacted and printed as upstream does, is the Forbidden message.
"""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz.gofmt import go_quote_list
from kubeplane.apiserver.authz.rules import ALL, field_values, url_covers

JSON = dict[str, Any]


def breakdown(rule: JSON) -> list[JSON]:
    """Split a rule into rules of one verb, one group, one resource and at most one name (or one URL)."""
    out: list[JSON] = []
    verbs = field_values(rule, "verbs")
    names = field_values(rule, "resourceNames")
    for group in field_values(rule, "apiGroups"):
        for resource in field_values(rule, "resources"):
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                if names:
                    out.extend({**base, "resourceNames": [name]} for name in names)
                else:
                    out.append(base)
    for url in field_values(rule, "nonResourceURLs"):
        out.extend({"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs)
    return out


def _has_all(owned: list[str], wanted: list[str]) -> bool:
    return set(wanted) <= set(owned)


def _resources_cover(owned: list[str], wanted: list[str]) -> bool:
    if ALL in owned or _has_all(owned, wanted):
        return True
    for resource in wanted:
        if resource in owned:
            continue
        # pods/log is covered by */log; a plain resource needs an exact match.
        if "/" not in resource or "*/" + resource.split("/", 1)[1] not in owned:
            return False
    return True


def _urls_cover(owned: list[str], wanted: list[str]) -> bool:
    return all(any(url_covers(own, url) for own in owned) for url in wanted)


def rule_covers(owner: JSON, sub: JSON) -> bool:
    owner_verbs, owner_groups = field_values(owner, "verbs"), field_values(owner, "apiGroups")
    owner_names, sub_names = field_values(owner, "resourceNames"), field_values(sub, "resourceNames")
    # A name-restricted owner rule never covers an unrestricted grant.
    names_ok = not owner_names or (bool(sub_names) and _has_all(owner_names, sub_names))
    return ((ALL in owner_verbs or _has_all(owner_verbs, field_values(sub, "verbs")))
            and (ALL in owner_groups or _has_all(owner_groups, field_values(sub, "apiGroups")))
            and _resources_cover(field_values(owner, "resources"), field_values(sub, "resources"))
            and _urls_cover(field_values(owner, "nonResourceURLs"), field_values(sub, "nonResourceURLs"))
            and names_ok)


def uncovered(owner_rules: list[JSON], wanted_rules: list[JSON]) -> list[JSON]:
    """The broken-down pieces of ``wanted_rules`` that no owner rule covers (empty: fully covered)."""
    return [sub for wanted in wanted_rules for sub in breakdown(wanted)
            if not any(rule_covers(owner, sub) for owner in owner_rules)]


def _simple_key(rule: JSON) -> tuple[str, str, str] | None:
    """Rules naming one group, one resource and at most one name can be merged by verb."""
    if set(rule) - {"apiGroups", "resources", "verbs", "resourceNames"}:
        return None
    groups, resources = field_values(rule, "apiGroups"), field_values(rule, "resources")
    names = field_values(rule, "resourceNames")
    if len(groups) != 1 or len(resources) != 1 or len(names) > 1:
        return None
    return groups[0], resources[0], names[0] if names else "\0"


def compact(rules: list[JSON]) -> list[JSON]:
    compacted: list[JSON] = []
    merged: dict[tuple[str, str, str], JSON] = {}
    for rule in rules:
        key = _simple_key(rule)
        if key is None:
            compacted.append(rule)
        elif key in merged:
            merged[key]["verbs"] = field_values(merged[key], "verbs") + field_values(rule, "verbs")
        else:
            merged[key] = {k: list(v) for k, v in rule.items()}
    return compacted + list(merged.values())


_COMPACT_FIELDS = (("apiGroups", "APIGroups"), ("resources", "Resources"),
                   ("nonResourceURLs", "NonResourceURLs"), ("resourceNames", "ResourceNames"), ("verbs", "Verbs"))


def compact_string(rule: JSON) -> str:
    """``{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`` as upstream prints a PolicyRule."""
    parts = [f"{title}:{go_quote_list(rule[key])}" for key, title in _COMPACT_FIELDS if rule.get(key)]
    return "{" + ", ".join(parts) + "}"
