"""CRD-time checks of ``x-kubernetes-validations``: every rule must compile, as upstream requires.

Reported at ``<schema path>.x-kubernetes-validations[i].rule`` (or ``.messageExpression``) with the
whole ValidationRule as the bad value, printed as Go's ``%#v`` prints it, and upstream's
``compilation failed: ...`` detail. Transition rules are refused where nothing can correlate.
"""

from __future__ import annotations

import json
from typing import Any

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f

from .rules import REASONS, compile_rule, node_rules

JSON = dict[str, Any]


def validate_schema_rules(schema: Any, path: str) -> list[Cause]:
    """Causes for the rules of ``schema`` (a version's openAPIV3Schema at ``path``) that cannot run."""
    causes: list[Cause] = []
    if isinstance(schema, dict):
        _node(schema, path, "", causes)
    return causes


def _node(node: JSON, path: str, uncorrelatable: str, causes: list[Cause]) -> None:
    for i, source in enumerate(node_rules(node)):
        causes.extend(_rule(source, f"{path}.x-kubernetes-validations[{i}]", uncorrelatable))
    for name, child in (node.get("properties") or {}).items():
        if isinstance(child, dict):
            _node(child, f"{path}.properties[{name}]", uncorrelatable, causes)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        _node(extra, f"{path}.additionalProperties", uncorrelatable, causes)
    items = node.get("items")
    if isinstance(items, dict):
        # Only map lists correlate their elements with the old list's; below any other list,
        # oldSelf would never have a value.
        correlated = node.get("x-kubernetes-list-type") == "map"
        _node(items, f"{path}.items", uncorrelatable or ("" if correlated else path), causes)
    for i, branch in enumerate(node.get("allOf") or ()):
        if isinstance(branch, dict):
            _node(branch, f"{path}.allOf[{i}]", uncorrelatable, causes)


def _rule(source: JSON, path: str, uncorrelatable: str) -> list[Cause]:
    causes: list[Cause] = []
    rule = str(source.get("rule") or "")
    shown = go_rule(source)
    if not rule.strip():
        causes.append(f.required(f"{path}.rule", "rule is not specified"))
    compiled = compile_rule(source)
    if compiled.error:
        causes.append(f.invalid(f"{path}.rule", shown, compiled.error))
    if compiled.message_error:
        causes.append(f.invalid(f"{path}.messageExpression", shown, compiled.message_error))
    if compiled.transition and uncorrelatable and not compiled.error:
        causes.append(f.invalid(f"{path}.rule", rule, "oldSelf cannot be used on the uncorrelatable portion of "
                                                       f"the schema within {uncorrelatable}"))
    message = str(source.get("message") or "")
    if "\n" in message:
        causes.append(f.invalid(f"{path}.message", message, "message must not contain line breaks"))
    elif "\n" in rule and not message.strip():
        causes.append(f.required(f"{path}.message", "message must be specified if rule contains line breaks"))
    reason = source.get("reason")
    if reason is not None and reason not in REASONS:
        causes.append(f.not_supported(f"{path}.reason", reason, REASONS))
    if source.get("optionalOldSelf") and not compiled.transition:
        causes.append(f.invalid(f"{path}.optionalOldSelf", True, "may not be set if oldSelf is not used in rule"))
    return causes


def go_rule(source: JSON) -> f.Rendered:
    """The rule as upstream prints an ``apiextensions.ValidationRule`` with ``%#v``."""
    def text(key: str) -> str:
        return json.dumps(str(source.get(key) or ""), ensure_ascii=False)

    reason = source.get("reason")
    shown_reason = f"&\"{reason}\"" if reason else "(*apiextensions.FieldValueErrorReason)(nil)"
    optional = source.get("optionalOldSelf")
    shown_optional = f"&{str(bool(optional)).lower()}" if optional is not None else "(*bool)(nil)"
    return f.Rendered(f"apiextensions.ValidationRule{{Rule:{text('rule')}, Message:{text('message')}, "
                      f"MessageExpression:{text('messageExpression')}, Reason:{shown_reason}, "
                      f"FieldPath:{text('fieldPath')}, OptionalOldSelf:{shown_optional}}}")
