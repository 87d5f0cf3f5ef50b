"""ClusterRole aggregation: selectors, name order, de-duplication, chains (admin <- edit <- view)."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz import aggregate, apply_aggregation

JSON = dict[str, Any]


def role(name: str, rules: list[JSON], labels: dict[str, str] | None = None, selects: list[JSON] | None = None) -> JSON:
    out: JSON = {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if selects is not None:
        out["aggregationRule"] = {"clusterRoleSelectors": selects}
    return out


A = {"verbs": ["get"], "apiGroups": [""], "resources": ["a"]}
B = {"verbs": ["get"], "apiGroups": [""], "resources": ["b"]}
C = {"verbs": ["get"], "apiGroups": [""], "resources": ["c"]}


def test_rules_are_gathered_in_name_order_without_duplicates() -> None:
    roles = [
        role("z-source", [B, A], {"agg": "yes"}),
        role("a-source", [A], {"agg": "yes"}),
        role("other", [C], {"agg": "no"}),
        role("target", [], selects=[{"matchLabels": {"agg": "yes"}}]),
    ]
    assert aggregate(roles) == {"target": [A, B]}


def test_several_selectors_union_and_expressions_work() -> None:
    roles = [
        role("one", [A], {"x": "1"}), role("two", [B], {"y": "2"}),
        role("target", [], selects=[{"matchLabels": {"x": "1"}},
                                    {"matchExpressions": [{"key": "y", "operator": "Exists"}]}]),
    ]
    assert aggregate(roles) == {"target": [A, B]}


def test_a_role_never_aggregates_itself_and_stale_rules_are_replaced() -> None:
    roles = [role("target", [C], {"agg": "yes"}, selects=[{"matchLabels": {"agg": "yes"}}]),
             role("src", [A], {"agg": "yes"})]
    assert aggregate(roles) == {"target": [A]}


def test_chains_converge_like_the_controller() -> None:
    roles = [
        role("admin", [], selects=[{"matchLabels": {"to-admin": "true"}}]),
        role("edit", [], {"to-admin": "true"}, selects=[{"matchLabels": {"to-edit": "true"}}]),
        role("view", [], {"to-edit": "true"}, selects=[{"matchLabels": {"to-view": "true"}}]),
        role("agg-admin", [A], {"to-admin": "true"}),
        role("agg-edit", [B], {"to-edit": "true"}),
        role("agg-view", [C], {"to-view": "true"}),
    ]
    result = aggregate(roles)
    assert result["view"] == [C]
    assert result["edit"] == [B, C]
    assert result["admin"] == [A, B, C]
    applied = {r["metadata"]["name"]: r for r in apply_aggregation(roles)}
    assert applied["admin"]["rules"] == [A, B, C]
    assert applied["agg-view"] is roles[5]
