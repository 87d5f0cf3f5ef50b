"""Toleration and node-affinity matching shared by the scheduler and the DaemonSet controller."""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.nodeaffinity import (
    pod_spec_matches_node,
    required_node_affinity_matches,
    term_matches,
)
from kubeplane.machinery.taints import NO_EXECUTE, NO_SCHEDULE, first_untolerated, tolerated, tolerates

JSON = dict[str, Any]

NODE: JSON = {"metadata": {"name": "n1", "labels": {"zone": "a", "cores": "8"}}}


def test_tolerations_match_by_key_effect_operator_and_value() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": NO_SCHEDULE}
    assert tolerates({"key": "dedicated", "value": "gpu"}, taint)
    assert tolerates({"key": "dedicated", "operator": "Exists", "effect": NO_SCHEDULE}, taint)
    assert tolerates({"operator": "Exists"}, taint)  # empty key with Exists tolerates everything
    assert not tolerates({"key": "dedicated", "value": "cpu"}, taint)
    assert not tolerates({"key": "dedicated", "operator": "Exists", "effect": NO_EXECUTE}, taint)
    assert not tolerates({"key": "dedicated", "operator": "Gt", "value": "gpu"}, taint)
    taints = [{"key": "a", "effect": NO_EXECUTE}, taint]
    assert first_untolerated(taints, [], lambda t: t["effect"] == NO_SCHEDULE) == taint
    assert first_untolerated(taints, [{"key": "dedicated", "operator": "Exists"}],
                             lambda t: t["effect"] == NO_SCHEDULE) is None
    assert not tolerated(taint, [])


def test_node_selector_and_required_affinity_both_apply() -> None:
    required = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}]}}}
    assert pod_spec_matches_node({"nodeSelector": {"zone": "a"}, "affinity": required}, NODE)
    assert not pod_spec_matches_node({"nodeSelector": {"zone": "b"}, "affinity": required}, NODE)
    assert required_node_affinity_matches({"spec": {"affinity": required}}, NODE)
    assert required_node_affinity_matches({}, NODE)


def test_terms_match_fields_only_on_the_node_name() -> None:
    assert term_matches({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}, NODE)
    assert not term_matches({"matchFields": [{"key": "metadata.name", "operator": "Exists"}]}, NODE)
    assert not term_matches({"matchFields": [{"key": "spec.unschedulable", "operator": "NotIn",
                                              "values": ["x"]}]}, NODE)
    assert not term_matches({}, NODE)  # an empty term matches no node
