"""RBAC bindings (roles and cluster roles use the default table, as upstream)."""

from __future__ import annotations

from typing import Any

from .cells import JSON, items, name_of, text
from .columns import AGE, NAME, Doc, string
from .duration import Ages
from .printer import Printer, Printers


def subjects_strings(subjects: list[Any]) -> tuple[list[str], list[str], list[str]]:
    """``rbac.SubjectsStrings``: user names, group names and ``namespace/name`` service accounts."""
    users, groups, service_accounts = [], [], []
    for subject in subjects:
        kind = text(subject, "kind")
        if kind == "ServiceAccount":
            service_accounts.append(f"{text(subject, 'namespace')}/{text(subject, 'name')}")
        elif kind == "User":
            users.append(text(subject, "name"))
        elif kind == "Group":
            groups.append(text(subject, "name"))
    return users, groups, service_accounts


def _binding(obj: JSON, ages: Ages) -> list[Any]:
    users, groups, service_accounts = subjects_strings(items(obj, "subjects"))
    return [
        name_of(obj),
        f"{text(obj, 'roleRef', 'kind')}/{text(obj, 'roleRef', 'name')}",
        ages.of(obj),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(service_accounts),
    ]


def _binding_columns(kind: str, noun: str) -> tuple[Any, ...]:
    return (
        NAME,
        string("Role", Doc(f"rbac.v1.{kind}", "roleRef")),
        AGE,
        string("Users", f"Users in the {noun}", wide=True),
        string("Groups", f"Groups in the {noun}", wide=True),
        string("ServiceAccounts", f"ServiceAccounts in the {noun}", wide=True),
    )


PRINTERS: Printers = {
    ("rbac.authorization.k8s.io", "rolebindings"): Printer(
        _binding_columns("RoleBinding", "roleBinding"), _binding
    ),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): Printer(
        _binding_columns("ClusterRoleBinding", "clusterRoleBinding"), _binding
    ),
}
