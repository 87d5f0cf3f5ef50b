"""Element order of merged lists in a strategic merge patch.

Upstream's rule (design proposal "preserve order in strategic merge patch"): the order given by
``$setElementOrder`` wins, then the order of the patch list, then the order of the live list. Items
of the merged list are split into those the patch names and server-only ones; each part is sorted
by its own reference order, then the server-only items are woven back in wherever the live list
had them before a patch item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubeplane.machinery.patch._errors import go_repr, go_type, merge_failure

DIRECTIVE = "$patch"
DELETE = "delete"


def same(a: Any, b: Any) -> bool:
    """Equality as Go compares decoded JSON scalars: a bool never equals a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def no_merge_key(item: Any, merge_key: str) -> Exception:
    return merge_failure(f"map: {go_repr(item)} does not contain declared merge key: {merge_key}")


def require_merge_key(items: Sequence[Any], merge_key: str) -> None:
    """Every element of a list merged by key must be a map carrying that key."""
    if not merge_key:
        return
    for item in items:
        if not isinstance(item, dict) or merge_key not in item:
            raise no_merge_key(item, merge_key)


def identity(item: Any, merge_key: str) -> Any:
    """What identifies a list element: its merge-key value for maps, itself for primitives."""
    if merge_key:
        return item.get(merge_key) if isinstance(item, dict) else None
    return item


def index_of(items: Sequence[Any], item: Any, merge_key: str) -> int:
    wanted = identity(item, merge_key)
    for i, candidate in enumerate(items):
        if same(identity(candidate, merge_key), wanted):
            return i
    return -1


def partition(merged: Sequence[Any], present_in: Sequence[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split ``merged`` into (items named by ``present_in``, the rest), keeping relative order."""
    require_merge_key(merged, merge_key)
    named: list[Any] = []
    rest: list[Any] = []
    for item in merged:
        (named if index_of(present_in, item, merge_key) >= 0 else rest).append(item)
    return named, rest


def _sort_by(items: Sequence[Any], order: Sequence[Any], merge_key: str) -> list[Any]:
    require_merge_key([*items, *order], merge_key)
    kept = [i for i in items if not (isinstance(i, dict) and i.get(DIRECTIVE) == DELETE)]
    deleted = [i for i in items if isinstance(i, dict) and i.get(DIRECTIVE) == DELETE]

    def position(item: Any) -> tuple[int, int]:
        at = index_of(order, item, merge_key)
        return (0, at) if at >= 0 else (1, 0)  # unknown items keep their place after the known ones

    return sorted(kept, key=position) + deleted


def _weave(server_only: list[Any], patch_items: list[Any], server_order: Sequence[Any], merge_key: str) -> list[Any]:
    """Insert server-only items among patch items, before the first patch item that followed them live."""
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if j >= len(patch_items):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(patch_items[j])
            j += 1
        else:
            left = index_of(server_order, server_only[i], merge_key)
            right = index_of(server_order, patch_items[j], merge_key)
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patch_items[j])
                j += 1
    return out


def normalize(patch_items: list[Any], server_only: list[Any], patch_order: Sequence[Any],
              server_order: Sequence[Any], merge_key: str) -> list[Any]:
    """Upstream's normalizeElementOrder."""
    return _weave(_sort_by(server_only, server_order, merge_key), _sort_by(patch_items, patch_order, merge_key),
                  server_order, merge_key)


def check_order_list(patch_list: Sequence[Any], order: Sequence[Any], merge_key: str) -> None:
    """The patch list must name its items in the same relative order as ``$setElementOrder``."""
    if not order or not patch_list:
        return
    items = list(patch_list)
    if merge_key:
        if not all(isinstance(i, dict) for i in items):
            bad = next(i for i in items if not isinstance(i, dict))
            raise merge_failure(f"expected a map[string]interface {{}}, but received a {go_type(bad)}")
        items = [i for i in items if i.get(DIRECTIVE) != DELETE]
    p = o = 0
    while p < len(items) and o < len(order):
        if isinstance(items[p], dict) and DIRECTIVE in items[p]:
            p += 1
            continue
        require_merge_key((items[p], order[o]), merge_key)
        if same(identity(items[p], merge_key), identity(order[o], merge_key)):
            p += 1
        o += 1
    if p < len(items):
        raise merge_failure(f"The order in patch list:\n{go_repr(list(patch_list))}\n doesn't match "
                            f"$setElementOrder list:\n{go_repr(list(order))}\n")
