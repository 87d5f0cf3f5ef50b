"""Upstream defaulting for built-in kinds: ``apply(group, version, kind, obj)`` mutates in place.

Each kind's rules live next to their group (pod.py, core.py, apps.py, cluster.py) and follow
upstream's ``pkg/apis/<group>/<version>/defaults.go``; the served OpenAPI carries no ``default``
values for built-in types, so there is nothing to derive from the schema. Objects may still be
ill-typed here (validation runs afterwards), so defaulting never assumes a field's JSON type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import apps, cluster, core
from . import pod as pod_defaults

Defaulter = Callable[[dict[str, Any], str], None]

_BY_KIND: dict[tuple[str, str, str], Defaulter] = {
    ("", "v1", "Pod"): pod_defaults.pod,
    ("", "v1", "PodTemplate"): core.pod_template,
    ("", "v1", "Service"): core.service,
    ("", "v1", "Secret"): core.secret,
    ("", "v1", "Namespace"): core.namespace,
    ("", "v1", "PersistentVolumeClaim"): core.persistent_volume_claim,
    ("", "v1", "PersistentVolume"): core.persistent_volume,
    ("", "v1", "ReplicationController"): core.replication_controller,
    ("", "v1", "Endpoints"): core.endpoints,
    ("", "v1", "Node"): core.node,
    ("apps", "v1", "Deployment"): apps.deployment,
    ("apps", "v1", "ReplicaSet"): apps.replica_set,
    ("apps", "v1", "DaemonSet"): apps.daemon_set,
    ("apps", "v1", "StatefulSet"): apps.stateful_set,
    ("batch", "v1", "Job"): apps.job,
    ("batch", "v1", "CronJob"): apps.cron_job,
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): cluster.horizontal_pod_autoscaler_v2,
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): cluster.horizontal_pod_autoscaler_v1,
    ("networking.k8s.io", "v1", "NetworkPolicy"): cluster.network_policy,
    ("discovery.k8s.io", "v1", "EndpointSlice"): cluster.endpoint_slice,
    ("scheduling.k8s.io", "v1", "PriorityClass"): cluster.priority_class,
    ("storage.k8s.io", "v1", "StorageClass"): cluster.storage_class,
    ("rbac.authorization.k8s.io", "v1", "RoleBinding"): cluster.role_binding,
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"): cluster.role_binding,
}


def apply(group: str, version: str, kind: str, obj: dict[str, Any], minor: str = "1.35") -> None:
    """Mutate ``obj`` in place with upstream's defaults for ``group/version, Kind=kind``.

    Kinds without upstream defaults (ConfigMap, RBAC roles, Lease, PDB, core Event, ...) are left
    untouched. The Namespace ``spec.finalizers`` and Service cluster IPs are the registry's job.
    """
    defaulter = _BY_KIND.get((group, version, kind))
    if defaulter is not None and isinstance(obj, dict):
        defaulter(obj, minor)
