"""The Roles and RoleBindings upstream creates in kube-system and kube-public
(bootstrappolicy/namespace_policy.go; golden testdata/namespace-roles.yaml and namespace-role-bindings.yaml)."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz.bootstrap.builders import (
    COORDINATION,
    LEGACY,
    READ,
    events_rule,
    role,
    role_binding,
    rule,
    service_account,
    user,
)

JSON = dict[str, Any]

KUBE_SYSTEM = "kube-system"
KUBE_PUBLIC = "kube-public"
LEADER_LOCKING_CONTROLLER_MANAGER = "system::leader-locking-kube-controller-manager"
LEADER_LOCKING_SCHEDULER = "system::leader-locking-kube-scheduler"


def _leader_locking(minor: int) -> list[JSON]:
    rules = [rule("watch get list create update", COORDINATION, "leases")]
    if minor >= 32:  # coordinated leader election's LeaseCandidates
        rules.append(rule("watch get list create update", COORDINATION, "leasecandidates"))
    return rules


def namespace_roles(minor: int) -> list[JSON]:
    return [
        role(KUBE_SYSTEM, "extension-apiserver-authentication-reader", [
            rule(READ, LEGACY, "configmaps", names="extension-apiserver-authentication")]),
        role(KUBE_SYSTEM, LEADER_LOCKING_CONTROLLER_MANAGER, _leader_locking(minor)),
        role(KUBE_SYSTEM, LEADER_LOCKING_SCHEDULER, _leader_locking(minor)),
        role(KUBE_SYSTEM, "system:controller:bootstrap-signer", [rule(READ, LEGACY, "secrets")]),
        role(KUBE_SYSTEM, "system:controller:cloud-provider", [rule("create get list watch", LEGACY, "configmaps")]),
        role(KUBE_SYSTEM, "system:controller:token-cleaner", [
            rule("delete get list watch", LEGACY, "secrets"), events_rule()]),
        role(KUBE_PUBLIC, "system:controller:bootstrap-signer", [
            rule(READ, LEGACY, "configmaps"),
            rule("update", LEGACY, "configmaps", names="cluster-info"),
            events_rule(),
        ]),
    ]


def namespace_role_bindings(minor: int) -> list[JSON]:
    return [
        role_binding(KUBE_SYSTEM, "extension-apiserver-authentication-reader",
                     [user("system:kube-controller-manager"), user("system:kube-scheduler")],
                     name="system::extension-apiserver-authentication-reader"),
        role_binding(KUBE_SYSTEM, LEADER_LOCKING_CONTROLLER_MANAGER, [
            user("system:kube-controller-manager"),
            service_account(KUBE_SYSTEM, "kube-controller-manager"),
            service_account(KUBE_SYSTEM, "leader-election-controller"),
        ]),
        role_binding(KUBE_SYSTEM, LEADER_LOCKING_SCHEDULER, [
            user("system:kube-scheduler"), service_account(KUBE_SYSTEM, "kube-scheduler")]),
        role_binding(KUBE_SYSTEM, "system:controller:bootstrap-signer",
                     [service_account(KUBE_SYSTEM, "bootstrap-signer")]),
        role_binding(KUBE_SYSTEM, "system:controller:cloud-provider", [service_account(KUBE_SYSTEM, "cloud-provider")]),
        role_binding(KUBE_SYSTEM, "system:controller:token-cleaner", [service_account(KUBE_SYSTEM, "token-cleaner")]),
        role_binding(KUBE_PUBLIC, "system:controller:bootstrap-signer",
                     [service_account(KUBE_SYSTEM, "bootstrap-signer")]),
    ]
