"""Which rules apply to which kind: name format, scope, and the create/update validators.

Keyed by (group, kind) because the rules are the same for every served version of a kind.
Kinds not listed still get the schema and metadata checks (with DNS-subdomain names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubeplane.machinery.errors import Cause

from . import cluster, config, names, pod, service, workloads
from ._access import JSON, obj

CreateRule = Callable[[JSON, str], list[Cause]]
UpdateRule = Callable[[JSON, JSON, str], list[Cause]]
NameCheck = Callable[[str], list[str]]


def _no_rules(obj_: JSON, minor: str) -> list[Cause]:
    return []


def _no_update_rules(new: JSON, old: JSON, minor: str) -> list[Cause]:
    return []


def _pod_template(obj_: JSON, minor: str) -> list[Cause]:
    return pod.template_pod_spec("template.spec", obj(obj(obj_, "template"), "spec"), minor)


@dataclass(frozen=True)
class KindRules:
    namespaced: bool | None = None  # None: scope unknown here, the caller decides
    name_check: NameCheck = names.dns1123_subdomain
    create: CreateRule = _no_rules
    update: UpdateRule = _no_update_rules
    # Pods only compare the old and new spec on update; everything else re-runs the create rules.
    revalidate_on_update: bool = True
    # Fields the OpenAPI marks required (no omitempty upstream) that upstream accepts absent.
    schema_optional: frozenset[str] = frozenset()


_NS = KindRules(namespaced=True)
_CLUSTER = KindRules(namespaced=False)

RULES: dict[tuple[str, str], KindRules] = {
    ("", "Pod"): KindRules(True, create=pod.validate_pod,
                           update=pod.validate_pod_update,
                           revalidate_on_update=False),
    ("", "PodTemplate"): KindRules(True, create=_pod_template),
    ("", "Service"): KindRules(True, names.dns1035_label, service.service, service.service_update),
    ("", "ConfigMap"): KindRules(True, create=config.config_map, update=config.config_map_update),
    ("", "Secret"): KindRules(True, create=config.secret, update=config.secret_update),
    ("", "Namespace"): KindRules(False, names.dns1123_label, config.namespace),
    ("", "Node"): KindRules(False, create=config.node),
    ("", "PersistentVolumeClaim"): KindRules(True, create=config.persistent_volume_claim,
                                             update=config.persistent_volume_claim_update),
    ("", "PersistentVolume"): _CLUSTER,
    ("", "ReplicationController"): KindRules(True, create=workloads.replication_controller),
    ("", "ServiceAccount"): _NS,
    ("", "Endpoints"): _NS,
    ("", "Event"): _NS,
    ("", "LimitRange"): _NS,
    ("", "ResourceQuota"): _NS,
    ("apps", "Deployment"): KindRules(True, create=workloads.deployment, update=workloads.apps_update),
    ("apps", "ReplicaSet"): KindRules(True, create=workloads.replica_set, update=workloads.apps_update),
    ("apps", "DaemonSet"): KindRules(True, create=workloads.daemon_set, update=workloads.apps_update),
    ("apps", "StatefulSet"): KindRules(True, create=workloads.stateful_set, update=workloads.stateful_set_update),
    ("apps", "ControllerRevision"): KindRules(True, schema_optional=frozenset({"revision"})),
    ("batch", "Job"): KindRules(True, create=workloads.job, update=workloads.job_update),
    ("batch", "CronJob"): KindRules(True, create=workloads.cron_job),
    ("autoscaling", "HorizontalPodAutoscaler"): KindRules(True, create=cluster.horizontal_pod_autoscaler),
    ("networking.k8s.io", "NetworkPolicy"): _NS,
    ("networking.k8s.io", "Ingress"): KindRules(True, create=cluster.ingress),
    ("networking.k8s.io", "IngressClass"): _CLUSTER,
    ("discovery.k8s.io", "EndpointSlice"): KindRules(True, create=cluster.endpoint_slice,
                                                     update=cluster.endpoint_slice_update,
                                                     schema_optional=frozenset({"endpoints"})),
    ("scheduling.k8s.io", "PriorityClass"): KindRules(False, create=cluster.priority_class,
                                                      update=cluster.priority_class_update),
    ("storage.k8s.io", "StorageClass"): _CLUSTER,
    ("storage.k8s.io", "CSIDriver"): _CLUSTER,
    ("storage.k8s.io", "CSINode"): _CLUSTER,
    ("storage.k8s.io", "VolumeAttachment"): _CLUSTER,
    ("rbac.authorization.k8s.io", "Role"): KindRules(True, names.path_segment, cluster.role),
    ("rbac.authorization.k8s.io", "ClusterRole"): KindRules(False, names.path_segment, cluster.cluster_role),
    ("rbac.authorization.k8s.io", "RoleBinding"): KindRules(True, names.path_segment, cluster.role_binding,
                                                            cluster.binding_update),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): KindRules(False, names.path_segment,
                                                                   cluster.cluster_role_binding,
                                                                   cluster.binding_update),
    ("coordination.k8s.io", "Lease"): KindRules(True, create=cluster.lease),
    ("policy", "PodDisruptionBudget"): KindRules(True, create=cluster.pod_disruption_budget),
    ("events.k8s.io", "Event"): _NS,
    # Upstream does not care what CSRs are called (kubelets use base64url digests): URL-safe is enough.
    ("certificates.k8s.io", "CertificateSigningRequest"): KindRules(False, names.path_segment),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _CLUSTER,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _CLUSTER,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _CLUSTER,
}

DEFAULT_RULES = KindRules()


def rules_for(group: str, kind: str) -> KindRules:
    return RULES.get((group, kind), DEFAULT_RULES)
