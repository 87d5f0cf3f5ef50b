"""Drop fields an object's schema does not declare, reporting them.

Upstream decodes bodies into typed structs, so unknown fields silently vanish (or, with
``fieldValidation=Strict``, fail the request). Our objects are dicts, so the schema walk here does
the same job: it removes what a typed decode would drop and names each path the way the API
server's strict decoding error does (``spec.containers[0].foo``).

Every create and update body goes through this walk, so for built-in kinds each schema node is
compiled once into a ``_Pruner`` (its properties, map values and list items resolved up front) and
scalar values are skipped without a call. Other schemas (a CRD's, which change with the CRD) are
walked as they come, with the same rules.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.schema import JSON, Schemas, per_schemas

_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_TOP_LEVEL_TYPE_META = ("apiVersion", "kind")


def prune_unknown_fields(schemas: Schemas, node: JSON | None, obj: Any, path: str = "") -> list[str]:
    """Remove undeclared fields from ``obj`` in place; return their paths in document order."""
    removed: list[str] = []
    resolved = schemas.resolve(node)
    compiler = _compiler_for(schemas)
    if resolved is not None and compiler.is_definition(resolved):
        pruner = compiler.compile(resolved)
        # Almost every body is clean: look for an unknown field without spelling any path first,
        # and walk again with paths only when there is something to remove.
        if pruner is not None and isinstance(obj, dict | list) and pruner.has_unknown(obj, not path):
            pruner.prune(obj, path, removed)
    else:
        _prune(schemas, resolved, obj, path, removed)
    return removed


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prune(schemas: Schemas, node: JSON | None, obj: Any, path: str, removed: list[str]) -> None:
    if node is None or node.get(_PRESERVE):
        return
    if isinstance(obj, dict):
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if props is None:
            # A map (additionalProperties) or an opaque object (RawExtension): walk values only.
            if isinstance(extra, dict):
                value_node = schemas.resolve(extra)
                for key, value in obj.items():
                    _prune(schemas, value_node, value, _join(path, key), removed)
            return
        for key in list(obj):
            child = props.get(key)
            if child is None:
                if key in _TOP_LEVEL_TYPE_META and not path:
                    continue
                removed.append(_join(path, key))
                del obj[key]
                continue
            _prune(schemas, schemas.resolve(child), obj[key], _join(path, key), removed)
    elif isinstance(obj, list):
        item_node = schemas.resolve(node.get("items"))
        for index, item in enumerate(obj):
            _prune(schemas, item_node, item, f"{path}[{index}]", removed)


class _Pruner:
    """``_prune`` for one resolved schema node (never a preserve-unknown-fields one: those prune
    nothing and compile to None)."""

    __slots__ = ("_check_extra", "_check_items", "_check_props", "_checks_ready", "_compiler", "_extra_raw", "_items",
                 "_items_raw", "_nothing", "_props", "_props_raw", "_ready", "extra", "map_only")

    def __init__(self, compiler: _Compiler, node: JSON) -> None:
        self._compiler = compiler
        props = node.get("properties")
        extra = node.get("additionalProperties")
        # Without properties an object is a map (walk its values) or opaque (keep everything).
        self.map_only = props is None
        self._props_raw: JSON = props or {}
        self._extra_raw = extra if isinstance(extra, dict) else None
        self._items_raw = node.get("items")
        self._ready = False
        self._props: dict[str, _Pruner | None] = {}
        self.extra: _Pruner | None = None
        self._items: _Pruner | None = None
        # For has_unknown: the children as above, but None where nothing below can be pruned.
        self._checks_ready = False
        self._check_props: dict[str, _Pruner | None] = {}
        self._check_extra: _Pruner | None = None
        self._check_items: _Pruner | None = None
        self._nothing: bool | None = None

    def _children(self) -> None:
        """Compiled lazily: schemas are recursive."""
        resolve = self._compiler.schemas.resolve
        compile_ = self._compiler.compile
        for name, raw in self._props_raw.items():
            self._props[name] = compile_(resolve(raw))
        if self._extra_raw is not None:
            self.extra = compile_(resolve(self._extra_raw))
        self._items = compile_(resolve(self._items_raw))
        self._ready = True

    def prunes_nothing(self) -> bool:
        """Whether no value whatsoever loses a field here: a map (or scalar) node whose values
        and items prune nothing either (string maps, lists of strings, scalars)."""
        if self._nothing is None:
            self._nothing = False  # while computing: a cycle counts as "may prune" (no shortcut)
            if not self._ready:
                self._children()
            self._nothing = self.map_only and all(
                child is None or child.prunes_nothing() for child in (self.extra, self._items))
        return self._nothing

    def _checks(self) -> None:
        if not self._ready:
            self._children()

        def useful(child: _Pruner | None) -> _Pruner | None:
            return None if child is None or child.prunes_nothing() else child

        self._check_props = {name: useful(child) for name, child in self._props.items()}
        self._check_extra = useful(self.extra)
        self._check_items = useful(self._items)
        self._checks_ready = True

    def has_unknown(self, obj: Any, top_level: bool) -> bool:
        """Whether ``prune`` would remove anything from ``obj`` (a dict or a list); ``top_level``
        when ``obj`` is the root of the walk (path ""), where apiVersion and kind are allowed."""
        if not self._checks_ready:
            self._checks()
        if not isinstance(obj, dict):
            items = self._check_items
            if items is not None:
                for item in obj:
                    if isinstance(item, dict | list) and items.has_unknown(item, False):
                        return True
            return False
        if self.map_only:
            extra = self._check_extra
            if extra is not None:
                for key, value in obj.items():
                    if isinstance(value, dict | list) and extra.has_unknown(value, top_level and not key):
                        return True
            return False
        props = self._check_props
        for key, value in obj.items():
            if key in props:
                child = props[key]
                # A child's path is empty only under an empty key at the root, as ``_join`` spells it.
                if child is not None and isinstance(value, dict | list) and child.has_unknown(
                        value, top_level and not key):
                    return True
            elif not (top_level and key in _TOP_LEVEL_TYPE_META):
                return True
        return False

    def prune(self, obj: Any, path: str, removed: list[str]) -> None:
        """``obj`` is a dict or a list."""
        if not self._ready:
            self._children()
        if not isinstance(obj, dict):
            items = self._items
            if items is not None:
                for index, item in enumerate(obj):
                    if isinstance(item, dict | list):
                        items.prune(item, f"{path}[{index}]", removed)
            return
        if self.map_only:
            extra = self.extra
            if extra is not None:
                for key, value in obj.items():
                    if isinstance(value, dict | list):
                        extra.prune(value, _join(path, key), removed)
            return
        props = self._props
        unknown: list[str] | None = None
        for key, value in obj.items():
            if key in props:
                child = props[key]
                if child is not None and isinstance(value, dict | list):
                    child.prune(value, _join(path, key), removed)
            elif not (key in _TOP_LEVEL_TYPE_META and not path):
                if unknown is None:
                    unknown = []
                unknown.append(key)
                removed.append(_join(path, key))
        if unknown:
            for key in unknown:
                del obj[key]


class _Compiler:
    """Compiled pruners for the built-in definitions of one Schemas instance."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        self._definition_ids = {id(node) for node in schemas.defs.values()}
        # id(node) -> (node, pruner); holding the node keeps its id unique.
        self._cache: dict[int, tuple[JSON, _Pruner | None]] = {}

    def is_definition(self, node: JSON) -> bool:
        return id(node) in self._definition_ids

    def compile(self, node: JSON | None) -> _Pruner | None:
        if node is None or node.get(_PRESERVE):
            return None
        hit = self._cache.get(id(node))
        if hit is not None:
            return hit[1]
        pruner = _Pruner(self, node)
        self._cache[id(node)] = (node, pruner)
        return pruner


_compiler_for = per_schemas(_Compiler)
