"""PodSecurity: the Pod Security Standards per namespace, from its labels
``pod-security.kubernetes.io/{enforce,warn,audit}[-version]``.

enforce refuses pods that violate the level (403 ``violates PodSecurity "<level>:<version>": ...``);
warn adds a Warning header (``would violate PodSecurity ...``) for pods and for workload templates;
audit would annotate the audit event (kubeplane has no audit log yet, so it is accepted and ignored).
Every version label is evaluated with the latest checks.
"""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, UPDATE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.admission.pod_security_checks import describe, evaluate

JSON = dict[str, Any]

LABEL_PREFIX = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
# Resources whose pod template is checked for warnings (upstream's PodSpecExtractor set).
TEMPLATED = {("", "replicationcontrollers"), ("", "podtemplates"), ("apps", "replicasets"),
             ("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"), ("batch", "jobs"),
             ("batch", "cronjobs")}


class PodSecurity:
    name = "PodSecurity"

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.objects = objects
        config = config or {}
        defaults = config.get("defaults") or {}
        self.defaults = {mode: (defaults.get(mode, "privileged"), defaults.get(f"{mode}-version", "latest"))
                         for mode in ("enforce", "warn", "audit")}
        exemptions = config.get("exemptions") or {}
        self.exempt_users = set(exemptions.get("usernames") or ())
        self.exempt_namespaces = set(exemptions.get("namespaces") or ())
        self.exempt_runtime_classes = set(exemptions.get("runtimeClasses") or ())

    async def validate(self, attrs: Attributes) -> None:
        if attrs.operation not in (CREATE, UPDATE) or attrs.object is None or not attrs.namespace:
            return
        is_pod = attrs.is_resource("", "pods") and attrs.subresource in ("", "ephemeralcontainers")
        templated = (attrs.group, attrs.resource.resource) in TEMPLATED and not attrs.subresource
        if not is_pod and not templated:
            return
        if attrs.user.name in self.exempt_users or attrs.namespace in self.exempt_namespaces:
            return
        meta, spec = _pod_meta_spec(attrs.object, is_pod)
        if spec is None or spec.get("runtimeClassName") in self.exempt_runtime_classes:
            return
        # Updates that leave the pod spec alone (labels, status...) are not re-checked, as upstream.
        if attrs.operation == UPDATE and attrs.old_object is not None:
            _, old_spec = _pod_meta_spec(attrs.old_object, is_pod)
            if old_spec == spec:
                return
        namespace = await self.objects.get("", "namespaces", "", attrs.namespace)
        labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        enforce = self._policy(labels, "enforce")
        warn = self._policy(labels, "warn")
        if is_pod:
            findings = evaluate(enforce[0], meta, spec)
            if findings:
                raise attrs.forbidden(f'violates PodSecurity "{enforce[0]}:{enforce[1]}": {describe(findings)}')
        findings = evaluate(warn[0], meta, spec)
        if findings:
            attrs.warnings.append(f'would violate PodSecurity "{warn[0]}:{warn[1]}": {describe(findings)}')
        if templated:
            # Upstream also warns about a template that the namespace's enforce level would refuse.
            findings = evaluate(enforce[0], meta, spec)
            if findings and enforce[0] != warn[0]:
                attrs.warnings.append(f'would violate PodSecurity "{enforce[0]}:{enforce[1]}": {describe(findings)}')

    def _policy(self, labels: JSON, mode: str) -> tuple[str, str]:
        level, version = self.defaults[mode]
        if LABEL_PREFIX + mode in labels:
            level = labels[LABEL_PREFIX + mode]
            # An unknown level is treated as the most restrictive, as upstream does.
            if level not in LEVELS:
                level = "restricted"
        version = labels.get(f"{LABEL_PREFIX}{mode}-version", version) or "latest"
        return level, version


def _pod_meta_spec(obj: JSON, is_pod: bool) -> tuple[JSON, JSON | None]:
    if is_pod:
        return obj.get("metadata") or {}, obj.get("spec") or {}
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") if obj.get("kind") != "PodTemplate" else obj.get("template")
    if not isinstance(template, dict):
        return {}, None
    return template.get("metadata") or {}, template.get("spec") or {}
