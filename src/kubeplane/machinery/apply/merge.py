"""Merging an applied configuration onto the live object (structured-merge-diff ``TypedValue.Merge``).

The configuration wins for every leaf it sets (scalars, atomic maps and lists); granular maps and
structs merge key by key; associative and set lists merge element by element, matched by their
path element (keys or value), so an applier never has to repeat elements others added.

Element order follows upstream's walk of both lists at once: elements only the live list has are
kept where they are met, shared elements come in the configuration's order, and elements only the
configuration has are emitted when the configuration walk reaches them.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.managedfields.shapes import KEYED_LIST, MAP, SET_LIST, Shape, effective_kind
from kubeplane.machinery.managedfields.walk import ShapeMismatch, list_element

ABSENT: Any = object()


def merge(shape: Shape, live: Any, config: Any) -> Any:
    """``config`` merged onto ``live``; either may be ``ABSENT``. Inputs are never mutated."""
    if config is ABSENT:
        return live
    if live is ABSENT:
        return config
    kind = effective_kind(shape, config)
    if kind != effective_kind(shape, live):
        return config
    if kind == MAP:
        return _merge_maps(shape, live, config)
    if kind in (KEYED_LIST, SET_LIST):
        return _merge_lists(shape, live, config)
    return config


def _merge_maps(shape: Shape, live: Any, config: Any) -> Any:
    if not isinstance(config, dict):
        # null for a granular map keeps what is there (upstream merges against a nil map)
        return live if isinstance(live, dict) and live and config is None else config
    if not isinstance(live, dict) or (not live and not config):
        return config
    out = {key: merge(shape.child(key), value, config.get(key, ABSENT)) for key, value in live.items()}
    for key, value in config.items():
        if key not in live:
            out[key] = value
    return out


def _index(shape: Shape, items: list[Any]) -> list[tuple[str, Any]]:
    """(path element, item) pairs; a repeated element keeps its first occurrence."""
    seen: set[str] = set()
    out = []
    for item in items:
        element = list_element(shape, item)
        if element not in seen:
            seen.add(element)
            out.append((element, item))
    return out


def _merge_lists(shape: Shape, live: Any, config: Any) -> Any:
    if not isinstance(config, list) or not isinstance(live, list) or (not live and not config):
        return config
    elem = shape.element()
    live_items = _index(shape, live)
    config_items = _index(shape, config)
    live_by_pe = dict(live_items)
    config_by_pe = dict(config_items)
    # The shared elements in the order the configuration wants them; a shared element met early
    # in the live walk waits until the configuration walk reaches it.
    shared = [pe for pe, _ in config_items if pe in live_by_pe]
    next_shared = 0
    done: set[str] = set()
    out: list[Any] = []
    li = ci = 0
    while li < len(live_items) or ci < len(config_items):
        if li < len(live_items) and ci < len(config_items):
            lpe = live_items[li][0]
            if lpe == config_items[ci][0]:
                out.append(merge(elem, live_items[li][1], config_items[ci][1]))
                done.add(lpe)
                li += 1
                ci += 1
                next_shared += 1
                continue
            if lpe in config_by_pe and (next_shared >= len(shared) or shared[next_shared] != lpe):
                li += 1
                continue
        if li < len(live_items):
            lpe, lvalue = live_items[li]
            if lpe not in config_by_pe:
                out.append(lvalue)  # only the live object has it: keep it where it was
                li += 1
                continue
            if lpe in done:
                li += 1
                continue
        if ci < len(config_items):
            cpe, cvalue = config_items[ci]
            out.append(merge(elem, live_by_pe.get(cpe, ABSENT), cvalue))
            done.add(cpe)
            ci += 1
            if next_shared < len(shared) and shared[next_shared] == cpe:
                next_shared += 1
    return out


__all__ = ["ABSENT", "ShapeMismatch", "merge"]
