"""Upgrading from client-side apply, as upstream's lastAppliedManager / lastAppliedUpdater do.

Both act only for the manager "kubectl" (the default of ``kubectl apply --server-side``), so other
managers opt out by choosing another name:

- conflicts are forgiven on fields whose live value still equals the value recorded in the
  ``kubectl.kubernetes.io/last-applied-configuration`` annotation (client-side apply set them and
  nobody changed them since); the apply is then repeated with force.
- after a successful apply, an existing annotation is rewritten to the new configuration so that
  a later client-side ``kubectl apply`` computes its three-way diff from the right base.

kubectl itself then moves the "kubectl-client-side-apply" entries to its Apply entry with a JSON
patch of ``metadata.managedFields`` (client-go csaupgrade), which the Update path accepts.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubeplane.machinery.apply.conflicts import ApplyConflict, Conflict
from kubeplane.machinery.managedfields.shapes import Shape
from kubeplane.machinery.managedfields.walk import ShapeMismatch, compare, field_set

JSON = dict[str, Any]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL_MANAGER = "kubectl"
# Upstream refuses to write a larger annotation.
MAX_LAST_APPLIED_BYTES = 256 * 1024


def _last_applied(obj: JSON | None) -> str:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else ""


def unforgiven_conflicts(shape: Shape, live: JSON | None, manager: str, error: ApplyConflict) -> list[Conflict]:
    """The conflicts client-side apply history does not excuse (all of them for other managers)."""
    if manager != KUBECTL_MANAGER:
        return error.conflicts
    text = _last_applied(live)
    if not text or live is None:
        return error.conflicts
    try:
        recorded = orjson.loads(text)
        if not isinstance(recorded, dict):
            return error.conflicts
        allowed = field_set(shape, recorded).difference(compare(shape, live, recorded).modified)
    except (orjson.JSONDecodeError, ShapeMismatch):
        return error.conflicts
    return [c for c in error.conflicts if c.path not in allowed]


def sync_annotation(result: JSON, live: JSON | None, config: JSON, manager: str) -> None:
    """Rewrite an existing last-applied annotation to the configuration just applied."""
    if manager != KUBECTL_MANAGER or not _last_applied(live):
        return
    recorded = dict(config)
    meta = dict(recorded.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    recorded["metadata"] = meta
    text = orjson.dumps(recorded).decode()
    if len(text) > MAX_LAST_APPLIED_BYTES:
        return
    result_meta = result.setdefault("metadata", {})
    result_meta["annotations"] = {**(result_meta.get("annotations") or {}), LAST_APPLIED: text}
