"""The pods a Job creates: its template, owned by the Job, carrying the tracking finalizer (so a
pod cannot vanish before the controller has counted it) and, for Indexed Jobs, its index."""

from __future__ import annotations

from typing import Any

from kubeplane.client import Resource
from kubeplane.controllers.job.indexes import COMPLETION_INDEX
from kubeplane.controllers.ownership import new_controller_ref
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"


def has_tracking_finalizer(pod: JSON) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def pod_for_job(job: JSON, job_resource: Resource, index: int | None = None) -> JSON:
    template = clone((job.get("spec") or {}).get("template") or {})  # never share the cached object
    template_meta = template.get("metadata") or {}
    name = job["metadata"]["name"]
    labels = dict(template_meta.get("labels") or {})
    annotations = dict(template_meta.get("annotations") or {})
    spec = template.get("spec") or {}
    if index is not None:
        annotations[COMPLETION_INDEX] = str(index)
        labels[COMPLETION_INDEX] = str(index)
        spec.setdefault("hostname", f"{name}-{index}")
        env = {"name": COMPLETION_INDEX_ENV,
               "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}}
        for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
            existing = container.get("env") or []
            if not any(e.get("name") == COMPLETION_INDEX_ENV for e in existing):
                container["env"] = [*existing, dict(env)]
    metadata: JSON = {"generateName": f"{name}-{index}-" if index is not None else f"{name}-",
                      "namespace": job["metadata"].get("namespace"),
                      "ownerReferences": [new_controller_ref(job, job_resource)],
                      "finalizers": [*(template_meta.get("finalizers") or ()), TRACKING_FINALIZER]}
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
