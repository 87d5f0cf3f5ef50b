"""Finding, from a child's change, the owners to sync (upstream's ``resolveControllerRef`` and
``getPodReplicaSets`` and their copies in each workload controller).

A child with a controller reference belongs to that owner alone, if it still exists with the
same UID. An orphan may be adopted by any owner of the kind whose selector matches it, so each
of those is synced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeplane.client import DeletedFinalStateUnknown, EventHandlers, Informer
from kubeplane.controllers.controller import is_resync, unwrap_tombstone
from kubeplane.controllers.ownership import controller_ref, labels_of, resolve_controller_ref, selector_of

JSON = dict[str, Any]


class Owners:
    """The cached owners of one kind, looked up from their children."""

    def __init__(self, informer: Informer, kind: str) -> None:
        self.informer = informer
        self.kind = kind

    def owner_of(self, child: JSON) -> JSON | None:
        """The owner the child's controller reference names, if it is of this kind and live."""
        namespace = child["metadata"].get("namespace")
        return resolve_controller_ref(child, self.kind, lambda name: self.informer.get(name, namespace))

    def selecting(self, child: JSON) -> list[JSON]:
        """Owners whose selector matches the child (an empty or broken selector matches nothing)."""
        found = []
        for owner in self.informer.list(child["metadata"].get("namespace")):
            selector = selector_of(owner)
            if selector is not None and not selector.empty and selector.matches(labels_of(child)):
                found.append(owner)
        return found

    def to_sync(self, child: JSON) -> list[JSON]:
        """The owners a change of the child concerns: its controller, or for an orphan every
        owner that may adopt it."""
        if controller_ref(child) is not None:
            owner = self.owner_of(child)
            return [owner] if owner is not None else []
        return self.selecting(child)

    def left_by(self, old: JSON, new: JSON) -> list[JSON]:
        """The owner a child's update took it from, when its controller reference changed."""
        old_ref = controller_ref(old)
        if old_ref is None or old_ref == controller_ref(new):
            return []
        previous = self.owner_of(old)
        return [previous] if previous is not None else []

    def child_handlers(self, enqueue: Callable[[JSON], None]) -> EventHandlers:
        """Handlers for a kind these owners control, when its changes need no bookkeeping: a new
        or changed child syncs the owners it concerns (the one it left too), a deleted child its
        owner."""

        def added(child: JSON) -> None:
            for owner in self.to_sync(child):
                enqueue(owner)

        def updated(old: JSON, new: JSON) -> None:
            if is_resync(old, new):
                return
            for owner in (*self.left_by(old, new), *self.to_sync(new)):
                enqueue(owner)

        def deleted(obj: JSON | DeletedFinalStateUnknown) -> None:
            owner = self.owner_of(unwrap_tombstone(obj))
            if owner is not None:
                enqueue(owner)

        return EventHandlers(on_add=added, on_update=updated, on_delete=deleted)
