"""The two walks over objects: what changed between two versions (structured-merge-diff's
``TypedValue.Compare``) and which fields an object sets (``TypedValue.ToFieldSet``).

Compare rules, as upstream: a leaf (scalar, atomic value, or a map/list that is empty or null on
both sides) is Added / Removed / Modified by value; a granular map or list node is itself Added or
Removed only when it is missing on the other side (present-but-null counts as present), and its
entries are compared one by one — list elements by their path element (keys or value), so
reordering changes nothing. Equal subtrees are skipped with one C-level ``==``, so an update costs
in proportion to what it changed; a create walks the new object once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from kubeplane.machinery.managedfields.fieldset import (
    DOT,
    FieldSet,
    Node,
    field_element,
    key_element,
    member_leaf,
    value_element,
)
from kubeplane.machinery.managedfields.shapes import (
    KEYED_LIST,
    MAP,
    SET_LIST,
    Shape,
    effective_kind,
)

_ABSENT: Any = object()


class ShapeMismatch(ValueError):
    """The object does not fit its schema in a way that makes field paths impossible (upstream errors too)."""


@dataclass(frozen=True)
class Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    def exclude(self, ignored: FieldSet) -> Comparison:
        """Drop everything at or below ``ignored`` (the resource's reset fields)."""
        if ignored.empty():
            return self
        return Comparison(self.added.recursive_difference(ignored), self.modified.recursive_difference(ignored),
                          self.removed.recursive_difference(ignored))


def _element(shape: Shape, item: Any) -> str:
    if shape.kind == KEYED_LIST:
        if not isinstance(item, dict):
            raise ShapeMismatch("associative list with keys may not have non-map elements")
        keys_of_shape = shape.keys
        if len(keys_of_shape) == 1:
            # Most lists are keyed by one string (name, mountPath, ip): one dict probe.
            key_name = keys_of_shape[0]
            key_value = item.get(key_name)
            if type(key_value) is str:
                remembered = _single_string_keys.get((key_name, key_value))
                if remembered is None:
                    remembered = _remember_single_string_key(key_name, key_value)
                return remembered
        # Only the keys present: upstream would fall back to schema defaults, which defaulting
        # has already written into every object that reaches us.
        keys = tuple((k, type(item[k]).__name__, item[k]) for k in shape.keys if k in item)
        try:
            return _remembered_key_element(keys)
        except TypeError:  # a key field holding a map or list: not hashable, spelled each time
            return key_element({k: value for k, _, value in keys})
    if isinstance(item, dict | list) or item is None:
        raise ShapeMismatch("set lists may only hold scalar elements")
    return _remembered_value_element(type(item).__name__, item)


# Element spellings repeat across objects (container, port and env names; finalizers), and each
# costs a JSON encode. The cache keys carry each value's type name: True == 1 in Python, not in JSON.
_SINGLE_STRING_KEYS_MAX = 8192
_single_string_keys: dict[tuple[str, str], str] = {}


def _remember_single_string_key(key_name: str, key_value: str) -> str:
    if len(_single_string_keys) >= _SINGLE_STRING_KEYS_MAX:
        _single_string_keys.clear()  # bounded; spellings are cheap to rebuild
    element = _single_string_keys[(key_name, key_value)] = key_element({key_name: key_value})
    return element


@functools.lru_cache(maxsize=8192)
def _remembered_key_element(keys: tuple[tuple[str, str, Any], ...]) -> str:
    return key_element({k: value for k, _, value in keys})


@functools.lru_cache(maxsize=8192)
def _remembered_value_element(type_name: str, value: Any) -> str:
    return value_element(value)


def list_element(shape: Shape, item: Any) -> str:
    """The path element of an associative or set list's element (``k:{...}`` / ``v:...``)."""
    return _element(shape, item)


def _index(shape: Shape, items: list[Any]) -> dict[str, Any]:
    """List elements by path element; a repeated element keeps its first occurrence, as upstream."""
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(_element(shape, item), item)
    return out


_GRANULAR = (MAP, KEYED_LIST, SET_LIST)
_LISTS = (KEYED_LIST, SET_LIST)


def _children(kind: str, shape: Shape, value: Any) -> dict[str, tuple[Shape, Any]]:
    """The entries of a granular value by path element, with their shapes; {} for anything else."""
    if kind == MAP:
        if isinstance(value, dict):
            return {field_element(k): (shape.child(k), v) for k, v in value.items()}
        return {}
    if isinstance(value, list):
        elem = shape.element()
        return {pe: (elem, v) for pe, v in _index(shape, value).items()}
    return {}


def every_path(shape: Shape, value: Any) -> Node:
    """All paths of a value that exists on one side only: itself and everything below it.

    The hottest walk of a create (every field of the new object goes through it), so it reads the
    value directly instead of going through ``_children``'s index of (shape, value) pairs."""
    node = member_leaf()
    if not value:
        return node
    kind = effective_kind(shape, value)
    if kind == MAP:
        if isinstance(value, dict):
            child = shape.child
            for key, item in value.items():
                node["f:" + key] = every_path(child(key), item)
    elif kind in _LISTS and isinstance(value, list):
        elem = shape.element()
        for item in value:
            pe = _element(shape, item)
            if pe not in node:  # a repeated element keeps its first occurrence, as _index does
                node[pe] = every_path(elem, item)
    return node


def _compare(shape: Shape, lhs: Any, rhs: Any, added: Node, modified: Node, removed: Node, pe: str) -> None:
    """Record the differences between two present, unequal values at ``pe`` into the parents' nodes."""
    kind = effective_kind(shape, rhs)
    # Empty or null on both sides is compared as a leaf, which keeps null and {} distinct.
    if kind not in _GRANULAR or kind != effective_kind(shape, lhs) or not (lhs or rhs):
        modified[pe] = member_leaf()
        return
    left, right = _children(kind, shape, lhs), _children(kind, shape, rhs)
    sub_added: Node = {}
    sub_modified: Node = {}
    sub_removed: Node = {}
    for child_pe, (child_shape, r_value) in right.items():
        l_entry = left.get(child_pe)
        if l_entry is None:
            sub_added[child_pe] = every_path(child_shape, r_value)
        elif l_entry[1] != r_value:
            _compare(child_shape, l_entry[1], r_value, sub_added, sub_modified, sub_removed, child_pe)
    for child_pe, (child_shape, l_value) in left.items():
        if child_pe not in right:
            sub_removed[child_pe] = every_path(child_shape, l_value)
    if sub_added:
        added[pe] = sub_added
    if sub_modified:
        modified[pe] = sub_modified
    if sub_removed:
        removed[pe] = sub_removed


def compare(shape: Shape, old: Any, new: Any) -> Comparison:
    """What ``new`` added, modified and removed relative to ``old`` (both present)."""
    holder_added: Node = {}
    holder_modified: Node = {}
    holder_removed: Node = {}
    if old != new:
        _compare(shape, old, new, holder_added, holder_modified, holder_removed, DOT)
    # The root itself is never a member; unwrap the holder slot used for it.
    return Comparison(
        FieldSet(_without_member(holder_added.get(DOT))),
        FieldSet(_without_member(holder_modified.get(DOT))),
        FieldSet(_without_member(holder_removed.get(DOT))),
    )


def _without_member(node: Node | None) -> Node:
    if not node:
        return {}
    return {k: v for k, v in node.items() if k != DOT}


def field_set(shape: Shape, value: Any) -> FieldSet:
    """The fields ``value`` sets (upstream ToFieldSet): leaves, list elements, undeclared map keys."""
    root = _set_of(shape, value)
    root.pop(DOT, None)
    return FieldSet(root)


def _set_of(shape: Shape, value: Any) -> Node:
    kind = effective_kind(shape, value)
    if kind not in _GRANULAR:
        return member_leaf()
    node: Node = {}
    if kind == MAP:
        if not isinstance(value, dict):
            return node
        for key, child in value.items():
            sub = _set_of(shape.child(key), child)
            if not shape.declares(key):
                sub[DOT] = {}
            if sub:
                node[field_element(key)] = sub
        return node
    if isinstance(value, list):
        elem = shape.element()
        for pe, child in _index(shape, value).items():
            sub = _set_of(elem, child)
            sub[DOT] = {}
            node[pe] = sub
    return node
