"""Reconciling the bootstrap policy into what a cluster already has (upstream's rbac reconciliation,
in the mode kube-apiserver uses at start: add what is missing, never remove).

An object annotated ``rbac.authorization.kubernetes.io/autoupdate: "false"`` is left alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kubeplane.apiserver.authz.coverage import uncovered

JSON = dict[str, Any]

AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"

CREATE, UPDATE, RECREATE, NONE = "Create", "Update", "Recreate", "None"


@dataclass
class ReconcileResult:
    """``operation`` is Create, Update, Recreate (roleRef changed: delete then create) or None."""

    operation: str
    object: JSON | None = None
    protected: bool = False


def _is_role(obj: JSON) -> bool:
    return obj.get("kind") in ("Role", "ClusterRole")


def _merge_metadata(result: JSON, desired: JSON) -> bool:
    """Add desired labels and annotations the object lacks (existing values win); True if any added."""
    meta = result.setdefault("metadata", {})
    changed = False
    for key in ("labels", "annotations"):
        wanted = desired.get("metadata", {}).get(key) or {}
        merged = {**wanted, **(meta.get(key) or {})}
        if merged != (meta.get(key) or {}):
            meta[key] = merged
            changed = True
    return changed


def _reconcile_role_rules(result: JSON, existing: JSON, desired: JSON) -> bool:
    changed = False
    missing = uncovered(list(existing.get("rules") or []), list(desired.get("rules") or []))
    if missing:
        result["rules"] = list(existing.get("rules") or []) + missing
        changed = True
    wanted_rule, have_rule = desired.get("aggregationRule"), existing.get("aggregationRule")
    if wanted_rule is None and have_rule is not None:
        del result["aggregationRule"]
        return True
    if wanted_rule is not None:
        have = list((have_rule or {}).get("clusterRoleSelectors") or [])
        add = [s for s in wanted_rule.get("clusterRoleSelectors") or [] if s not in have]
        if add:
            result["aggregationRule"] = {**(have_rule or {}), "clusterRoleSelectors": have + add}
            changed = True
    return changed


def _reconcile_subjects(result: JSON, existing: JSON, desired: JSON) -> bool:
    have = list(existing.get("subjects") or [])
    missing = [s for s in desired.get("subjects") or [] if s not in have]
    if missing:
        result["subjects"] = have + missing
        return True
    return False


def reconcile_object(existing: JSON | None, desired: JSON) -> ReconcileResult:
    if existing is None:
        return ReconcileResult(CREATE, copy.deepcopy(desired))
    annotations = existing.get("metadata", {}).get("annotations") or {}
    protected = annotations.get(AUTOUPDATE_ANNOTATION) == "false"
    if not _is_role(desired) and existing.get("roleRef") != desired.get("roleRef"):
        result = ReconcileResult(RECREATE, copy.deepcopy(desired), protected)
    else:
        obj = copy.deepcopy(existing)
        changed = _merge_metadata(obj, desired)
        if _is_role(desired):
            changed = _reconcile_role_rules(obj, existing, desired) or changed
        else:
            changed = _reconcile_subjects(obj, existing, desired) or changed
        result = ReconcileResult(UPDATE if changed else NONE, obj if changed else None, protected)
    if protected:
        # Upstream computes the change but never applies it to a protected object.
        return ReconcileResult(NONE, None, protected=True)
    return result


def reconcile(existing: JSON | None, desired: JSON) -> JSON | None:
    """The object to write (create when ``existing`` is None), or None when nothing should change.

    A binding whose roleRef differs comes back as ``desired``: roleRef is immutable, so the caller
    must delete and re-create (``reconcile_object`` says so with operation Recreate).
    """
    return reconcile_object(existing, desired).object
