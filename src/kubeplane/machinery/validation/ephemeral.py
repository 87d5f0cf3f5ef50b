"""Ephemeral containers (upstream's validateEphemeralContainers and
ValidatePodEphemeralContainersUpdate): what a write to ``pods/<name>/ephemeralcontainers`` may do.

Entries may be added, never changed or removed; each is a container that cannot serve the pod
(no ports, probes, resources, lifecycle, ...), named uniquely across all of the pod's containers,
whose ``targetContainerName`` (if any) names a container or init container of the pod.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.errors import Cause

from . import field as f
from . import meta
from ._access import JSON, obj, objs, text
from .pod import _container, _volumes, pod_spec

# The Container fields an ephemeral container may set (upstream's allowedEphemeralContainerFields);
# every other non-empty field is Forbidden, reported in the Container struct's field order.
ALLOWED_FIELDS = frozenset({
    "name", "image", "command", "args", "workingDir", "envFrom", "env", "volumeMounts", "volumeDevices",
    "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext",
    "stdin", "stdinOnce", "tty", "targetContainerName",
})
_CONTAINER_FIELD_ORDER = (
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
    "restartPolicy", "restartPolicyRules", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe",
    "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
    "securityContext", "stdin", "stdinOnce", "tty",
)
NOT_ALLOWED = "cannot be set for an Ephemeral Container"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


def _is_zero(value: Any) -> bool:
    """Go's reflect IsZero as the JSON form shows it: absent, null, empty, false or 0."""
    if isinstance(value, dict):
        return all(_is_zero(v) for v in value.values())
    return value in (None, "", 0, False, [])


def _forbidden_fields(path: str, ctr: JSON) -> list[Cause]:
    ordered = [k for k in _CONTAINER_FIELD_ORDER if k in ctr] + sorted(set(ctr) - set(_CONTAINER_FIELD_ORDER))
    return [f.forbidden(f.child(path, key), NOT_ALLOWED)
            for key in ordered if key not in ALLOWED_FIELDS and not _is_zero(ctr[key])]


def ephemeral_containers(path: str, spec: JSON, volumes: set[str], minor: str) -> list[Cause]:
    """The rules for ``spec.ephemeralContainers`` (``path``) given the pod's spec."""
    others = {text(c, "name") for key in ("containers", "initContainers") for _, c in objs(spec, key)}
    all_names = set(others)
    causes: list[Cause] = []
    for i, ctr in objs(spec, "ephemeralContainers"):
        ctr_path = f.index(path, i)
        causes += _container(ctr_path, ctr, volumes, minor)
        name = text(ctr, "name")
        if name in all_names:
            causes.append(f.duplicate(f.child(ctr_path, "name"), name))
        else:
            all_names.add(name)
        target = text(ctr, "targetContainerName")
        if target and target not in others:
            causes.append(f.not_found(f.child(ctr_path, "targetContainerName"), target))
        causes += _forbidden_fields(ctr_path, ctr)
        # subPath mounts are bind mounts that outlive the container until the pod ends, and they
        # imply the container is part of the workload: upstream refuses them outright.
        for j, mount in objs(ctr, "volumeMounts"):
            for key in ("subPath", "subPathExpr"):
                if text(mount, key):
                    causes.append(f.forbidden(f.child(f.index(f.child(ctr_path, "volumeMounts"), j), key),
                                              NOT_ALLOWED))
    return causes


def _describe_change(old: JSON, new: JSON) -> str:
    """A short account of what differs (upstream prints a cmp.Diff; the fields are what matter)."""
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "\n".join(f"  {k}: {f.go_value(old.get(k))} -> {f.go_value(new.get(k))}" for k in keys)


def ephemeral_containers_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    """A write through the ephemeralcontainers subresource (after the strategy kept everything
    else of the old pod): the metadata and spec rules, then only additions to the list."""
    if MIRROR_POD_ANNOTATION in obj(obj(old, "metadata"), "annotations"):
        return [f.forbidden("", "static pods do not support ephemeral containers")]
    spec = obj(new, "spec")
    causes = meta.validate_update(new, old)
    _, volumes = _volumes(f.child("spec", "volumes"), spec)  # pod_spec reports their causes
    causes += pod_spec("spec", spec, minor)
    causes += ephemeral_containers("spec.ephemeralContainers", spec, volumes, minor)
    path = "spec.ephemeralContainers"
    new_by_name = {text(c, "name"): c for _, c in objs(spec, "ephemeralContainers")}
    for _, old_ctr in objs(obj(old, "spec"), "ephemeralContainers"):
        name = text(old_ctr, "name")
        current = new_by_name.get(name)
        if current is None:
            causes.append(f.forbidden(path, f"existing ephemeral containers {f.go_value(name)} may not be removed\n"))
        elif current != old_ctr:
            causes.append(f.forbidden(path, f"existing ephemeral containers {f.go_value(name)} may not be changed\n"
                                            f"{_describe_change(old_ctr, current)}"))
    return causes
