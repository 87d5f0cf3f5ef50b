"""Schema-driven checks of a whole object: JSON types, required fields and unknown fields.

Walks the object alongside its OpenAPI definition (``kubeplane.machinery.schema``). Upstream does
the type part while decoding (a wrong type fails the request); here every mismatch becomes a field
cause so a bad body is reported, never crashes a validator. Unknown fields are collected for
``fieldValidation=Strict|Warn``.

Every write runs this walk over the whole object, so each schema node is compiled once into a
``_Check`` (its types, properties, required fields and free-form-ness read out of the schema dict)
and the walk only runs those. A value whose exact JSON type alone proves it valid (a string where
a string is expected, null anywhere) is skipped without a look, and field paths travel as
(parent, segment) links that are rendered to text only when something is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.schema import JSON, Schemas, per_schemas, type_names

from . import field as f
from . import quantity

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
# The exact Python type of a decoded JSON scalar that satisfies each schema type (bool is not an
# integer here, unlike isinstance).
_EXACT_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
_NONE = type(None)
_ANY_SCALAR = frozenset({_NONE, str, int, float, bool})


# A field path as the walk carries it: "" at the root, else (parent, field name or list index or
# map key, whether it prints in brackets). Rendered to text only for a report, which is rare: most
# objects are valid, and joining strings at every level was a large share of the walk.
Path = str | tuple[Any, str | int, bool]


@dataclass
class SchemaReport:
    type_errors: list[Cause] = field(default_factory=list)
    missing: list[Cause] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    # Where the first type error is, as a path link, and the value there: in document order, as a
    # Go decoder meets it (``go_decode`` words upstream's 400 from it).
    first_type_error: tuple[Path, Any] | None = None

    def type_error(self, path: Path, value: Any, cause: Cause) -> None:
        if self.first_type_error is None:
            self.first_type_error = (path, value)
        self.type_errors.append(cause)


def _matches(value: Any, type_name: str) -> bool:
    if isinstance(value, bool) and type_name in ("integer", "number"):
        return False
    return isinstance(value, _PY_TYPES.get(type_name, (object,)))


def segments(path: Path) -> list[tuple[str | int, bool]]:
    """The path's segments from the root: (field name, False) or (list index or map key, True)."""
    out: list[tuple[str | int, bool]] = []
    while not isinstance(path, str):
        path, segment, bracketed = path
        out.append((segment, bracketed))
    out.reverse()
    return out


def render(path: Path) -> str:
    """``spec.containers[0].name``, ``metadata.labels[app]``: upstream's spelling of a path."""
    if isinstance(path, str):
        return path
    parent, segment, bracketed = path
    base = render(parent)
    if bracketed:
        return f"{base}[{segment}]"
    return f"{base}.{segment}" if base else str(segment)


class _Check:
    """One resolved schema node, compiled. ``trivially_valid`` holds the exact value types that
    need no check at all under it (always including null, which decodes to the zero value)."""

    __slots__ = ("trivially_valid",)

    def __init__(self, trivially_valid: frozenset[type]) -> None:
        self.trivially_valid = trivially_valid

    def check(self, value: Any, path: Path, report: SchemaReport) -> None:
        raise NotImplementedError


class _Anything(_Check):
    """No schema (free-form): anything goes."""

    def __init__(self) -> None:
        super().__init__(frozenset({_NONE, str, int, float, bool, dict, list}))

    def check(self, value: Any, path: Path, report: SchemaReport) -> None:
        return


_ANYTHING = _Anything()


class _QuantityCheck(_Check):
    def __init__(self) -> None:
        super().__init__(frozenset({_NONE}))

    def check(self, value: Any, path: Path, report: SchemaReport) -> None:
        if value is not None and not quantity.is_valid(value):
            report.type_error(path, value, f.invalid(render(path), value, quantity.QUANTITY_FORMAT_MSG))


class _IntOrStringCheck(_Check):
    def __init__(self) -> None:
        super().__init__(frozenset({_NONE, int, str}))

    def check(self, value: Any, path: Path, report: SchemaReport) -> None:
        if value is not None and not (_matches(value, "integer") or isinstance(value, str)):
            report.type_error(path, value, f.type_invalid(render(path), value, "must be an integer or a string"))


class _NodeCheck(_Check):
    """A typed (or untyped) node: type check, then objects field by field and lists item by item."""

    __slots__ = (
        "_compiler",
        "_extra_raw",
        "_items",
        "_items_raw",
        "_props",
        "_props_raw",
        "_ready",
        "accepted_exact",
        "expected",
        "extra",
        "free_form",
        "in_status",
        "is_root",
        "keeps_unknown",
        "python_types",
        "rejects_bool",
        "required",
        "types",
    )

    def __init__(self, compiler: _Compiler, node: JSON, in_status: bool, is_root: bool) -> None:
        types = frozenset(type_names(node))
        exact: set[type] = {_NONE}
        for name in types:
            exact.update(_EXACT_SCALARS.get(name, ()))
        super().__init__(frozenset(exact) if types else _ANY_SCALAR)
        self._compiler = compiler
        self.types = types
        self.python_types = tuple({t for name in types for t in _PY_TYPES.get(name, (object,))})
        self.rejects_bool = "boolean" not in types
        # The exact JSON value types that pass the type check (the usual case, decided by one
        # set lookup); other types, subclasses included, take the isinstance path.
        self.accepted_exact = frozenset(
            t for t in (dict, list, str, int, float, bool)
            if not types or (isinstance(t(), self.python_types) and not (self.rejects_bool and t is bool)))
        self.expected = f"must be of type {' or '.join(sorted(types))}"
        self.in_status = in_status
        self.is_root = is_root
        properties: JSON = node.get("properties") or {}
        extra = node.get("additionalProperties")
        self.free_form = not properties and not isinstance(extra, dict)
        self.keeps_unknown = bool(node.get("x-kubernetes-preserve-unknown-fields"))
        self.required: tuple[str, ...] = tuple(node.get("required") or ())
        self._props_raw = properties
        self._extra_raw = extra if isinstance(extra, dict) else None
        self._items_raw = node.get("items")
        self._ready = False
        self._props: dict[str, _Check] = {}
        self.extra: _Check | None = None
        self._items: _Check | None = None

    def _children(self) -> None:
        """Compiled lazily: schemas are recursive (JSONSchemaProps refers to itself)."""
        compile_ = self._compiler.compile
        for name, raw in self._props_raw.items():
            # Only the root's own "status" starts the status subtree.
            in_status = self.in_status or (self.is_root and name == "status")
            self._props[name] = compile_(raw, in_status)
        if self._extra_raw is not None:
            self.extra = compile_(self._extra_raw, self.in_status)
        self._items = compile_(self._items_raw, self.in_status)
        self._ready = True

    def check(self, value: Any, path: Path, report: SchemaReport) -> None:
        if value is None:
            return
        value_type = type(value)
        if value_type not in self.accepted_exact and self.types and (
                not isinstance(value, self.python_types) or (self.rejects_bool and isinstance(value, bool))):
            report.type_error(path, value, f.type_invalid(render(path), value, self.expected))
            return
        if not self._ready:
            self._children()
        if value_type is dict or isinstance(value, dict):
            # The object walk is inlined here: most checked values are objects, and a second call
            # per object is a measurable share of the whole walk.
            if self.free_form:
                return  # free-form object (RawExtension, JSON): anything goes
            props = self._props
            extra = self.extra
            for name, element in value.items():
                child = props.get(name)
                if child is not None:
                    if type(element) not in child.trivially_valid:
                        child.check(element, (path, name, False), report)
                elif extra is not None:
                    # Map entries print as path[key], as upstream does.
                    if type(element) not in extra.trivially_valid:
                        extra.check(element, (path, name, True), report)
                elif not self.keeps_unknown:
                    report.unknown.append(render((path, name, False)))
            if self.in_status:
                return  # status is written by controllers; upstream does not require its fields
            for name in self.required:
                if value.get(name) is None:
                    report.missing.append(f.required(render((path, name, False))))
        elif isinstance(value, list):
            items = self._items
            assert items is not None
            trivially_valid = items.trivially_valid
            for i, element in enumerate(value):
                if type(element) not in trivially_valid:
                    items.check(element, (path, i, True), report)


class _Compiler:
    """Compiled checks for one Schemas instance, keyed by resolved node (and status-ness)."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        self.quantity = schemas.defs.get(QUANTITY)
        self.int_or_string = schemas.defs.get(INT_OR_STRING)
        self._quantity_check = _QuantityCheck()
        self._int_or_string_check = _IntOrStringCheck()
        # (id(node), in_status, is_root) -> (node, check); holding the node keeps its id unique.
        self._cache: dict[tuple[int, bool, bool], tuple[JSON, _Check]] = {}

    def compile(self, raw: JSON | None, in_status: bool, is_root: bool = False) -> _Check:
        node = self.schemas.resolve(raw)
        if node is None:
            return _ANYTHING
        if node is self.quantity:
            return self._quantity_check
        if node is self.int_or_string:
            return self._int_or_string_check
        key = (id(node), in_status, is_root)
        hit = self._cache.get(key)
        if hit is not None:
            return hit[1]
        check = _NodeCheck(self, node, in_status, is_root)
        self._cache[key] = (node, check)
        return check


_compiler_for = per_schemas(_Compiler)


def check(schemas: Schemas, definition: JSON | None, obj: JSON) -> SchemaReport:
    report = SchemaReport()
    if definition is not None:
        root = _compiler_for(schemas).compile(definition, False, is_root=True)
        if type(obj) not in root.trivially_valid:
            root.check(obj, "", report)
    return report
