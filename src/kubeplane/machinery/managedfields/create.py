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
from kubeplane.machinery.managedfields.walk import _children, _compare, every_path
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
    if lhs is _ABSENT:
        every_path(shape, rhs)
    else:
        _compare(shape, lhs, rhs, {}, {}, {}, DOT)


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
    left, right = _children(kind, shape, lhs), _children(kind, shape, rhs)
    out: dict[str, Wire] = {}
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
    # A granular node that exists on both sides is not itself a member.
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
    return _writer(shape)(value) if value else {}


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
    # path element and child writer per declared field, filled as fields are met (schemas are
    # recursive, so children compile lazily); undeclared keys share the element shape's writer.
    declared: dict[str, tuple[str, WireWriter]] = {}

    def write(value: Any) -> Wire:
        if not isinstance(value, dict):
            return {}
        out: Wire = {DOT: {}}
        for key in sorted(value):
            entry = declared.get(key)
            if entry is None:
                child_writer = _writer(shape.child(key))
                if shape.declares(key):
                    declared[key] = ("f:" + key, child_writer)
                pe = "f:" + key
            else:
                pe, child_writer = entry
            item = value[key]
            out[pe] = child_writer(item) if item and child_writer is not _leaf else {}
        return out

    return write


def _list_writer(shape: Shape) -> WireWriter:
    def write(value: Any) -> Wire:
        if not isinstance(value, list):
            return {}
        element_writer = _writer(shape.element())
        elements: dict[str, Any] = {}
        for item in value:
            pe = _element(shape, item)
            if pe not in elements:  # a repeated element keeps its first occurrence, as every_path does
                elements[pe] = item
        out: Wire = {DOT: {}}
        for pe in sorted(elements, key=_element_rank):
            item = elements[pe]
            out[pe] = element_writer(item) if item and element_writer is not _leaf else {}
        return out

    return write
