"""Which API resource a request is about, and the URL path that names it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Resource:
    """A resource of one group/version, e.g. ``Resource("apps", "v1", "deployments")``."""

    group: str
    version: str
    resource: str
    namespaced: bool = True
    kind: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


def resource_path(resource: Resource, namespace: str | None = None, name: str | None = None,
                  subresource: str | None = None) -> str:
    """``/api/v1/namespaces/ns/pods/name/status`` and friends; no namespace means all namespaces."""
    prefix = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
    parts = [prefix]
    if namespace and resource.namespaced:
        parts.append(f"namespaces/{quote(namespace, safe='')}")
    parts.append(resource.resource)
    if name:
        parts.append(quote(name, safe=""))
        if subresource:
            parts.append(subresource)
    elif subresource:
        raise ValueError("a subresource needs an object name")
    return "/".join(parts)


# The resources the components themselves touch, so callers need not spell them out.
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")
NODES = Resource("", "v1", "nodes", namespaced=False, kind="Node")
PODS = Resource("", "v1", "pods", kind="Pod")
SERVICES = Resource("", "v1", "services", kind="Service")
ENDPOINTS = Resource("", "v1", "endpoints", kind="Endpoints")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
SECRETS = Resource("", "v1", "secrets", kind="Secret")
EVENTS = Resource("", "v1", "events", kind="Event")
LEASES = Resource("coordination.k8s.io", "v1", "leases", kind="Lease")
DEPLOYMENTS = Resource("apps", "v1", "deployments", kind="Deployment")
REPLICASETS = Resource("apps", "v1", "replicasets", kind="ReplicaSet")
REPLICATIONCONTROLLERS = Resource("", "v1", "replicationcontrollers", kind="ReplicationController")
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")
PERSISTENTVOLUMECLAIMS = Resource("", "v1", "persistentvolumeclaims", kind="PersistentVolumeClaim")
STATEFULSETS = Resource("apps", "v1", "statefulsets", kind="StatefulSet")
DAEMONSETS = Resource("apps", "v1", "daemonsets", kind="DaemonSet")
CONTROLLERREVISIONS = Resource("apps", "v1", "controllerrevisions", kind="ControllerRevision")
JOBS = Resource("batch", "v1", "jobs", kind="Job")
CRONJOBS = Resource("batch", "v1", "cronjobs", kind="CronJob")
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice")
PODDISRUPTIONBUDGETS = Resource("policy", "v1", "poddisruptionbudgets", kind="PodDisruptionBudget")
