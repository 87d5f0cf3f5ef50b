"""PodSecurity: the Pod Security Standards per namespace, from its labels
``pod-security.kubernetes.io/{enforce,warn,audit}[-version]``.

enforce refuses pods that violate the level (403 ``violates PodSecurity "<level>:<version>": ...``);
warn adds a Warning header (``would violate PodSecurity ...``) for pods and for workload templates;
audit records ``pod-security.kubernetes.io/audit-violations`` in the request's audit annotations,
beside ``enforce-policy`` (the policy a pod was judged by) and ``exempt`` (why it was not judged).
Each mode is evaluated at its ``-version`` (``latest`` or ``v1.N``, see pod_security_versions.py); an
unknown level or version makes that mode ``restricted:latest``, as upstream. Exemptions and defaults
come from the PodSecurityConfiguration in the AdmissionConfiguration file.
"""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, UPDATE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.admission.pod_security_checks import describe
from kubeplane.apiserver.admission.pod_security_versions import InvalidVersion, evaluate, parse_version

JSON = dict[str, Any]

LABEL_PREFIX = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
AUDIT_VIOLATIONS = LABEL_PREFIX + "audit-violations"
ENFORCE_POLICY = LABEL_PREFIX + "enforce-policy"
EXEMPT = LABEL_PREFIX + "exempt"
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
        meta, spec = _pod_meta_spec(attrs.object, is_pod)
        if spec is None:
            return
        exemption = self._exemption(attrs, spec)
        if exemption:
            attrs.audit_annotations[EXEMPT] = exemption
            return
        # Updates that leave the pod spec alone (labels, status...) are not re-checked, as upstream.
        if attrs.operation == UPDATE and attrs.old_object is not None:
            _, old_spec = _pod_meta_spec(attrs.old_object, is_pod)
            if old_spec == spec:
                return
        namespace = await self.objects.get("", "namespaces", "", attrs.namespace)
        labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        enforce, warn, audit = (self._policy(labels, mode) for mode in ("enforce", "warn", "audit"))
        if is_pod:
            attrs.audit_annotations[ENFORCE_POLICY] = _name(enforce)
            findings = _evaluate(enforce, meta, spec)
            if findings:
                raise attrs.forbidden(f"violates PodSecurity {_quoted(enforce)}: {describe(findings)}")
        findings = _evaluate(warn, meta, spec)
        if findings:
            attrs.warnings.append(f"would violate PodSecurity {_quoted(warn)}: {describe(findings)}")
        if templated:
            # Upstream also warns about a template that the namespace's enforce level would refuse.
            findings = _evaluate(enforce, meta, spec)
            if findings and enforce != warn:
                attrs.warnings.append(f"would violate PodSecurity {_quoted(enforce)}: {describe(findings)}")
        findings = _evaluate(audit, meta, spec)
        if findings:
            attrs.audit_annotations[AUDIT_VIOLATIONS] = \
                f"would violate PodSecurity {_quoted(audit)}: {describe(findings)}"

    def _exemption(self, attrs: Attributes, spec: JSON) -> str:
        """Why this request is not judged (upstream's ``exempt`` audit annotation), or ""."""
        if attrs.namespace in self.exempt_namespaces:
            return "namespace"
        if attrs.user.name in self.exempt_users:
            return "user"
        if spec.get("runtimeClassName") in self.exempt_runtime_classes:
            return "runtimeClass"
        return ""

    def _policy(self, labels: JSON, mode: str) -> tuple[str, str]:
        level, version = self.defaults[mode]
        level = labels.get(LABEL_PREFIX + mode, level)
        version = labels.get(f"{LABEL_PREFIX}{mode}-version", version) or "latest"
        # An unknown level or version is treated as the most restrictive policy, as upstream does.
        if level not in LEVELS:
            return "restricted", "latest"
        try:
            parse_version(version)
        except InvalidVersion:
            return "restricted", "latest"
        return level, version


def _evaluate(policy: tuple[str, str], meta: JSON, spec: JSON) -> list[tuple[str, str]]:
    return evaluate(policy[0], parse_version(policy[1]), meta, spec)


def _name(policy: tuple[str, str]) -> str:
    return f"{policy[0]}:{policy[1]}"


def _quoted(policy: tuple[str, str]) -> str:
    return f'"{_name(policy)}"'


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
