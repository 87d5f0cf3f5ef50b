"""Bootstrap reconciliation: create, add missing rules/subjects/labels, never remove, respect autoupdate=false."""

from __future__ import annotations

import copy
from typing import Any

from kubeplane.apiserver.authz import bootstrap_policy, reconcile, reconcile_object

JSON = dict[str, Any]


def policy_object(kind: str, name: str) -> JSON:
    return next(o for o in bootstrap_policy("1.31") if o["kind"] == kind and o["metadata"]["name"] == name)


def test_missing_object_is_created() -> None:
    desired = policy_object("ClusterRole", "system:kube-dns")
    result = reconcile_object(None, desired)
    assert result.operation == "Create" and result.object == desired


def test_up_to_date_object_needs_nothing() -> None:
    desired = policy_object("ClusterRole", "system:kube-dns")
    existing = {**copy.deepcopy(desired), "metadata": {**desired["metadata"], "resourceVersion": "7"}}
    assert reconcile(existing, desired) is None


def test_missing_rules_are_appended_broken_down_and_extras_kept() -> None:
    desired = policy_object("ClusterRole", "system:kube-dns")  # list/watch endpoints+services
    extra = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    existing = copy.deepcopy(desired)
    existing["rules"] = [{"apiGroups": [""], "resources": ["endpoints", "services"], "verbs": ["list"]}, extra]
    out = reconcile(existing, desired)
    assert out is not None
    assert out["rules"] == [*existing["rules"],
                            {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["watch"]},
                            {"apiGroups": [""], "resources": ["services"], "verbs": ["watch"]}]


def test_labels_and_annotations_are_added_but_existing_values_win() -> None:
    desired = policy_object("ClusterRole", "system:kube-dns")
    existing = copy.deepcopy(desired)
    existing["metadata"]["labels"] = {"kubernetes.io/bootstrapping": "custom", "mine": "x"}
    del existing["metadata"]["annotations"]
    out = reconcile(existing, desired)
    assert out is not None
    assert out["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "custom", "mine": "x"}
    assert out["metadata"]["annotations"] == {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def test_autoupdate_false_protects_the_object() -> None:
    desired = policy_object("ClusterRole", "system:kube-dns")
    existing = copy.deepcopy(desired)
    existing["rules"] = []
    existing["metadata"]["annotations"] = {"rbac.authorization.kubernetes.io/autoupdate": "false"}
    result = reconcile_object(existing, desired)
    assert (result.operation, result.object, result.protected) == ("None", None, True)


def test_aggregated_role_keeps_aggregated_rules_and_gains_selectors() -> None:
    desired = policy_object("ClusterRole", "admin")
    existing = copy.deepcopy(desired)
    existing["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    assert reconcile(existing, desired) is None
    existing["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {"custom": "true"}}]}
    out = reconcile(existing, desired)
    assert out is not None
    assert out["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"custom": "true"}},
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}]


def test_unexpected_aggregation_rule_is_removed() -> None:
    desired = policy_object("ClusterRole", "system:kube-dns")
    existing = {**copy.deepcopy(desired), "aggregationRule": {"clusterRoleSelectors": []}}
    out = reconcile(existing, desired)
    assert out is not None and "aggregationRule" not in out


def test_binding_subjects_are_added_never_removed() -> None:
    desired = policy_object("ClusterRoleBinding", "system:public-info-viewer")
    existing = copy.deepcopy(desired)
    someone = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "someone"}
    existing["subjects"] = [someone, desired["subjects"][0]]
    out = reconcile(existing, desired)
    assert out is not None and out["subjects"] == [someone, *desired["subjects"]]


def test_binding_with_another_role_ref_is_recreated() -> None:
    desired = policy_object("ClusterRoleBinding", "system:kube-dns")
    existing = {**copy.deepcopy(desired), "roleRef": {**desired["roleRef"], "name": "other"}}
    result = reconcile_object(existing, desired)
    assert result.operation == "Recreate" and result.object == desired


def test_namespaced_role_bindings_reconcile_too() -> None:
    desired = next(o for o in bootstrap_policy("1.31")
                   if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "system::leader-locking-kube-scheduler")
    assert reconcile(copy.deepcopy(desired), desired) is None
    existing = {**copy.deepcopy(desired), "subjects": []}
    out = reconcile(existing, desired)
    assert out is not None and out["subjects"] == desired["subjects"]
