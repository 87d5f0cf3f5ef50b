"""Removing fields from a value by field set (structured-merge-diff ``RemoveItems``) and the
``EnsureNamedFieldsAreMembers`` widening the pruning of un-applied fields relies on.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.managedfields.fieldset import DOT, FieldSet, Node, field_element
from kubeplane.machinery.managedfields.shapes import KEYED_LIST, MAP, SET_LIST, Shape, effective_kind
from kubeplane.machinery.managedfields.walk import list_element

_EMPTY: dict[str, Any] = {}


def remove_items(shape: Shape, value: Any, fields: FieldSet) -> Any:
    """``value`` without every member of ``fields`` (a member goes with everything below it).

    A granular map or list left with nothing is dropped from its parent rather than kept as
    null: built-in objects serialise such fields with ``omitempty`` upstream.
    """
    return _remove(shape, value, fields.root)


def _remove(shape: Shape, value: Any, node: Node) -> Any:
    if not node:
        return value
    kind = effective_kind(shape, value)
    if kind == MAP and isinstance(value, dict):
        out = {}
        for key, child in value.items():
            sub = node.get(field_element(key))
            if sub is None:
                out[key] = child
                continue
            if DOT in sub:
                continue
            kept = _remove(shape.child(key), child, sub)
            if kept is not _DROPPED:
                out[key] = kept
        return out if out else _DROPPED
    if kind in (KEYED_LIST, SET_LIST) and isinstance(value, list):
        elem = shape.element()
        items = []
        for item in value:
            sub = node.get(list_element(shape, item))
            if sub is None:
                items.append(item)
                continue
            if DOT in sub:
                continue
            kept = _remove(elem, item, sub)
            if kept is not _DROPPED:
                items.append(kept)
        return items if items else _DROPPED
    return value


_DROPPED: Any = object()


def removed_or_none(value: Any) -> Any:
    """Map the "everything removed" marker of the root to None."""
    return None if value is _DROPPED else value


def ensure_named_fields_are_members(shape: Shape, fields: FieldSet) -> FieldSet:
    """``fields`` plus, as members, every declared struct field it reaches into: owning
    ``spec.replicas`` then also counts as owning ``spec`` when deciding what to prune."""
    return FieldSet(_ensure(shape, fields.root))


def _ensure(shape: Shape, node: Node) -> Node:
    kind = shape.kind
    out: Node = {}
    for element, child in node.items():
        if element == DOT:
            out[DOT] = _EMPTY
            continue
        if element.startswith("f:"):
            name = element[2:]
            sub = _ensure(shape.child(name), child)
            if kind == MAP and shape.declares(name) and DOT not in sub:
                sub = {**sub, DOT: _EMPTY}
        else:
            sub = _ensure(shape.element(), child)
        out[element] = sub
    return out
