"""Rules for Lease, PriorityClass, RBAC, EndpointSlice, Ingress, HPA and PodDisruptionBudget."""

from __future__ import annotations

from kubeplane.machinery.errors import Cause

from . import field as f
from . import intstr, selectors
from ._access import JSON, integer, lst, obj, objs, text

RBAC_GROUP = "rbac.authorization.k8s.io"
SYSTEM_PRIORITY_CLASSES = ("system-cluster-critical", "system-node-critical")
MAX_USER_PRIORITY = 1_000_000_000
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")


def lease(obj_: JSON, minor: str) -> list[Cause]:
    spec = obj(obj_, "spec")
    causes: list[Cause] = []
    duration = integer(spec, "leaseDurationSeconds")
    if duration is not None and duration <= 0:
        causes.append(f.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    causes += f.nonnegative("spec.leaseTransitions", spec.get("leaseTransitions"))
    return causes


def priority_class(obj_: JSON, minor: str) -> list[Cause]:
    causes: list[Cause] = []
    name = text(obj(obj_, "metadata"), "name")
    if name.startswith("system-") and name not in SYSTEM_PRIORITY_CLASSES:
        causes.append(f.forbidden("metadata.name",
                                  "priority class names with 'system-' prefix are reserved for system use only"))
    value = integer(obj_, "value")
    if value is not None and value > MAX_USER_PRIORITY and name not in SYSTEM_PRIORITY_CLASSES:
        causes.append(f.forbidden("value", f"maximum allowed value of a user defined priority is {MAX_USER_PRIORITY}"))
    causes += f.one_of("preemptionPolicy", obj_.get("preemptionPolicy"), ("Never", "PreemptLowerPriority"),
                       required_when_empty=False)
    return causes


def priority_class_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    causes: list[Cause] = []
    if new.get("value") != old.get("value"):
        causes.append(f.forbidden("value", "may not be changed in an update."))
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        causes += f.immutable("preemptionPolicy", new.get("preemptionPolicy"), old.get("preemptionPolicy"))
    return causes


def _policy_rules(obj_: JSON, namespaced: bool) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in objs(obj_, "rules"):
        path = f.index("rules", i)
        if not lst(rule, "verbs"):
            causes.append(f.required(f.child(path, "verbs"), "verbs must contain at least one value"))
        urls = lst(rule, "nonResourceURLs")
        if urls:
            if namespaced:
                causes.append(f.invalid(f.child(path, "nonResourceURLs"), urls,
                                        "namespaced rules cannot apply to non-resource URLs"))
            if lst(rule, "apiGroups") or lst(rule, "resources"):
                causes.append(f.invalid(f.child(path, "nonResourceURLs"), urls,
                                        "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not lst(rule, "apiGroups"):
            causes.append(f.required(f.child(path, "apiGroups"), "resource rules must supply at least one api group"))
        if not lst(rule, "resources"):
            causes.append(f.required(f.child(path, "resources"), "resource rules must supply at least one resource"))
    return causes


def role(obj_: JSON, minor: str) -> list[Cause]:
    return _policy_rules(obj_, namespaced=True)


def cluster_role(obj_: JSON, minor: str) -> list[Cause]:
    return _policy_rules(obj_, namespaced=False)


def _binding(obj_: JSON, role_kinds: tuple[str, ...]) -> list[Cause]:
    role_ref = obj(obj_, "roleRef")
    causes = f.one_of("roleRef.apiGroup", role_ref.get("apiGroup"), (RBAC_GROUP,), required_when_empty=False)
    causes += f.one_of("roleRef.kind", role_ref.get("kind"), role_kinds)
    if not text(role_ref, "name"):
        causes.append(f.required("roleRef.name"))
    for i, subject in objs(obj_, "subjects"):
        path = f.index("subjects", i)
        kind = subject.get("kind")
        causes += f.one_of(f.child(path, "kind"), kind, ("Group", "ServiceAccount", "User"))
        if not text(subject, "name"):
            causes.append(f.required(f.child(path, "name")))
        if kind == "ServiceAccount" and subject.get("apiGroup"):
            causes.append(f.not_supported(f.child(path, "apiGroup"), subject["apiGroup"], ("",)))
        if kind in ("User", "Group") and subject.get("apiGroup") != RBAC_GROUP:
            causes.append(f.not_supported(f.child(path, "apiGroup"), subject.get("apiGroup"), (RBAC_GROUP,)))
    return causes


def role_binding(obj_: JSON, minor: str) -> list[Cause]:
    return _binding(obj_, ("ClusterRole", "Role"))


def cluster_role_binding(obj_: JSON, minor: str) -> list[Cause]:
    causes = _binding(obj_, ("ClusterRole",))
    for i, subject in objs(obj_, "subjects"):
        if subject.get("kind") == "ServiceAccount" and not text(subject, "namespace"):
            causes.append(f.required(f.child(f.index("subjects", i), "namespace")))
    return causes


def binding_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    if obj(new, "roleRef") != obj(old, "roleRef"):
        return [f.invalid("roleRef", f.Rendered("rbac.RoleRef{...}"), "cannot change roleRef")]
    return []


def endpoint_slice(obj_: JSON, minor: str) -> list[Cause]:
    causes = f.one_of("addressType", obj_.get("addressType"), ("IPv4", "IPv6", "FQDN"))
    for i, endpoint in objs(obj_, "endpoints"):
        if not lst(endpoint, "addresses"):
            causes.append(f.required(f.child(f.index("endpoints", i), "addresses"),
                                     "must contain at least 1 address"))
    return causes


def endpoint_slice_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    return f.immutable("addressType", new.get("addressType"), old.get("addressType"))


def _ingress_backend(path: str, backend: JSON) -> list[Cause]:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [f.invalid(path, f.Rendered("networking.IngressBackend{...}"),
                          "cannot set both resource and service backends")]
    if not isinstance(service, dict):
        return [] if resource is not None else [f.invalid(path, f.Rendered("networking.IngressBackend{}"),
                                                          "resource or service backend is required")]
    causes: list[Cause] = []
    if not text(service, "name"):
        causes.append(f.required(f.child(path, "service", "name")))
    port = obj(service, "port")
    if port.get("name") and port.get("number"):
        causes.append(f.invalid(f.child(path, "service", "port"), port.get("name"),
                                "cannot set both port name & port number"))
    elif not port.get("name") and not port.get("number"):
        causes.append(f.required(f.child(path, "service", "port"), "port name or number is required"))
    return causes


def ingress(obj_: JSON, minor: str) -> list[Cause]:
    spec = obj(obj_, "spec")
    causes: list[Cause] = []
    default_backend = spec.get("defaultBackend")
    if isinstance(default_backend, dict):
        causes += _ingress_backend("spec.defaultBackend", default_backend)
    elif not lst(spec, "rules"):
        causes.append(f.invalid("spec", f.Rendered("networking.IngressSpec{...}"),
                                "either `defaultBackend` or `rules` must be specified"))
    for i, rule in objs(spec, "rules"):
        for j, http_path in objs(obj(rule, "http"), "paths"):
            path = f.index(f.child(f.index("spec.rules", i), "http", "paths"), j)
            path_type = http_path.get("pathType")
            if path_type in (None, ""):
                causes.append(f.required(f.child(path, "pathType"), "pathType must be specified"))
            elif path_type not in PATH_TYPES:
                causes.append(f.not_supported(f.child(path, "pathType"), path_type, PATH_TYPES))
            value = text(http_path, "path")
            if path_type in ("Exact", "Prefix") and not value.startswith("/"):
                causes.append(f.invalid(f.child(path, "path"), value, "must be an absolute path"))
            causes += _ingress_backend(f.child(path, "backend"), obj(http_path, "backend"))
    return causes


def horizontal_pod_autoscaler(obj_: JSON, minor: str) -> list[Cause]:
    spec = obj(obj_, "spec")
    causes: list[Cause] = []
    minimum, maximum = integer(spec, "minReplicas"), integer(spec, "maxReplicas")
    if minimum is not None and minimum < 1:
        causes.append(f.invalid("spec.minReplicas", minimum, "must be greater than or equal to 1"))
    if maximum is not None and maximum < 1:
        causes.append(f.invalid("spec.maxReplicas", maximum, "must be greater than 0"))
    if minimum is not None and maximum is not None and maximum < minimum:
        causes.append(f.invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`"))
    target = obj(spec, "scaleTargetRef")
    for key in ("kind", "name"):
        if not text(target, key):
            causes.append(f.required(f.child("spec.scaleTargetRef", key)))
    return causes


def pod_disruption_budget(obj_: JSON, minor: str) -> list[Cause]:
    spec = obj(obj_, "spec")
    causes: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(f.invalid("spec", f.Rendered("policy.PodDisruptionBudgetSpec{...}"),
                                "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        value = spec.get(key)
        if value is not None:
            causes += intstr.positive_int_or_percent(f.child("spec", key), value)
            causes += intstr.not_more_than_100_percent(f.child("spec", key), value)
    selector = spec.get("selector")
    if isinstance(selector, dict):
        causes += selectors.validate("spec.selector", selector)
    causes += f.one_of("spec.unhealthyPodEvictionPolicy", spec.get("unhealthyPodEvictionPolicy"),
                       ("AlwaysAllow", "IfHealthyBudget"), required_when_empty=False)
    return causes
