"""ClusterRole aggregation (upstream's clusterrole-aggregation controller, run to a fixed point).

An aggregated ClusterRole's rules are the union, in name order of the selected roles, of the rules of
every other ClusterRole matching one of its ``aggregationRule.clusterRoleSelectors``. Aggregated roles
can select each other (admin selects edit, which selects view), so the controller converges over
several passes; ``aggregate`` does those passes at once.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.labels import from_label_selector

JSON = dict[str, Any]


def _name(role: JSON) -> str:
    return str(role.get("metadata", {}).get("name", ""))


def _aggregated_rules(role: JSON, by_name: dict[str, JSON], current: dict[str, list[JSON]]) -> list[JSON]:
    rules: list[JSON] = []
    for selector_dict in role["aggregationRule"].get("clusterRoleSelectors") or []:
        selector = from_label_selector(selector_dict)
        for other_name in sorted(by_name):
            if other_name == _name(role):
                continue
            if not selector.matches(by_name[other_name].get("metadata", {}).get("labels")):
                continue
            for rule in current[other_name]:
                if rule not in rules:
                    rules.append(rule)
    return rules


def aggregate(cluster_roles: list[JSON]) -> dict[str, list[JSON]]:
    """The rules each aggregated ClusterRole should have, by name (non-aggregated roles are omitted)."""
    by_name = {_name(role): role for role in cluster_roles}
    current = {name: list(role.get("rules") or []) for name, role in by_name.items()}
    aggregated = [name for name, role in by_name.items() if role.get("aggregationRule")]
    # Each pass can only push rules one aggregation level further, so len+1 passes always converge.
    for _ in range(len(aggregated) + 1):
        changed = False
        for name in aggregated:
            rules = _aggregated_rules(by_name[name], by_name, current)
            if rules != current[name]:
                current[name] = rules
                changed = True
        if not changed:
            break
    return {name: current[name] for name in aggregated}


def apply_aggregation(cluster_roles: list[JSON]) -> list[JSON]:
    """Copies of ``cluster_roles`` whose aggregated roles carry their aggregated rules."""
    rules = aggregate(cluster_roles)
    return [{**role, "rules": rules[_name(role)]} if _name(role) in rules else role for role in cluster_roles]
