"""Strategic merge patch (application/strategic-merge-patch+json), as kube-apiserver applies it.

The schema decides how each field merges: ``x-kubernetes-patch-strategy`` (``merge``, ``replace``,
``retainKeys`` or ``merge,retainKeys``) and ``x-kubernetes-patch-merge-key``. Lists with strategy
``merge`` merge element-wise (maps by their merge key, primitives as sets); every other list is
replaced; maps merge key by key and ``null`` deletes. Fields the schema does not describe merge like a
JSON merge patch, as upstream does when it has no patch metadata.

Directives understood: ``$patch: replace|delete`` (in maps and in merge lists), ``$retainKeys``,
``$setElementOrder/<list>`` and ``$deleteFromPrimitiveList/<list>`` — everything client-side
``kubectl apply`` and ``kubectl patch`` send.

One deliberate difference from upstream: values that land in the object without being merged (new
keys, new list elements, replaced lists) are cleaned of directives and nulls. Upstream copies them raw
and relies on decoding into Go structs to drop the leftovers; our objects stay plain JSON, so a stray
``$setElementOrder/...`` would otherwise be stored.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kubeplane.machinery.patch import _ordering
from kubeplane.machinery.patch._errors import bad_patch, go_repr, go_type, merge_failure, rejected
from kubeplane.machinery.schema import Schemas

JSON = dict[str, Any]

DIRECTIVE = _ordering.DIRECTIVE
REPLACE, DELETE, MERGE = "replace", "delete", "merge"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

# Upstream's mergepatch sentinel errors, answered as 400 by the patch handler.
BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"


@dataclass(frozen=True)
class FieldMeta:
    """Patch metadata of one field: its (resolved) schema and how it merges."""

    schema: JSON | None = None
    strategy: str = ""  # "merge", "replace" or "" (retainKeys only affects how clients build patches)
    merge_key: str = ""


def apply(doc: JSON, patch: Any, schema_node: JSON | None, schemas: Schemas | None) -> JSON:
    """Apply a strategic merge patch to a copy of ``doc``.

    ``schema_node`` is the schema of the object's kind (``schemas.for_kind(...)``); None, or a node
    without patch extensions, gives JSON-merge-patch behaviour.
    """
    if not isinstance(patch, dict):
        raise bad_patch("invalid JSON document")
    return _Merger(schemas).merge_map(copy.deepcopy(doc), copy.deepcopy(patch), schema_node)


class _Merger:
    def __init__(self, schemas: Schemas | None) -> None:
        self.schemas = schemas

    # --- schema lookups --------------------------------------------------------------------------

    def _resolve(self, node: JSON | None) -> JSON | None:
        return self.schemas.resolve(node) if self.schemas is not None else node

    def field_meta(self, node: JSON | None, key: str) -> FieldMeta:
        node = self._resolve(node)
        if node is None:
            return FieldMeta()
        raw = (node.get("properties") or {}).get(key)
        if raw is None and isinstance(node.get("additionalProperties"), dict):
            raw = node["additionalProperties"]
        if raw is None:
            return FieldMeta()
        strategy = _strategy(str(raw.get("x-kubernetes-patch-strategy", "")))
        return FieldMeta(self._resolve(raw), strategy, str(raw.get("x-kubernetes-patch-merge-key", "")))

    def items_of(self, meta: FieldMeta) -> JSON | None:
        if meta.schema is None:
            return None
        return self._resolve(meta.schema.get("items"))

    # --- maps ------------------------------------------------------------------------------------

    def merge_map(self, original: JSON, patch: JSON, node: JSON | None) -> JSON:
        if DIRECTIVE in patch:
            directive = patch[DIRECTIVE]
            if directive == REPLACE:
                return self.fresh_map({k: v for k, v in patch.items() if k != DIRECTIVE}, node)
            if directive == DELETE:
                return {}
            raise merge_failure(f"unknown patch type: {go_repr(directive)} in map: {go_repr(patch)}")
        _apply_retain_keys(original, patch)
        self._merge_ordered_lists(original, patch, node)
        for key, value in patch.items():
            is_delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST + "/")
            if is_delete_list:
                key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
            if value is None:
                original.pop(key, None)
                continue
            meta = self.field_meta(node, key)
            if key not in original:
                if not is_delete_list:
                    original[key] = self.fresh(value, meta)
                continue
            current = original[key]
            if isinstance(current, dict) and isinstance(value, dict):
                original[key] = (self.fresh_map(value, meta.schema) if meta.strategy == REPLACE
                                 else self.merge_map(current, value, meta.schema))
            elif isinstance(current, list) and isinstance(value, list):
                original[key] = self.merge_list_field(current, value, meta, is_delete_list)
            elif not is_delete_list:
                original[key] = self.fresh(value, meta)
        return original

    def _merge_ordered_lists(self, original: JSON, patch: JSON, node: JSON | None) -> None:
        """Handle each ``$setElementOrder/<list>`` together with its list, removing both from the patch."""
        for directive_key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER + "/")]:
            order = patch.pop(directive_key)
            if not isinstance(order, list):
                raise merge_failure(f"expected a []interface {{}}, but received a {go_type(order)}")
            key = _extract_key(directive_key, SET_ELEMENT_ORDER)
            in_original, in_patch = key in original, key in patch
            current, wanted = original.get(key), patch.get(key)
            for value in (current, wanted):
                if value is not None and not isinstance(value, list):
                    raise merge_failure(f"expected a []interface {{}}, but received a {go_type(value)}")
            meta = self.field_meta(node, key)
            _ordering.check_order_list(wanted or [], order, meta.merge_key)
            if in_original and in_patch:
                merged = self.merge_list_field(current or [], wanted or [], meta, False)
            elif in_patch:
                merged = self.fresh_list(wanted or [], meta)
            elif in_original:
                merged = current or []
            else:
                continue
            named, server_only = _ordering.partition(merged, order, meta.merge_key)
            original[key] = _ordering.normalize(named, server_only, order, current or [], meta.merge_key)
            patch.pop(key, None)

    # --- lists -----------------------------------------------------------------------------------

    def merge_list_field(self, current: list[Any], patch: list[Any], meta: FieldMeta, is_delete_list: bool) -> list[Any]:
        if meta.strategy != MERGE:
            # A deletion list only makes sense for merging lists; anything else replaces the list.
            return current if is_delete_list else self.fresh_list(patch, meta)
        if not current and not patch:
            return current
        if _element_kind(current + patch) != "map":
            return _merge_primitives(current, patch, is_delete_list)
        if not meta.merge_key:
            raise merge_failure("cannot merge lists without merge key for map[string]interface {}")
        return self._merge_maps_by_key(current, patch, meta)

    def _merge_maps_by_key(self, current: list[Any], patch: list[Any], meta: FieldMeta) -> list[Any]:
        merge_key, item_node = meta.merge_key, self.items_of(meta)
        server, plain_items, replaced = _apply_list_directives(current, patch, merge_key)
        if replaced:
            return self.fresh_list(server, meta)
        merged = list(server)
        for item in plain_items:
            if merge_key not in item:
                raise _ordering.no_merge_key(item, merge_key)
            at = _find_by_key(merged, merge_key, item[merge_key])
            if at >= 0:
                merged[at] = self.merge_map(merged[at], item, item_node)
            else:
                merged.append(self.fresh_map(item, item_node))
        named, server_only = _ordering.partition(merged, plain_items, merge_key)
        return _ordering.normalize(named, server_only, plain_items, server, merge_key)

    # --- values that land without merging ------------------------------------------------------

    def fresh(self, value: Any, meta: FieldMeta) -> Any:
        if isinstance(value, dict):
            return self.fresh_map(value, meta.schema)
        if isinstance(value, list):
            return self.fresh_list(value, meta)
        return value

    def fresh_map(self, value: JSON, node: JSON | None) -> JSON:
        return self.merge_map({}, value, node)

    def fresh_list(self, items: list[Any], meta: FieldMeta) -> list[Any]:
        item_node = self.items_of(meta)
        return [self.fresh_map(i, item_node) if isinstance(i, dict) else i
                for i in items if not (isinstance(i, dict) and DIRECTIVE in i)]


def _strategy(declared: str) -> str:
    parts = [p for p in declared.split(",") if p] if declared else []
    others = [p for p in parts if p != "retainKeys"]
    if len(parts) > 2 or (len(parts) == 2 and len(others) != 1):
        raise merge_failure(f"unexpected patch strategy: [{' '.join(parts)}]")
    return others[0] if others else ""


def _extract_key(directive_key: str, prefix: str) -> str:
    head, _, rest = directive_key.partition("/")
    if head != prefix:
        raise bad_patch(BAD_PRIMITIVE_LIST if prefix == DELETE_FROM_PRIMITIVE_LIST else BAD_SET_ELEMENT_ORDER)
    return rest


def _apply_retain_keys(original: JSON, patch: JSON) -> None:
    """``$retainKeys``: drop from ``original`` every key not listed; the patch may only set listed keys."""
    if RETAIN_KEYS not in patch:
        return
    retained = patch.pop(RETAIN_KEYS)
    if not isinstance(retained, list):
        raise bad_patch(BAD_RETAIN_KEYS)
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST + "/", SET_ELEMENT_ORDER + "/")):
            continue
        if key not in retained:
            raise bad_patch(BAD_RETAIN_KEYS)
    for key in [k for k in original if k not in retained]:
        del original[key]


def _element_kind(items: list[Any]) -> str:
    """"map" or "primitive" for a list's elements; lists of lists and mixed lists are rejected."""
    kinds = {"map" if isinstance(i, dict) else "list" if isinstance(i, list) else "primitive" for i in items}
    if "list" in kinds:
        # Upstream answers ErrNoListOfLists with its generic 422.
        raise rejected()
    if len(kinds) > 1:
        raise merge_failure(f"list element types are not identical: {go_repr(items)}")
    return kinds.pop()


def _merge_primitives(current: list[Any], patch: list[Any], is_delete_list: bool) -> list[Any]:
    if is_delete_list:
        return [v for v in current if not any(_ordering.same(v, d) for d in patch)]
    merged: list[Any] = []
    for v in current + patch:
        if not any(_ordering.same(v, m) for m in merged):
            merged.append(v)
    named, server_only = _ordering.partition(merged, patch, "")
    return _ordering.normalize(named, server_only, patch, current, "")


def _find_by_key(items: list[Any], merge_key: str, value: Any) -> int:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise merge_failure(f"value for key {i} is not a map.")
        if merge_key in item and _ordering.same(item[merge_key], value):
            return i
    return -1


def _apply_list_directives(current: list[Any], patch: list[Any],
                           merge_key: str) -> tuple[list[Any], list[JSON], bool]:
    """Process ``$patch`` elements of a merging list of maps.

    Returns the live list after deletions and the patch's ordinary elements — or, when the list holds
    ``{"$patch": "replace"}`` anywhere, the patch's ordinary elements as the whole new list (and True).
    """
    server = list(current)
    plain: list[JSON] = []
    replace = False
    for item in patch:
        directive = item.get(DIRECTIVE) if isinstance(item, dict) else None
        if directive is None:
            plain.append(item)
        elif directive == DELETE:
            if merge_key not in item:
                raise _ordering.no_merge_key(item, merge_key)
            while (at := _find_by_key(server, merge_key, item[merge_key])) >= 0:
                del server[at]
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise merge_failure("merging lists cannot yet be specified in the patch")
        else:
            raise merge_failure(f"unknown patch type: {go_repr(directive)} in map: {go_repr(item)}")
    if replace:
        return plain, [], True
    return server, plain, False
