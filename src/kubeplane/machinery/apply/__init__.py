"""Server-side apply (``application/apply-patch+yaml``) with structured-merge-diff semantics.

``apply`` is the whole operation a PATCH handler needs: merge, ownership, pruning of fields the
manager stopped applying, conflicts (``ApplyConflict.to_status()`` is upstream's 409), force, and
the client-side-apply upgrade rules for the "kubectl" manager.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kubeplane.machinery.apply.conflicts import ApplyConflict, Conflict, describe_manager, path_string
from kubeplane.machinery.apply.engine import BEFORE_FIRST_APPLY, ApplyRequest, apply_config
from kubeplane.machinery.apply.lastapplied import LAST_APPLIED, sync_annotation, unforgiven_conflicts
from kubeplane.machinery.apply.merge import merge
from kubeplane.machinery.managedfields.shapes import shape_of
from kubeplane.machinery.schema import Schemas

JSON = dict[str, Any]


def apply(schemas: Schemas, node: JSON, live: JSON | None, config: JSON, request: ApplyRequest) -> JSON:
    """``config`` applied onto ``live`` (None creates) by ``request.manager``; the result carries its
    managedFields. Raises ApplyConflict."""
    try:
        result = apply_config(schemas, node, live, config, request)
    except ApplyConflict as conflict:
        remaining = unforgiven_conflicts(shape_of(schemas, node), live, request.manager, conflict)
        if remaining:
            raise ApplyConflict(remaining) from None
        result = apply_config(schemas, node, live, config, replace(request, force=True))
    sync_annotation(result, live, config, request.manager)
    return result


__all__ = [
    "BEFORE_FIRST_APPLY",
    "LAST_APPLIED",
    "ApplyConflict",
    "ApplyRequest",
    "Conflict",
    "apply",
    "describe_manager",
    "merge",
    "path_string",
]
