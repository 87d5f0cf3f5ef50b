"""A StatefulSet pod's stable identity (upstream ``stateful_set_utils.go``): its ordinal name
``<set>-<i>``, the labels naming it, its hostname under the governing Service, and its
PersistentVolumeClaims ``<claim>-<set>-<i>`` with the owner references the retention policy asks for.
"""

from __future__ import annotations

import re
from typing import Any

from kubeplane.client import Resource
from kubeplane.controllers.history import CONTROLLER_REVISION_HASH
from kubeplane.controllers.ownership import new_controller_ref
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
RETAIN, DELETE = "Retain", "Delete"

_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def parent_and_ordinal(pod: JSON) -> tuple[str, int]:
    """(set name, ordinal) from the pod's name; ("", -1) when it is not ``<name>-<number>``."""
    match = _ORDINAL.match(pod["metadata"]["name"])
    return (match.group(1), int(match.group(2))) if match else ("", -1)


def ordinal_of(pod: JSON) -> int:
    return parent_and_ordinal(pod)[1]


def is_member_of(set_: JSON, pod: JSON) -> bool:
    return parent_and_ordinal(pod)[0] == set_["metadata"]["name"]


def start_ordinal(set_: JSON) -> int:
    return int(((set_.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def replicas_of(set_: JSON) -> int:
    replicas = (set_.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def in_ordinal_range(set_: JSON, pod: JSON) -> bool:
    start = start_ordinal(set_)
    return start <= ordinal_of(pod) < start + replicas_of(set_)


def pod_name(set_: JSON, ordinal: int) -> str:
    return f"{set_['metadata']['name']}-{ordinal}"


def claim_name(set_: JSON, template_name: str, ordinal: int) -> str:
    return f"{template_name}-{set_['metadata']['name']}-{ordinal}"


def identity_labels(pod_name_: str, ordinal: int) -> dict[str, str]:
    return {POD_NAME_LABEL: pod_name_, POD_INDEX_LABEL: str(ordinal)}


def identity_matches(set_: JSON, pod: JSON) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    labels = pod["metadata"].get("labels") or {}
    return ordinal >= 0 and parent == set_["metadata"]["name"] \
        and pod["metadata"].get("namespace") == set_["metadata"].get("namespace") \
        and all(labels.get(k) == v for k, v in identity_labels(pod["metadata"]["name"], ordinal).items())


def claim_templates(set_: JSON) -> list[JSON]:
    return list((set_.get("spec") or {}).get("volumeClaimTemplates") or ())


def claims_for(set_: JSON, ordinal: int) -> dict[str, JSON]:
    """The claim each volumeClaimTemplate gives this ordinal, keyed by template name; labelled
    with the set's matchLabels so the claims can be found by selector."""
    match_labels = ((set_.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    claims = {}
    for template in claim_templates(set_):
        claim = clone(template)
        claim.pop("status", None)
        meta = claim.setdefault("metadata", {})
        template_name = meta.get("name", "")
        meta["name"] = claim_name(set_, template_name, ordinal)
        meta["namespace"] = set_["metadata"].get("namespace")
        meta["labels"] = {**(meta.get("labels") or {}), **match_labels}
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        claims[template_name] = claim
    return claims


def with_storage(set_: JSON, pod: JSON, ordinal: int) -> None:
    """Point the pod's volumes named after claim templates at this ordinal's claims."""
    claims = claims_for(set_, ordinal)
    if not claims:
        return
    spec = pod.setdefault("spec", {})
    volumes = [v for v in spec.get("volumes") or () if v.get("name") not in claims]
    for template_name, claim in claims.items():
        volumes.append({"name": template_name,
                        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}})
    spec["volumes"] = volumes


def new_pod(set_: JSON, set_resource: Resource, ordinal: int, revision_name: str) -> JSON:
    """The pod for ``ordinal`` from ``set_``'s template (the caller picks which revision's set)."""
    template = clone((set_.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    name = pod_name(set_, ordinal)
    labels = {**(template_meta.get("labels") or {}), **identity_labels(name, ordinal),
              CONTROLLER_REVISION_HASH: revision_name}
    metadata: JSON = {"name": name, "namespace": set_["metadata"].get("namespace"), "labels": labels,
                      "ownerReferences": [new_controller_ref(set_, set_resource)]}
    for field in ("annotations", "finalizers"):
        if template_meta.get(field):
            metadata[field] = template_meta[field]
    spec = template.get("spec") or {}
    spec["hostname"] = name
    service_name = (set_.get("spec") or {}).get("serviceName")
    if service_name:
        spec["subdomain"] = service_name
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
    with_storage(set_, pod, ordinal)
    return pod


def retention_policy(set_: JSON) -> tuple[str, str]:
    policy = (set_.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or RETAIN, policy.get("whenScaled") or RETAIN


def _owner_ref(owner: JSON, kind: str, api_version: str) -> JSON:
    meta = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "blockOwnerDeletion": True}


def claim_owner_refs(set_: JSON, pod: JSON, claim: JSON) -> list[JSON] | None:
    """The claim's ownerReferences under the retention policy, or None when already right.

    whenDeleted=Delete: the set owns the claim (the GC deletes it with the set).
    whenScaled=Delete: a pod outside the ordinal range owns its claim (deleted with the pod).
    """
    when_deleted, when_scaled = retention_policy(set_)
    scaled_down = not in_ordinal_range(set_, pod)
    want_set = when_deleted == DELETE and not (when_scaled == DELETE and scaled_down)
    want_pod = when_scaled == DELETE and scaled_down
    set_uid, pod_uid = set_["metadata"].get("uid"), pod["metadata"].get("uid")
    refs = list((claim.get("metadata") or {}).get("ownerReferences") or ())
    has_set = any(r.get("uid") == set_uid for r in refs)
    has_pod = any(r.get("uid") == pod_uid for r in refs)
    if has_set == want_set and has_pod == want_pod:
        return None
    refs = [r for r in refs if r.get("uid") not in (set_uid, pod_uid)]
    if want_set:
        refs.append(_owner_ref(set_, "StatefulSet", "apps/v1"))
    if want_pod:
        refs.append(_owner_ref(pod, "Pod", "v1"))
    return refs
