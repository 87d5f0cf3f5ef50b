"""Daemon pods: built from the template, pinned to their node with required node affinity on
``metadata.name`` (the scheduler then binds them, as upstream since 1.12), labelled with the
template's revision hash, and mapped back to their node whether bound yet or not."""

from __future__ import annotations

from typing import Any

from kubeplane.client import Resource
from kubeplane.controllers.daemonset.eligibility import with_default_tolerations
from kubeplane.controllers.history import CONTROLLER_REVISION_HASH
from kubeplane.controllers.ownership import new_controller_ref
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]

TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


def node_affinity_for(affinity: JSON | None, node_name: str) -> JSON:
    """``affinity`` with its required node selector replaced by 'the node named node_name'
    (other affinity, and preferred node affinity, are kept)."""
    result = clone(affinity or {})
    node_affinity = result.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    return result


def template_generation(ds: JSON) -> str:
    annotations = (ds.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(TEMPLATE_GENERATION_ANNOTATION) or ds["metadata"].get("generation", 1))


def new_daemon_pod(ds: JSON, ds_resource: Resource, node_name: str, hash_value: str) -> JSON:
    template = clone((ds.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    labels = {**(template_meta.get("labels") or {}), CONTROLLER_REVISION_HASH: hash_value,
              TEMPLATE_GENERATION_LABEL: template_generation(ds)}
    metadata: JSON = {"generateName": f"{ds['metadata']['name']}-", "namespace": ds["metadata"].get("namespace"),
                      "labels": labels, "ownerReferences": [new_controller_ref(ds, ds_resource)]}
    for field in ("annotations", "finalizers"):
        if template_meta.get(field):
            metadata[field] = template_meta[field]
    spec = template.get("spec") or {}
    spec["affinity"] = node_affinity_for(spec.get("affinity"), node_name)
    spec["tolerations"] = with_default_tolerations(list(spec.get("tolerations") or ()), spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def target_node(pod: JSON) -> str | None:
    """The node a daemon pod is for: where it is bound, else the node its affinity pins it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or ():
        for field in term.get("matchFields") or ():
            if field.get("key") == "metadata.name" and field.get("operator") == "In" \
                    and len(field.get("values") or ()) == 1:
                return str(field["values"][0])
    return None


def is_updated(pod: JSON, hash_value: str) -> bool:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(CONTROLLER_REVISION_HASH) == hash_value


def by_age(pods: list[JSON]) -> list[JSON]:
    """Oldest first (upstream keeps the oldest daemon pod of a node and deletes the others)."""
    return sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
