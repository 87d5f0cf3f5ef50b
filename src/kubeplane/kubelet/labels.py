"""The CRI labels and annotations the kubelet puts on sandboxes and containers (upstream's keys),
which let a restarted kubelet find and adopt what it created."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
CONTAINER_HASH = "io.kubernetes.container.hash"
CONTAINER_RESTART_COUNT = "io.kubernetes.container.restartCount"
TERMINATION_MESSAGE_PATH = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY = "io.kubernetes.container.terminationMessagePolicy"
POD_TERMINATION_GRACE_PERIOD = "io.kubernetes.pod.terminationGracePeriod"
CONTAINER_TYPE = "io.kubernetes.container.type"  # ours: "init", "sidecar" or "app"
KUBELET_MANAGED = "io.kubernetes.container.managed-by"  # ours: set to "kubelet" on sandboxes


def pod_labels(pod: JSON) -> dict[str, str]:
    metadata = pod.get("metadata") or {}
    return {POD_NAME: str(metadata.get("name", "")), POD_NAMESPACE: str(metadata.get("namespace", "")),
            POD_UID: str(metadata.get("uid", ""))}


def sandbox_labels(pod: JSON) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in ((pod.get("metadata") or {}).get("labels") or {}).items()}
    labels.update(pod_labels(pod))
    labels[KUBELET_MANAGED] = "kubelet"
    return labels


def container_labels(pod: JSON, container_name: str) -> dict[str, str]:
    return {**pod_labels(pod), CONTAINER_NAME: container_name}
