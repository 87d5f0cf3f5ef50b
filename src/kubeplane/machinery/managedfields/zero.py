"""The object a create is compared against: Go's zero value of the kind, as JSON.

Upstream diffs a created object against ``New()`` of its Go type, whose JSON still carries the
non-pointer structs (``metadata``, ``spec``, ``status``, ``spec.template``...) and the few lists
without ``omitempty`` (``containers: null``). Those nodes therefore exist on both sides and are
*not* members of the creator's set (no ``"."`` under ``f:spec``), while pointer structs such as a
container's ``securityContext`` are new and are members. The schemas do not say which Go fields
are pointers, so the non-pointer ones that matter are listed here; custom resources are
unstructured upstream and start from ``{}``.
"""

from __future__ import annotations

import functools
from typing import Any

from kubeplane.machinery.schema import Schemas

JSON = dict[str, Any]

_CORE = "io.k8s.api.core.v1."
_APPS = "io.k8s.api.apps.v1."
_BATCH = "io.k8s.api.batch.v1."

# definition -> {property: None (written as null) | "struct" (written as an object)}
_NON_POINTER: dict[str, dict[str, str | None]] = {
    _CORE + "PodTemplateSpec": {"metadata": "struct", "spec": "struct"},
    _CORE + "PodTemplate": {"template": "struct"},
    _CORE + "PodSpec": {"containers": None},
    _CORE + "ServiceStatus": {"loadBalancer": "struct"},
    _CORE + "PersistentVolumeClaimSpec": {"resources": "struct"},
    _CORE + "NodeStatus": {"daemonEndpoints": "struct", "nodeInfo": "struct"},
    _CORE + "NodeDaemonEndpoints": {"kubeletEndpoint": "struct"},
    _CORE + "Event": {"involvedObject": "struct", "source": "struct"},
    _APPS + "DeploymentSpec": {"template": "struct", "strategy": "struct"},
    _APPS + "StatefulSetSpec": {"template": "struct", "updateStrategy": "struct"},
    _APPS + "DaemonSetSpec": {"template": "struct", "updateStrategy": "struct"},
    _APPS + "ReplicaSetSpec": {"template": "struct"},
    _BATCH + "JobSpec": {"template": "struct"},
    _BATCH + "CronJobSpec": {"jobTemplate": "struct"},
    _BATCH + "JobTemplateSpec": {"metadata": "struct", "spec": "struct"},
    "io.k8s.api.networking.v1.IngressStatus": {"loadBalancer": "struct"},
    "io.k8s.api.rbac.v1.RoleBinding": {"roleRef": "struct"},
    "io.k8s.api.rbac.v1.ClusterRoleBinding": {"roleRef": "struct"},
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec": {"scaleTargetRef": "struct"},
}

# Every built-in kind's metadata/spec/status is a non-pointer struct.
_KIND_STRUCTS = ("metadata", "spec", "status")
_REF_PREFIX = "#/$defs/"


def _definition_name(prop: JSON) -> str | None:
    ref = prop.get("$ref")
    return ref[len(_REF_PREFIX):] if isinstance(ref, str) and ref.startswith(_REF_PREFIX) else None


def _zero(schemas: Schemas, name: str, top_level: bool) -> JSON:
    node = schemas.defs.get(name) or {}
    props: JSON = node.get("properties") or {}
    wanted: dict[str, str | None] = dict(_NON_POINTER.get(name, {}))
    if top_level:
        wanted.update({p: "struct" for p in _KIND_STRUCTS if p in props})
    out: JSON = {}
    for prop, form in wanted.items():
        if prop not in props:
            continue
        child = _definition_name(props[prop])
        out[prop] = _zero(schemas, child, False) if form == "struct" and child else (None if form is None else {})
    return out


@functools.lru_cache(maxsize=256)
def _zero_by_name(schemas: Schemas, name: str) -> JSON:
    return _zero(schemas, name, True)


def zero_object(schemas: Schemas, node: JSON) -> JSON:
    """Go's zero value of the built-in kind ``node`` as JSON, or ``{}`` for other schemas.

    Cached and shared: callers must not mutate the result.
    """
    gvks = node.get("x-kubernetes-group-version-kind")
    if not gvks:
        return {}
    gvk = gvks[0]
    name = schemas.definition_name_for(gvk.get("group", ""), gvk["version"], gvk["kind"])
    if name is None or schemas.defs.get(name) is not node:
        return {}
    return _zero_by_name(schemas, name)
