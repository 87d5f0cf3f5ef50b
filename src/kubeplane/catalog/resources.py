"""The resource table: every REST resource kubeplane implements, described as upstream's discovery does.

This is the union over all served minors. Whether a resource exists in a given minor is not
written here: the catalog keeps an entry only when that minor's schemas define its kind (so APIs
that are removed or not yet GA drop out by data). Names, verbs, short names and categories are
upstream's (``api/discovery/*.json`` in kubernetes/kubernetes).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# Namespaces are removed one by one through finalization, so upstream offers no deletecollection.
NO_COLLECTION_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)
STATUS_VERBS = ("get", "patch", "update")
PROXY_VERBS = ("create", "delete", "get", "patch", "update")
STREAM_VERBS = ("create", "get")  # exec, attach, portforward: POST or websocket GET


@dataclass(frozen=True)
class SubresourceInfo:
    kind: str
    group: str = ""  # set only when the subresource speaks another group's kind (Scale, Eviction)
    version: str = ""
    verbs: tuple[str, ...] = STATUS_VERBS


@dataclass(frozen=True)
class ResourceInfo:
    group: str  # "" is the core group
    version: str
    resource: str  # plural, as in the URL
    kind: str
    list_kind: str  # "" when the resource cannot be listed (reviews, bindings)
    singular: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: dict[str, SubresourceInfo] = field(default_factory=dict, hash=False)
    storage_version_hash: str | None = None
    definition: str = ""  # schema definition name in kubeplane.machinery.schema (filled per minor)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """Upstream's opaque storage-version token: base64 of the first 8 bytes of sha256("g/v/kind")."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _resource(
    group: str,
    version: str,
    resource: str,
    kind: str,
    *,
    namespaced: bool,
    verbs: tuple[str, ...] = ALL_VERBS,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    subresources: dict[str, SubresourceInfo] | None = None,
    stored_as: tuple[str, str] | None = None,
) -> ResourceInfo:
    """One table row. ``stored_as`` is the (group, version) objects are kept in etcd as, when it
    differs from the served one; resources that are never stored (reviews) get no hash."""
    stored = "list" in verbs
    storage_group, storage_version = stored_as or (group, version)
    return ResourceInfo(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        list_kind=f"{kind}List" if stored else "",
        singular=kind.lower(),
        namespaced=namespaced,
        verbs=verbs,
        short_names=short_names,
        categories=categories,
        subresources=subresources or {},
        storage_version_hash=storage_version_hash(storage_group, storage_version, kind) if stored else None,
    )


def _status(kind: str) -> dict[str, SubresourceInfo]:
    return {"status": SubresourceInfo(kind)}


_SCALE = SubresourceInfo("Scale", "autoscaling", "v1")
_ALL = ("all",)
_API_EXTENSIONS = ("api-extensions",)


def _core() -> list[ResourceInfo]:
    ns = True
    return [
        _resource("", "v1", "bindings", "Binding", namespaced=ns, verbs=CREATE_ONLY),
        _resource("", "v1", "componentstatuses", "ComponentStatus", namespaced=False,
                  verbs=("get", "list"), short_names=("cs",)),
        _resource("", "v1", "configmaps", "ConfigMap", namespaced=ns, short_names=("cm",)),
        _resource("", "v1", "endpoints", "Endpoints", namespaced=ns, short_names=("ep",)),
        _resource("", "v1", "events", "Event", namespaced=ns, short_names=("ev",)),
        _resource("", "v1", "limitranges", "LimitRange", namespaced=ns, short_names=("limits",)),
        _resource("", "v1", "namespaces", "Namespace", namespaced=False, verbs=NO_COLLECTION_VERBS,
                  short_names=("ns",), subresources={
                      "finalize": SubresourceInfo("Namespace", verbs=("update",)),
                      "status": SubresourceInfo("Namespace"),
                  }),
        _resource("", "v1", "nodes", "Node", namespaced=False, short_names=("no",), subresources={
            "proxy": SubresourceInfo("NodeProxyOptions", verbs=PROXY_VERBS),
            "status": SubresourceInfo("Node"),
        }),
        _resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", namespaced=ns,
                  short_names=("pvc",), subresources=_status("PersistentVolumeClaim")),
        _resource("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False,
                  short_names=("pv",), subresources=_status("PersistentVolume")),
        _resource("", "v1", "pods", "Pod", namespaced=ns, short_names=("po",), categories=_ALL,
                  subresources={
                      "attach": SubresourceInfo("PodAttachOptions", verbs=STREAM_VERBS),
                      "binding": SubresourceInfo("Binding", verbs=CREATE_ONLY),
                      "ephemeralcontainers": SubresourceInfo("Pod"),
                      "eviction": SubresourceInfo("Eviction", "policy", "v1", CREATE_ONLY),
                      "exec": SubresourceInfo("PodExecOptions", verbs=STREAM_VERBS),
                      "log": SubresourceInfo("Pod", verbs=("get",)),
                      "portforward": SubresourceInfo("PodPortForwardOptions", verbs=STREAM_VERBS),
                      "proxy": SubresourceInfo("PodProxyOptions", verbs=PROXY_VERBS),
                      "resize": SubresourceInfo("Pod"),
                      "status": SubresourceInfo("Pod"),
                  }),
        _resource("", "v1", "podtemplates", "PodTemplate", namespaced=ns),
        _resource("", "v1", "replicationcontrollers", "ReplicationController", namespaced=ns,
                  short_names=("rc",), categories=_ALL,
                  subresources={"scale": _SCALE, "status": SubresourceInfo("ReplicationController")}),
        _resource("", "v1", "resourcequotas", "ResourceQuota", namespaced=ns, short_names=("quota",),
                  subresources=_status("ResourceQuota")),
        _resource("", "v1", "secrets", "Secret", namespaced=ns),
        _resource("", "v1", "serviceaccounts", "ServiceAccount", namespaced=ns, short_names=("sa",),
                  subresources={"token": SubresourceInfo(
                      "TokenRequest", "authentication.k8s.io", "v1", CREATE_ONLY)}),
        _resource("", "v1", "services", "Service", namespaced=ns, short_names=("svc",), categories=_ALL,
                  subresources={
                      "proxy": SubresourceInfo("ServiceProxyOptions", verbs=PROXY_VERBS),
                      "status": SubresourceInfo("Service"),
                  }),
    ]


def _workloads() -> list[ResourceInfo]:
    def scalable(kind: str) -> dict[str, SubresourceInfo]:
        return {"scale": _SCALE, "status": SubresourceInfo(kind)}

    def hpa(version: str) -> ResourceInfo:
        # Both versions are kept in etcd as autoscaling/v1, so they share one storage hash.
        return _resource("autoscaling", version, "horizontalpodautoscalers", "HorizontalPodAutoscaler",
                         namespaced=True, short_names=("hpa",), categories=_ALL,
                         subresources=_status("HorizontalPodAutoscaler"), stored_as=("autoscaling", "v1"))

    return [
        _resource("apps", "v1", "controllerrevisions", "ControllerRevision", namespaced=True),
        _resource("apps", "v1", "daemonsets", "DaemonSet", namespaced=True, short_names=("ds",),
                  categories=_ALL, subresources=_status("DaemonSet")),
        _resource("apps", "v1", "deployments", "Deployment", namespaced=True, short_names=("deploy",),
                  categories=_ALL, subresources=scalable("Deployment")),
        _resource("apps", "v1", "replicasets", "ReplicaSet", namespaced=True, short_names=("rs",),
                  categories=_ALL, subresources=scalable("ReplicaSet")),
        _resource("apps", "v1", "statefulsets", "StatefulSet", namespaced=True, short_names=("sts",),
                  categories=_ALL, subresources=scalable("StatefulSet")),
        hpa("v2"),
        hpa("v1"),
        _resource("batch", "v1", "cronjobs", "CronJob", namespaced=True, short_names=("cj",),
                  categories=_ALL, subresources=_status("CronJob")),
        _resource("batch", "v1", "jobs", "Job", namespaced=True, categories=_ALL,
                  subresources=_status("Job")),
        _resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", namespaced=True,
                  short_names=("pdb",), subresources=_status("PodDisruptionBudget")),
        _resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False,
                  short_names=("pc",)),
    ]


def _cluster_plumbing() -> list[ResourceInfo]:
    rbac = "rbac.authorization.k8s.io"
    admission = "admissionregistration.k8s.io"
    flow = "flowcontrol.apiserver.k8s.io"
    return [
        _resource("events.k8s.io", "v1", "events", "Event", namespaced=True, short_names=("ev",),
                  stored_as=("", "v1")),
        _resource("coordination.k8s.io", "v1", "leases", "Lease", namespaced=True),
        _resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", namespaced=True),
        _resource(rbac, "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
        _resource(rbac, "v1", "clusterroles", "ClusterRole", namespaced=False),
        _resource(rbac, "v1", "rolebindings", "RoleBinding", namespaced=True),
        _resource(rbac, "v1", "roles", "Role", namespaced=True),
        _resource("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
        _resource("networking.k8s.io", "v1", "ingresses", "Ingress", namespaced=True, short_names=("ing",),
                  subresources=_status("Ingress")),
        _resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", namespaced=True,
                  short_names=("netpol",)),
        _resource("storage.k8s.io", "v1", "csidrivers", "CSIDriver", namespaced=False),
        _resource("storage.k8s.io", "v1", "csinodes", "CSINode", namespaced=False),
        _resource("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False,
                  short_names=("sc",)),
        _resource("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", namespaced=False,
                  subresources=_status("VolumeAttachment")),
        _resource("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest",
                  namespaced=False, short_names=("csr",), subresources={
                      "approval": SubresourceInfo("CertificateSigningRequest"),
                      "status": SubresourceInfo("CertificateSigningRequest"),
                  }),
        _resource(admission, "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
                  namespaced=False, categories=_API_EXTENSIONS),
        _resource(admission, "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy",
                  namespaced=False, categories=_API_EXTENSIONS,
                  subresources=_status("ValidatingAdmissionPolicy")),
        _resource(admission, "v1", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding",
                  namespaced=False, categories=_API_EXTENSIONS),
        _resource(admission, "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
                  namespaced=False, categories=_API_EXTENSIONS),
        _resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                  namespaced=False, short_names=("crd", "crds"), categories=_API_EXTENSIONS,
                  subresources=_status("CustomResourceDefinition")),
        _resource(flow, "v1", "flowschemas", "FlowSchema", namespaced=False,
                  subresources=_status("FlowSchema")),
        _resource(flow, "v1", "prioritylevelconfigurations", "PriorityLevelConfiguration", namespaced=False,
                  subresources=_status("PriorityLevelConfiguration")),
    ]


def _reviews() -> list[ResourceInfo]:
    authn = "authentication.k8s.io"
    authz = "authorization.k8s.io"
    return [
        _resource(authn, "v1", "selfsubjectreviews", "SelfSubjectReview", namespaced=False, verbs=CREATE_ONLY),
        _resource(authn, "v1", "tokenreviews", "TokenReview", namespaced=False, verbs=CREATE_ONLY),
        _resource(authz, "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", namespaced=True,
                  verbs=CREATE_ONLY),
        _resource(authz, "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", namespaced=False,
                  verbs=CREATE_ONLY),
        _resource(authz, "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", namespaced=False,
                  verbs=CREATE_ONLY),
        _resource(authz, "v1", "subjectaccessreviews", "SubjectAccessReview", namespaced=False,
                  verbs=CREATE_ONLY),
    ]


RESOURCE_TABLE: tuple[ResourceInfo, ...] = (*_core(), *_workloads(), *_cluster_plumbing(), *_reviews())

# Subresources that a minor's schema cannot reveal because they reuse the parent's kind:
# the first minor that serves them. pods/resize became a subresource with in-place resize beta.
SUBRESOURCE_SINCE: dict[tuple[str, str, str], str] = {
    ("", "pods", "resize"): "1.33",
}

# Upstream's /apis order (group priority in kube-apiserver); a group's versions are listed
# preferred first.
GROUP_ORDER: tuple[str, ...] = (
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
)

VERSION_PREFERENCE: dict[str, tuple[str, ...]] = {"autoscaling": ("v2", "v1")}
