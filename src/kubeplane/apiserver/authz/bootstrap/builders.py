"""Small builders that keep the bootstrap policy data readable: space-separated verbs, resources and
names (sorted, as upstream's rule builder stores them), API groups as given."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}

# API groups, named as upstream's policy names them.
LEGACY = ("",)
APPS = ("apps",)
APPS_EXT = ("apps", "extensions")
AUTHENTICATION = ("authentication.k8s.io",)
AUTHORIZATION = ("authorization.k8s.io",)
AUTOSCALING = ("autoscaling",)
BATCH = ("batch",)
CERTIFICATES = ("certificates.k8s.io",)
COORDINATION = ("coordination.k8s.io",)
DISCOVERY = ("discovery.k8s.io",)
EXTENSIONS = ("extensions",)
NETWORKING = ("networking.k8s.io",)
NODE = ("node.k8s.io",)
POLICY = ("policy",)
RBAC = (RBAC_GROUP,)
STORAGE = ("storage.k8s.io",)
ADMISSION = ("admissionregistration.k8s.io",)
ANY = ("*",)
EVENT_GROUPS = ("", "events.k8s.io")

READ = "get list watch"
READ_WRITE = "get list watch create update patch delete deletecollection"
WRITE = "create update patch delete deletecollection"


def _words(text: str) -> list[str]:
    return sorted(text.split())


def rule(verbs: str, groups: Iterable[str], resources: str, names: str = "") -> JSON:
    out: JSON = {"apiGroups": list(groups), "resources": _words(resources), "verbs": _words(verbs)}
    if names:
        out["resourceNames"] = _words(names)
    return out


def url_rule(verbs: str, urls: str) -> JSON:
    return {"nonResourceURLs": _words(urls), "verbs": _words(verbs)}


def events_rule() -> JSON:
    """What every component that records events needs (both event APIs)."""
    return rule("create update patch", EVENT_GROUPS, "events")


def _metadata(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> JSON:
    meta: JSON = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {**BOOTSTRAP_LABELS, **(labels or {})}
    meta["annotations"] = dict(AUTOUPDATE)
    return meta


def cluster_role(name: str, rules: list[JSON], labels: dict[str, str] | None = None,
                 aggregate_from: Iterable[str] = ()) -> JSON:
    """``aggregate_from`` lists label keys (value "true") whose roles this one aggregates."""
    out: JSON = {"apiVersion": RBAC_API_VERSION, "kind": "ClusterRole", "metadata": _metadata(name, labels=labels)}
    selectors = [{"matchLabels": {key: "true"}} for key in aggregate_from]
    if selectors:
        out["aggregationRule"] = {"clusterRoleSelectors": selectors}
    else:
        out["rules"] = rules
    return out


def role(namespace: str, name: str, rules: list[JSON]) -> JSON:
    return {"apiVersion": RBAC_API_VERSION, "kind": "Role", "metadata": _metadata(name, namespace), "rules": rules}


def user(name: str) -> JSON:
    return {"apiGroup": RBAC_GROUP, "kind": "User", "name": name}


def group(name: str) -> JSON:
    return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": name}


def service_account(namespace: str, name: str) -> JSON:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def _binding(kind: str, metadata: JSON, role_kind: str, role_name: str, subjects: list[JSON]) -> JSON:
    out: JSON = {"apiVersion": RBAC_API_VERSION, "kind": kind, "metadata": metadata,
                 "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role_name}}
    if subjects:  # upstream leaves the deprecated system:node binding with no subjects at all
        out["subjects"] = subjects
    return out


def cluster_role_binding(role_name: str, subjects: list[JSON], name: str = "") -> JSON:
    return _binding("ClusterRoleBinding", _metadata(name or role_name), "ClusterRole", role_name, subjects)


def role_binding(namespace: str, role_name: str, subjects: list[JSON], name: str = "") -> JSON:
    return _binding("RoleBinding", _metadata(name or role_name, namespace), "Role", role_name, subjects)
