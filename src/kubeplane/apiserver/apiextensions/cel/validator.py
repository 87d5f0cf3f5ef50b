"""Evaluation of ``x-kubernetes-validations`` over a custom object, as upstream's cel.Validator.

Each rule runs with ``self`` bound to the value at its schema node: rules on a property see that
property, rules on ``items`` run once per element, rules on ``additionalProperties`` once per
entry. A transition rule (one that mentions ``oldSelf``) runs only on update and only where the
old object has a value at the same place; values correlate through object properties, map keys
and the keys of ``x-kubernetes-list-type: map`` lists, never through atomic or set lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f

from . import environment as env
from .rules import CompiledRule, compiled_rules

JSON = dict[str, Any]

ROOT_FIELD = "<nil>"  # upstream validates the root with a nil field.Path, which prints like this
_ROOT_METADATA = ("name", "generateName")  # the only metadata rules at the root can see
_MAX_MESSAGE_BYTES = 5 * 1024  # celconfig.MaxEvaluatedMessageExpressionSizeBytes


@dataclass
class _Run:
    causes: list[Cause] = field(default_factory=list)
    stopped: bool = False  # set once a rule ran out of budget: upstream runs no further rules


def validate_object(obj: JSON, old: JSON | None, schema: JSON) -> list[Cause]:
    """Causes for every rule ``obj`` violates; ``old`` is the stored object on update, else None."""
    run = _Run()
    _walk(run, obj, old, schema, "", root=True)
    return run.causes


def _walk(run: _Run, value: Any, old: Any, node: JSON, path: str, root: bool = False) -> None:
    # Rules only see non-null values: a rule about presence belongs to the enclosing object.
    if value is None or run.stopped or not isinstance(node, dict):
        return
    rules = compiled_rules(node)
    if rules:
        scoped, old_scoped = (_root_view(value), _root_view(old)) if root else (value, old)
        _evaluate(run, rules, scoped, old_scoped, node, path)
    for branch in node.get("allOf") or ():
        if isinstance(branch, dict):
            _walk(run, value, old, branch, path, root)
    if isinstance(value, list):
        _walk_items(run, value, old if isinstance(old, list) else None, node, path)
    elif isinstance(value, dict):
        _walk_properties(run, value, old if isinstance(old, dict) else None, node, path)


def _walk_items(run: _Run, value: list[Any], old: list[Any] | None, node: JSON, path: str) -> None:
    items = node.get("items")
    if not isinstance(items, dict):
        return
    keys = list(node.get("x-kubernetes-list-map-keys") or ())
    old_by_key: dict[str, Any] = {}
    if old is not None and node.get("x-kubernetes-list-type") == "map" and keys:
        old_by_key = {_map_key(e, keys): e for e in old if isinstance(e, dict)}
    for i, element in enumerate(value):
        previous = old_by_key.get(_map_key(element, keys)) if old_by_key and isinstance(element, dict) else None
        _walk(run, element, previous, items, f.index(path, i))


def _map_key(element: JSON, keys: list[str]) -> str:
    return repr([element.get(k) for k in keys])


def _walk_properties(run: _Run, value: JSON, old: JSON | None, node: JSON, path: str) -> None:
    properties = node.get("properties") or {}
    extra = node.get("additionalProperties")
    for name, child_value in value.items():
        previous = old.get(name) if old is not None else None
        child = properties.get(name)
        if isinstance(child, dict):
            _walk(run, child_value, previous, child, f.child(path, name))
        elif isinstance(extra, dict):
            _walk(run, child_value, previous, extra, f.key(path, name))


def _root_view(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return obj
    view = dict(obj)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        view["metadata"] = {k: metadata[k] for k in _ROOT_METADATA if k in metadata}
    return view


def _evaluate(run: _Run, rules: list[CompiledRule], value: Any, old: Any, node: JSON, path: str) -> None:
    where = path or ROOT_FIELD
    type_name = str(node.get("type") or "")
    bindings = {env.SELF: value, env.OLD_SELF: old, env.HAS_OLD_SELF: old is not None}
    for rule in rules:
        if rule.error:
            run.causes.append(f.invalid(where, type_name, f"rule compile error: {rule.error}"))
            continue
        if rule.program is None:
            continue  # an empty rule; the CRD's validation reports it
        if rule.transition and old is None and not rule.optional_old_self:
            continue  # transition rules need a correlated old value
        try:
            result = rule.program.eval(bindings)
        except env.EvaluationError as exc:
            run.causes.append(f.invalid(where, type_name, _evaluation_detail(exc, rule)))
            if exc.budget_exceeded:
                run.stopped = True
                return
            continue
        if result is True:
            continue
        if result is not False:
            run.causes.append(f.invalid(where, type_name, f"rule did not evaluate to a bool evaluating rule: "
                                                          f"{rule.error_string()}"))
            continue
        target = _with_field_path(path, rule.field_path) or ROOT_FIELD
        run.causes.append(_failure(target, type_name, _message(rule, bindings), rule.reason))


def _with_field_path(path: str, relative: str) -> str:
    """The rule's ``fieldPath`` (already normalized: ``a.b`` or ``[key].b``) below the node's path."""
    if not relative:
        return path
    return f"{path}{relative}" if relative.startswith("[") else f.child(path, relative)


def _evaluation_detail(exc: env.EvaluationError, rule: CompiledRule) -> str:
    if exc.budget_exceeded:
        return (f"'{exc}': no further validation rules will be run due to call cost exceeds limit for rule: "
                f"{rule.error_string()}")
    if exc.no_overload:
        return (f"'{exc}': call arguments did not match a supported operator, function or macro signature "
                f"for rule: {rule.error_string()}")
    return f"{exc} evaluating rule: {rule.error_string()}"


def _message(rule: CompiledRule, bindings: JSON) -> str:
    """messageExpression's value when it yields a usable string, else message or the default."""
    if rule.message_program is not None:
        try:
            text = rule.message_program.eval(bindings)
        except env.EvaluationError:
            text = None
        if isinstance(text, str):
            text = text.strip()
            if text and "\n" not in text and len(text) <= _MAX_MESSAGE_BYTES:
                return text
    return rule.message or f"failed rule: {rule.error_string()}"


def _failure(path: str, type_name: str, detail: str, reason: str) -> Cause:
    if reason == f.FORBIDDEN:
        return f.forbidden(path, detail)
    if reason == f.REQUIRED:
        return f.required(path, detail)
    if reason == f.DUPLICATE:
        return f.duplicate(path, type_name)
    return f.invalid(path, type_name, detail)
