"""LabelSelector validation and matching (upstream metav1 validation + LabelSelectorAsSelector)."""

from __future__ import annotations

from typing import Any

from kubeplane.machinery import labels
from kubeplane.machinery.errors import Cause, StatusError

from . import field as f
from . import meta, names
from ._access import JSON, lst, objs, str_map, text


def validate(path: str, selector: JSON) -> list[Cause]:
    causes = meta.validate_labels(f.child(path, "matchLabels"), str_map(selector, "matchLabels"))
    for i, requirement in objs(selector, "matchExpressions"):
        req_path = f.index(f.child(path, "matchExpressions"), i)
        operator = text(requirement, "operator")
        values = lst(requirement, "values")
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(f.required(f.child(req_path, "values"),
                                         "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(f.forbidden(f.child(req_path, "values"),
                                          "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            causes.append(f.invalid(f.child(req_path, "operator"), operator, "not a valid selector operator"))
        key = text(requirement, "key")
        causes += f.invalid_all(f.child(req_path, "key"), key, names.qualified_name(key))
    return causes


def is_empty(selector: JSON) -> bool:
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def matches(selector: JSON, labels_: dict[str, Any]) -> bool:
    """Whether the selector selects these labels; a selector that does not parse matches nothing."""
    try:
        return labels.from_label_selector(selector).matches(labels_)
    except StatusError:
        return False


def go_repr(selector: Any) -> f.Rendered:
    """How upstream prints a LabelSelector bad value (Go's %#v of the struct)."""
    if not isinstance(selector, dict):
        return f.Rendered("(*v1.LabelSelector)(nil)")
    match_labels = str_map(selector, "matchLabels")
    labels_part = (f.go_value(match_labels) if match_labels else "map[string]string(nil)")
    expressions = lst(selector, "matchExpressions")
    expressions_part = (f.go_value(expressions) if expressions else "[]v1.LabelSelectorRequirement(nil)")
    return f.Rendered(f"v1.LabelSelector{{MatchLabels:{labels_part}, MatchExpressions:{expressions_part}}}")
