"""Sets of field paths, as structured-merge-diff's ``fieldpath.Set`` and its FieldsV1 wire form.

A set is a tree keyed by path-element strings exactly as FieldsV1 spells them: ``f:<name>`` (struct
field or map key), ``k:<json>`` (element of an associative list, by its key fields), ``v:<json>``
(element of a set list), ``i:<n>`` (list index). Internally every node that is itself a member
carries an explicit ``"."`` key, so "member leaf" (``{".": {}}``) and "nothing" (``{}``) never
look alike; FieldsV1 writes a member leaf as ``{}`` and keeps ``"."`` only next to children.

Trees are immutable by convention: operations never mutate their inputs and may share unchanged
subtrees with them, which keeps set algebra on every write cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import orjson

Node = dict[str, Any]

DOT = "."
_EMPTY: dict[str, Any] = {}


def member_leaf() -> Node:
    """A fresh node that is a member and has no children."""
    return {DOT: _EMPTY}


def _go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (sorted keys, HTML characters escaped)."""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if "<" in text or ">" in text or "&" in text:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def field_element(name: str) -> str:
    return "f:" + name


def key_element(keys: dict[str, Any]) -> str:
    return "k:" + _go_json(keys)


def value_element(value: Any) -> str:
    return "v:" + _go_json(value)


# --- set algebra over nodes (each returns a node; {} means "nothing here") -----------------------


def _union(a: Node, b: Node) -> Node:
    if not b:
        return a
    if not a:
        return b
    out = dict(a)
    for key, b_child in b.items():
        a_child = a.get(key)
        out[key] = b_child if a_child is None or key == DOT else _union(a_child, b_child)
    return out


def _difference(a: Node, b: Node) -> Node:
    """Members of ``a`` not members of ``b``; a member of ``b`` does not hide ``a``'s children."""
    if not b or not a:
        return a
    out: Node | None = None  # built only when something is actually taken away
    for key, b_child in b.items():
        a_child = a.get(key)
        if a_child is None:
            continue
        rest = None if key == DOT else _difference(a_child, b_child)
        if rest is a_child:
            continue
        if out is None:
            out = dict(a)
        if rest:
            out[key] = rest
        else:
            del out[key]
    return a if out is None else out


def _recursive_difference(a: Node, b: Node) -> Node:
    """``a`` without anything at or below a member of ``b``."""
    if not b or not a:
        return a
    if DOT in b:
        return {}
    out: Node | None = None
    for key, b_child in b.items():
        a_child = a.get(key)
        if a_child is None:
            continue
        rest = _recursive_difference(a_child, b_child)
        if rest is a_child:
            continue
        if out is None:
            out = dict(a)
        if rest:
            out[key] = rest
        else:
            del out[key]
    return a if out is None else out


def _intersection(a: Node, b: Node) -> Node:
    out: Node = {}
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    for key, s_child in small.items():
        l_child = large.get(key)
        if l_child is None:
            continue
        if key == DOT:
            out[DOT] = _EMPTY
            continue
        both = _intersection(s_child, l_child)
        if both:
            out[key] = both
    return out


# --- FieldsV1 ordering: upstream sorts children by PathElement.Compare ----------------------------


def _value_rank(value: Any) -> tuple[Any, ...]:
    """structured-merge-diff's total order over values: numbers < strings < bools < lists < maps < null."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_rank(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, _value_rank(v)) for k, v in sorted(value.items())))
    return (5,)


@functools.lru_cache(maxsize=4096)
def _element_rank(element: str) -> tuple[Any, ...]:
    kind, text = element[0], element[2:]
    if kind == "f":
        return (0, text)
    if kind == "k":
        keys = orjson.loads(text)
        return (1, tuple((name, _value_rank(keys[name])) for name in sorted(keys)))
    if kind == "v":
        return (2, _value_rank(orjson.loads(text)))
    return (3, int(text))


def _ordered_children(node: Node) -> list[str]:
    keys = [k for k in node if k != DOT]
    # A node's children are all fields (struct/map) or all list elements of one kind, so the
    # first key tells which; fields sort as plain strings.
    if not keys or keys[0].startswith("f:"):
        return sorted(keys)
    return sorted(keys, key=_element_rank)


def _to_wire(node: Node) -> dict[str, Any]:
    if len(node) == 1 and DOT in node:
        return {}
    out: dict[str, Any] = {DOT: {}} if DOT in node else {}
    for key in _ordered_children(node):
        out[key] = _to_wire(node[key])
    return out


# --- parsing FieldsV1 ------------------------------------------------------------------------------


class FieldsV1Error(ValueError):
    """A FieldsV1 document that is not a valid field set."""


def _canonical_element(element: str) -> str:
    """Re-spell a path element the way this module writes it (clients may send other spacing)."""
    kind = element[:2]
    if kind == "f:":
        return element
    try:
        if kind == "k:":
            keys = orjson.loads(element[2:])
            if not isinstance(keys, dict) or not keys:
                raise FieldsV1Error(f"invalid key path element {element!r}")
            return key_element(keys)
        if kind == "v:":
            return value_element(orjson.loads(element[2:]))
        if kind == "i:":
            return "i:" + str(int(element[2:]))
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise FieldsV1Error(f"invalid path element {element!r}: {exc}") from None
    raise FieldsV1Error(f"unknown path element type in {element!r}")


def _from_wire(doc: Any, canonicalise: bool) -> Node:
    if not isinstance(doc, dict):
        raise FieldsV1Error("expected an object in FieldsV1")
    if not doc:
        return member_leaf()
    out: Node = {}
    for key, child in doc.items():
        if key == DOT:
            if child != {}:
                raise FieldsV1Error('the "." element must be an empty object')
            out[DOT] = _EMPTY
            continue
        element = _canonical_element(key) if canonicalise else key
        out[element] = _from_wire(child, canonicalise)
    return out


class FieldSet:
    """An immutable set of field paths (structured-merge-diff ``fieldpath.Set``)."""

    __slots__ = ("root",)

    def __init__(self, root: Node | None = None) -> None:
        # The root path itself is never a member; root holds only children.
        self.root: Node = root if root is not None else {}

    @classmethod
    def from_fields_v1(cls, doc: Any, *, trusted: bool = False) -> FieldSet:
        """Parse a FieldsV1 document. ``trusted`` skips re-spelling elements we wrote ourselves."""
        if not isinstance(doc, dict):
            raise FieldsV1Error("expected an object in FieldsV1")
        if DOT in doc:
            raise FieldsV1Error('the root of a field set cannot contain "."')
        return cls(_from_wire(doc, not trusted) if doc else {})

    @classmethod
    def from_paths(cls, paths: Any) -> FieldSet:
        """A set of member paths, each a sequence of field names, e.g. [("status",), ("metadata", "labels")]."""
        root: Node = {}
        for path in paths:
            node = root
            for name in path:
                node = node.setdefault(field_element(name), {})
            node[DOT] = _EMPTY
        return cls(root)

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 document, children in upstream's order; a fresh structure the caller may keep."""
        return {key: _to_wire(self.root[key]) for key in _ordered_children(self.root)}

    def empty(self) -> bool:
        return not self.root

    # Operations that change nothing return the same object, so callers can tell cheaply.
    def union(self, other: FieldSet) -> FieldSet:
        return self._same_or_new(_union(self.root, other.root))

    def difference(self, other: FieldSet) -> FieldSet:
        return self._same_or_new(_difference(self.root, other.root))

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        return self._same_or_new(_recursive_difference(self.root, other.root))

    def _same_or_new(self, root: Node) -> FieldSet:
        return self if root is self.root else FieldSet(root)

    def intersection(self, other: FieldSet) -> FieldSet:
        return FieldSet(_intersection(self.root, other.root))

    def paths(self) -> Iterator[tuple[str, ...]]:
        """Every member path as a tuple of path elements (for tests and debugging)."""
        stack: list[tuple[tuple[str, ...], Node]] = [((), self.root)]
        while stack:
            prefix, node = stack.pop()
            for key, child in node.items():
                if key == DOT:
                    yield prefix
                else:
                    stack.append(((*prefix, key), child))

    def __contains__(self, path: tuple[str, ...]) -> bool:
        node = self.root
        for element in path:
            child = node.get(element)
            if child is None:
                return False
            node = child
        return bool(path) and DOT in node

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self.root == other.root

    def __repr__(self) -> str:
        return f"FieldSet({self.to_fields_v1()!r})"
