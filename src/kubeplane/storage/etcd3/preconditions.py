"""Upstream's Preconditions.Check, with its messages."""

from __future__ import annotations

from kubeplane.storage.interface import JSON, PreconditionError, Preconditions


def check_preconditions(key: str, preconditions: Preconditions | None, obj: JSON) -> None:
    if preconditions is None:
        return
    metadata = obj.get("metadata", {})
    uid = metadata.get("uid", "")
    if preconditions.uid and preconditions.uid != uid:
        raise PreconditionError(
            key, f"Precondition failed: UID in precondition: {preconditions.uid}, UID in object meta: {uid}")
    rv = metadata.get("resourceVersion", "")
    if preconditions.resource_version and preconditions.resource_version != rv:
        raise PreconditionError(
            key, f"Precondition failed: ResourceVersion in precondition: {preconditions.resource_version}, "
                 f"ResourceVersion in object meta: {rv}")
