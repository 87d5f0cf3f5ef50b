"""Plugin names to constructors (upstream's plugin registry)."""

from __future__ import annotations

from kubeplane.apiserver.admission import chain
from kubeplane.apiserver.admission.default_storage_class import DefaultStorageClass
from kubeplane.apiserver.admission.default_toleration_seconds import DefaultTolerationSeconds
from kubeplane.apiserver.admission.limit_ranger import LimitRanger
from kubeplane.apiserver.admission.namespace_lifecycle import NamespaceLifecycle
from kubeplane.apiserver.admission.node_restriction import NodeRestriction
from kubeplane.apiserver.admission.pod_security import PodSecurity
from kubeplane.apiserver.admission.priority import Priority
from kubeplane.apiserver.admission.resource_quota import ResourceQuota
from kubeplane.apiserver.admission.service_account import ServiceAccountAdmission
from kubeplane.apiserver.admission.webhook import MutatingAdmissionWebhook, ValidatingAdmissionWebhook

PLUGINS: dict[str, chain.PluginFactory] = {
    chain.NAMESPACE_LIFECYCLE: NamespaceLifecycle,
    chain.LIMIT_RANGER: LimitRanger,
    chain.SERVICE_ACCOUNT: ServiceAccountAdmission,
    chain.NODE_RESTRICTION: NodeRestriction,
    chain.POD_SECURITY: PodSecurity,
    chain.PRIORITY: Priority,
    chain.DEFAULT_TOLERATION_SECONDS: DefaultTolerationSeconds,
    chain.DEFAULT_STORAGE_CLASS: DefaultStorageClass,
    chain.MUTATING_WEBHOOK: MutatingAdmissionWebhook,
    chain.VALIDATING_WEBHOOK: ValidatingAdmissionWebhook,
    chain.RESOURCE_QUOTA: ResourceQuota,
}
