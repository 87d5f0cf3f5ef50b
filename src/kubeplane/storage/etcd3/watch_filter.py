"""How one change looks to a watcher with a selector (shared by the store and the cacher).

An update that moves an object out of the selector is a DELETED for that watcher (carrying the
old object at the new revision), one that moves it in is an ADDED, as upstream."""

from __future__ import annotations

from kubeplane.storage.interface import ADDED, DELETED, MODIFIED, Predicate, WatchEvent


def visible_event(event: WatchEvent, predicate: Predicate | None) -> WatchEvent | None:
    if predicate is None or event.type not in (ADDED, MODIFIED, DELETED):
        return event
    if event.type in (ADDED, DELETED):
        return event if predicate(event.object) else None
    now = predicate(event.object)
    before = event.prev_object is not None and predicate(event.prev_object)
    if now and before:
        return event
    if now:
        return WatchEvent(ADDED, event.object, event.prev_object)
    if before and event.prev_object is not None:
        return WatchEvent(DELETED, event.prev_object, event.prev_object)
    return None
