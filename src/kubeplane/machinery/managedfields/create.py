"""The FieldsV1 document of a create, written in one pass straight from the object.

A create with no prior entries records one Update entry whose set is what the new object adds to
or changes in the kind's zero value (``zero.py``), minus the resource's reset fields and the
fields nobody owns (``update.STRIPPED``). The general path builds that as three ``FieldSet`` trees
(added, modified, removed), subtracts the exclusions, then serialises in upstream's order. Here the
same rules run as one walk that emits the ordered FieldsV1 dict directly: the exclusions are
followed down only as far as they reach (a few top-level paths), and below them every subtree of
the new object goes through ``_every_path_wire``, the same walk as ``walk.every_path`` writing wire
form. The output is byte-identical to the general path's (tests/unit/machinery/
test_managedfields_create.py checks a corpus against it), including when it raises ShapeMismatch.
Struct fields are read straight from the two dicts, maps of leaves (labels, annotations) are
written from their keys, and an excluded subtree against nothing is only checked for the
ShapeMismatch it may raise (test_fast_managedfields.py checks each shortcut on its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeplane.machinery.managedfields.fieldset import DOT, Node, _element_rank
from kubeplane.machinery.managedfields.shapes import (
    DEDUCED,
    KEYED_LIST,
    MAP,
    SET_LIST,
    Shape,
    effective_kind,
)
from kubeplane.machinery.managedfields.walk import _children, _compare
from kubeplane.machinery.managedfields.walk import list_element as _element

Wire = dict[str, Any]

_GRANULAR = (MAP, KEYED_LIST, SET_LIST)
_LISTS = (KEYED_LIST, SET_LIST)
_ABSENT: Any = object()


def created_fields_v1(shape: Shape, zero: Any, new: Any, reset: Node, stripped: Node) -> Wire:
    """The FieldsV1 of (fields ``new`` adds to or modifies in ``zero``) minus everything at or
    below a member of ``reset`` minus the members of ``stripped``; {} when nothing is left.
    ``reset`` and ``stripped`` are FieldSet roots. Raises ShapeMismatch where ``compare`` would."""
    if zero == new:
        return {}
    wire = _changed(shape, zero, new, reset, stripped)
    if not wire:
        return {}
    # The root itself is never a member.
    wire.pop(DOT, None)
    return wire


def _ordered(children: dict[str, Wire], member: bool) -> Wire:
    """A node's wire form: ``{}`` for a member leaf, else ``"."`` (when a member) then the children
    in upstream's order (fields as strings; list elements by structured-merge-diff's value order)."""
    out: Wire = {DOT: {}} if member and children else {}
    if children:
        keys = sorted(children) if next(iter(children)).startswith("f:") else sorted(children, key=_element_rank)
        for key in keys:
            out[key] = children[key]
    return out


def _shape_check_only(shape: Shape, lhs: Any, rhs: Any) -> None:
    """Walk an excluded subtree as the general path would, only for the ShapeMismatch it may raise."""
    if lhs is _ABSENT or (type(lhs) is dict and not lhs):
        # Nothing on the left (a reset ``status`` against the kind's zero ``{}``): comparing then
        # meets exactly the elements ``every_path`` meets.
        check_every_path(shape, rhs)
    else:
        _compare(shape, lhs, rhs, {}, {}, {}, DOT)


def check_every_path(shape: Shape, value: Any) -> None:
    """Raise the ShapeMismatch ``walk.every_path`` would raise, building nothing: only list
    elements can fail (their path elements), so scalars are not visited."""
    if not value:
        return
    kind = effective_kind(shape, value)
    if kind == MAP:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict | list):
                    check_every_path(shape.child(key), item)
    elif kind in _LISTS and isinstance(value, list):
        elem = shape.element()
        seen: set[str] = set()
        for item in value:
            pe = _element(shape, item)
            if pe not in seen:  # as every_path, only an element's first occurrence is walked
                seen.add(pe)
                check_every_path(elem, item)


def _changed(shape: Shape, lhs: Any, rhs: Any, reset: Node | None, stripped: Node | None) -> Wire | None:
    """``walk._compare`` for two present, unequal values, as wire form after the exclusions;
    None when nothing is left at this node."""
    if reset is not None and DOT in reset:
        _shape_check_only(shape, lhs, rhs)
        return None
    kind = effective_kind(shape, rhs)
    if kind not in _GRANULAR or kind != effective_kind(shape, lhs) or not (lhs or rhs):
        # A modified leaf.
        return None if stripped is not None and DOT in stripped else {}
    out: dict[str, Wire] = {}
    if kind == MAP:
        # Struct fields straight from the two dicts (``_children`` without its index); a value
        # that is not a dict has no entries, as there.
        if isinstance(rhs, dict):
            left = lhs if isinstance(lhs, dict) else {}
            child = shape.child
            for key, r_value in rhs.items():
                pe = "f:" + key
                l_value = left.get(key, _ABSENT)
                if l_value is not _ABSENT and l_value == r_value:
                    continue
                child_reset = reset.get(pe) if reset else None
                child_stripped = stripped.get(pe) if stripped else None
                if l_value is _ABSENT:
                    if child_reset is None and child_stripped is None:
                        # ``_added`` without exclusions, one call shorter: most of a create's fields.
                        out[pe] = _every_path_wire(child(key), r_value)
                        continue
                    wire = _added(child(key), r_value, child_reset, child_stripped)
                else:
                    wire = _changed(child(key), l_value, r_value, child_reset, child_stripped)
                if wire is not None:
                    out[pe] = wire
        # A granular node that exists on both sides is not itself a member.
        return _ordered(out, member=False) if out else None
    left, right = _children(kind, shape, lhs), _children(kind, shape, rhs)
    for pe, (child_shape, r_value) in right.items():
        child_reset = reset.get(pe) if reset else None
        child_stripped = stripped.get(pe) if stripped else None
        l_entry = left.get(pe)
        if l_entry is None:
            wire = _added(child_shape, r_value, child_reset, child_stripped)
        elif l_entry[1] != r_value:
            wire = _changed(child_shape, l_entry[1], r_value, child_reset, child_stripped)
        else:
            continue
        if wire is not None:
            out[pe] = wire
    return _ordered(out, member=False) if out else None


def _added(shape: Shape, value: Any, reset: Node | None, stripped: Node | None) -> Wire | None:
    """``walk.every_path`` (a value only the new object has) after the exclusions."""
    if reset is None and stripped is None:
        return _every_path_wire(shape, value)
    if reset is not None and DOT in reset:
        _shape_check_only(shape, _ABSENT, value)
        return None
    member = not (stripped is not None and DOT in stripped)
    out: dict[str, Wire] = {}
    if value:
        kind = effective_kind(shape, value)
        if kind == MAP and isinstance(value, dict):
            for key, item in value.items():
                pe = "f:" + key
                wire = _added(shape.child(key), item, reset.get(pe) if reset else None,
                              stripped.get(pe) if stripped else None)
                if wire is not None:
                    out[pe] = wire
        elif kind in _LISTS and isinstance(value, list):
            elem = shape.element()
            for item in value:
                pe = _element(shape, item)
                if pe in out:
                    continue
                wire = _added(elem, item, reset.get(pe) if reset else None, stripped.get(pe) if stripped else None)
                if wire is not None:
                    out[pe] = wire
    if not out:
        return {} if member else None
    return _ordered(out, member)


def _every_path_wire(shape: Shape, value: Any) -> Wire:
    """``walk.every_path`` written as FieldsV1: the value's node is a member, with every field,
    map entry and list element below it. The hottest walk of a create."""
    if not value:
        return {}
    writer = shape.created_wire
    return writer(value) if writer is not None else _writer(shape)(value)


WireWriter = Callable[[Any], Wire]


def _leaf(value: Any) -> Wire:
    return {}


def _writer(shape: Shape) -> WireWriter:
    """The shape's every-path writer, compiled once per shape: a struct's declared fields map
    straight to their path element and child writer, so a value is written without asking the
    schema anything. Writers take truthy values only (a falsy one is always a member leaf)."""
    writer: WireWriter | None = shape.created_wire
    if writer is None:
        writer = shape.created_wire = _compile(shape)
    return writer


# The kinds whose writer is not ``_leaf``.
_COMPILED = (MAP, KEYED_LIST, SET_LIST, DEDUCED)


def _compile(shape: Shape) -> WireWriter:
    kind = shape.kind
    if kind == MAP:
        return _map_writer(shape)
    if kind in _LISTS:
        return _list_writer(shape)
    if kind == DEDUCED:
        return _deduced_writer(shape)
    return _leaf


def _deduced_writer(shape: Shape) -> WireWriter:
    as_map = _map_writer(shape)

    def write(value: Any) -> Wire:
        return as_map(value) if isinstance(value, dict) else {}

    return write


def _map_writer(shape: Shape) -> WireWriter:
    if not shape.declares_any() and shape.element().kind not in _COMPILED:
        return _leaf_map_writer
    # path element and child writer (None for a leaf) per declared field, filled as fields are met
    # (schemas are recursive, so children compile lazily); undeclared keys share the element
    # shape's writer and are not remembered (label and annotation keys are unbounded).
    declared: dict[str, tuple[str, WireWriter | None]] = {}

    def entry_of(key: str) -> tuple[str, WireWriter | None]:
        child_writer = _writer(shape.child(key))
        entry = ("f:" + key, None if child_writer is _leaf else child_writer)
        if shape.declares(key):
            declared[key] = entry
        return entry

    def write(value: Any) -> Wire:
        if not isinstance(value, dict):
            return {}
        out: Wire = {DOT: {}}
        for key in sorted(value):
            pe, child_writer = declared.get(key) or entry_of(key)
            item = value[key]
            out[pe] = child_writer(item) if child_writer is not None and item else {}
        return out

    return write


def _leaf_map_writer(value: Any) -> Wire:
    """A map whose every entry is a leaf (labels, annotations, resource lists): its keys only."""
    if not isinstance(value, dict):
        return {}
    out: Wire = {DOT: {}}
    for key in sorted(value):
        out["f:" + key] = {}
    return out


def _list_writer(shape: Shape) -> WireWriter:
    def write(value: Any) -> Wire:
        if not isinstance(value, list):
            return {}
        element_writer = _writer(shape.element())
        out: Wire = {DOT: {}}
        if len(value) == 1:  # the common case needs neither de-duplication nor sorting
            item = value[0]
            out[_element(shape, item)] = element_writer(item) if item and element_writer is not _leaf else {}
            return out
        elements: dict[str, Any] = {}
        for item in value:
            pe = _element(shape, item)
            if pe not in elements:  # a repeated element keeps its first occurrence, as every_path does
                elements[pe] = item
        for pe in sorted(elements, key=_element_rank):
            item = elements[pe]
            out[pe] = element_writer(item) if item and element_writer is not _leaf else {}
        return out

    return write
