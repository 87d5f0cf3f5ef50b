"""core/v1 NodeSelector matching: terms are ORed, a term's expressions and fields ANDed; and a
pod's nodeSelector with its required node affinity, for the scheduler and the DaemonSet controller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplane.machinery import labels

JSON = dict[str, Any]

_OPERATORS = {"In": labels.IN, "NotIn": labels.NOT_IN, "Exists": labels.EXISTS,
              "DoesNotExist": labels.DOES_NOT_EXIST, "Gt": labels.GREATER_THAN, "Lt": labels.LESS_THAN}
# matchFields supports only the node's name, and only In/NotIn.
_FIELD_OPERATORS = {"In": labels.IN, "NotIn": labels.NOT_IN}


def _requirement(expression: JSON, operators: Mapping[str, str]) -> labels.Requirement | None:
    operator = operators.get(expression.get("operator", ""))
    if operator is None:
        return None
    return labels.Requirement(expression.get("key", ""), operator, tuple(expression.get("values") or []))


def term_matches(term: JSON, node: JSON) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no node
    metadata = node.get("metadata") or {}
    node_labels = metadata.get("labels") or {}
    for expression in expressions:
        requirement = _requirement(expression, _OPERATORS)
        if requirement is None or not requirement.matches(node_labels):
            return False
    node_fields = {"metadata.name": metadata.get("name", "")}
    for expression in fields:
        requirement = _requirement(expression, _FIELD_OPERATORS)
        if requirement is None or requirement.key not in node_fields or not requirement.matches(node_fields):
            return False
    return True


def selector_matches(selector: JSON, node: JSON) -> bool:
    return any(term_matches(term, node) for term in selector.get("nodeSelectorTerms") or [])


def pod_spec_matches_node(pod_spec: JSON, node: JSON) -> bool:
    """spec.nodeSelector and required node affinity together (upstream's RequiredNodeAffinity)."""
    node_labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if node_labels.get(key) != value:
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    return required is None or selector_matches(required, node)


def required_node_affinity_matches(pod: JSON, node: JSON) -> bool:
    return pod_spec_matches_node(pod.get("spec") or {}, node)
