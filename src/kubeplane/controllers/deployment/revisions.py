"""Which ReplicaSet is the new one, and the annotations that number the rollout's revisions.

``deployment.kubernetes.io/revision`` on each ReplicaSet (and on the Deployment, for its newest)
is what ``kubectl rollout history`` lists and ``kubectl rollout undo`` looks up: undo patches
the Deployment's template back to an old ReplicaSet's, that ReplicaSet becomes the new one
again and is renumbered above all others, its old number kept in ``revision-history``.
"""

from __future__ import annotations

from typing import Any

from kubeplane.controllers.deployment.hashing import POD_TEMPLATE_HASH_LABEL
from kubeplane.controllers.deployment.replicas import desired_replicas, max_surge
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"

# Deployment annotations that describe the Deployment itself, not its ReplicaSets.
NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})
MAX_REVISION_HISTORY_CHARS = 2000  # upstream's --deployment-controller revision history bound


def annotations_of(obj: JSON) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def revision(obj: JSON) -> int:
    try:
        return int(annotations_of(obj).get(REVISION, "0"))
    except ValueError:
        return 0


def max_revision(sets: list[JSON]) -> int:
    return max((revision(rs) for rs in sets), default=0)


def _template_without_hash(template: JSON | None) -> JSON:
    copy = clone(template or {})
    labels = (copy.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH_LABEL, None)
        if not labels:
            del copy["metadata"]["labels"]
    meta = copy.get("metadata")
    if meta is not None and not meta:
        del copy["metadata"]
    return copy


def equal_ignore_hash(a: JSON | None, b: JSON | None) -> bool:
    """Templates equal apart from the pod-template-hash label (upstream ``EqualIgnoreHash``)."""
    return _template_without_hash(a) == _template_without_hash(b)


def by_creation(sets: list[JSON]) -> list[JSON]:
    """Oldest first; the name breaks ties (upstream ``ReplicaSetsByCreationTimestamp``)."""
    return sorted(sets, key=lambda rs: (rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]))


def find_new_replica_set(deployment: JSON, sets: list[JSON]) -> JSON | None:
    """The oldest ReplicaSet whose template is the Deployment's (several can match after a hash
    collision; the oldest wins so the choice is stable)."""
    template = (deployment.get("spec") or {}).get("template")
    for rs in by_creation(sets):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def find_old_replica_sets(deployment: JSON, sets: list[JSON], new_rs: JSON | None) -> list[JSON]:
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    return [rs for rs in sets if rs["metadata"].get("uid") != new_uid]


def set_new_rs_annotations(deployment: JSON, rs: JSON, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations onto its new ReplicaSet and number it; True if changed."""
    meta = rs.setdefault("metadata", {})
    rs_annotations: dict[str, str] = dict(meta.get("annotations") or {})
    before = dict(rs_annotations)
    for key, value in annotations_of(deployment).items():
        if key not in NOT_COPIED:
            rs_annotations[key] = value
    old_text = rs_annotations.get(REVISION, "")
    old_revision = revision(rs)
    if old_revision < new_revision:
        rs_annotations[REVISION] = str(new_revision)
        if old_text:
            history = [h for h in rs_annotations.get(REVISION_HISTORY, "").split(",") if h]
            history.append(old_text)
            while len(",".join(history)) > MAX_REVISION_HISTORY_CHARS and len(history) > 1:
                history.pop(0)
            rs_annotations[REVISION_HISTORY] = ",".join(history)
    if not exists:
        rs_annotations.update(replicas_annotations(deployment))
    meta["annotations"] = rs_annotations
    return rs_annotations != before


def replicas_annotations(deployment: JSON) -> dict[str, str]:
    """What proportional scaling later reads back: the size and the size-plus-surge the
    Deployment had when this ReplicaSet was last scaled for it."""
    replicas = desired_replicas(deployment)
    return {DESIRED_REPLICAS: str(replicas), MAX_REPLICAS: str(replicas + max_surge(deployment))}


def replicas_annotations_need_update(rs: JSON, deployment: JSON) -> bool:
    current = annotations_of(rs)
    return any(current.get(key) != value for key, value in replicas_annotations(deployment).items())


def annotated_int(rs: JSON, key: str) -> int | None:
    try:
        return int(annotations_of(rs)[key])
    except (KeyError, ValueError):
        return None
