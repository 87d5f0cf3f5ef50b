"""One ClusterRole per kube-controller-manager controller, bound to the service account of the same name
in kube-system (bootstrappolicy/controller_policy.go; golden testdata/controller-roles.yaml).

Only controllers kubeplane's controller manager runs (or may run) are listed; DRA and alpha-only
controllers are left out.
"""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz.bootstrap.builders import (
    ADMISSION,
    APPS,
    APPS_EXT,
    AUTHORIZATION,
    AUTOSCALING,
    BATCH,
    CERTIFICATES,
    DISCOVERY,
    LEGACY,
    NETWORKING,
    POLICY,
    RBAC,
    READ,
    STORAGE,
    cluster_role,
    cluster_role_binding,
    events_rule,
    rule,
    service_account,
)

JSON = dict[str, Any]

CONTROLLER_ROLE_PREFIX = "system:controller:"
CONTROLLER_NAMESPACE = "kube-system"

_SIGNERS = ("kubernetes.io/kube-apiserver-client kubernetes.io/kube-apiserver-client-kubelet "
            "kubernetes.io/kubelet-serving kubernetes.io/legacy-unknown")
_ANY = ("*",)


def _controllers(minor: int) -> dict[str, list[JSON]]:
    """Controller name -> rules (events_rule() last where upstream has it)."""
    controllers: dict[str, list[JSON]] = {
        "attachdetach-controller": [
            rule("list watch", LEGACY, "persistentvolumes persistentvolumeclaims"),
            rule(READ, LEGACY, "nodes"),
            rule("patch update", LEGACY, "nodes/status"),
            rule("list watch", LEGACY, "pods"),
            events_rule(),
            rule("get create delete list watch", STORAGE, "volumeattachments"),
            rule(READ, STORAGE, "csidrivers"),
            rule(READ, STORAGE, "csinodes"),
        ],
        "certificate-controller": [
            rule("get list watch delete", CERTIFICATES, "certificatesigningrequests"),
            rule("update", CERTIFICATES, "certificatesigningrequests/status certificatesigningrequests/approval"),
            rule("approve", CERTIFICATES, "signers", names="kubernetes.io/kube-apiserver-client-kubelet"),
            rule("sign", CERTIFICATES, "signers", names=_SIGNERS),
            rule("create", AUTHORIZATION, "subjectaccessreviews"),
            events_rule(),
        ],
        "clusterrole-aggregation-controller": [
            # escalate lets it write aggregated rules it does not hold itself
            rule("escalate get list patch update watch", RBAC, "clusterroles"),
        ],
        "cronjob-controller": [
            rule("get list watch update", BATCH, "cronjobs"),
            rule("get list watch create update delete patch", BATCH, "jobs"),
            rule("update", BATCH, "cronjobs/status"),
            rule("update", BATCH, "cronjobs/finalizers"),
            rule("list watch delete", LEGACY, "pods"),
            events_rule(),
        ],
        "daemon-set-controller": [
            rule(READ, APPS_EXT, "daemonsets"),
            rule("update", APPS_EXT, "daemonsets/status"),
            rule("update", APPS_EXT, "daemonsets/finalizers"),
            rule("list watch", LEGACY, "nodes"),
            rule("list watch create delete patch", LEGACY, "pods"),
            rule("create", LEGACY, "pods/binding"),
            rule("get list watch create delete update patch", APPS, "controllerrevisions"),
            events_rule(),
        ],
        "deployment-controller": [
            rule("get list watch update", APPS_EXT, "deployments"),
            rule("update", APPS_EXT, "deployments/status"),
            rule("update", APPS_EXT, "deployments/finalizers"),
            rule("get list watch create update patch delete", APPS_EXT, "replicasets"),
            # pods are updated only to adopt or orphan them
            rule("get list watch update", LEGACY, "pods"),
            events_rule(),
        ],
        "disruption-controller": [
            rule(READ, APPS_EXT, "deployments"),
            rule(READ, APPS_EXT, "replicasets"),
            rule(READ, LEGACY, "replicationcontrollers"),
            rule(READ, POLICY, "poddisruptionbudgets"),
            rule(READ, APPS, "statefulsets"),
            rule("update", POLICY, "poddisruptionbudgets/status"),
            rule("patch update", LEGACY, "pods/status"),
            rule("get", _ANY, "*/scale"),
            events_rule(),
        ],
        "endpoint-controller": [
            rule(READ, LEGACY, "services pods"),
            rule("get list watch create update delete", LEGACY, "endpoints"),
            rule("create", LEGACY, "endpoints/restricted"),
            events_rule(),
        ],
        "endpointslice-controller": [
            rule(READ, LEGACY, "services pods nodes"),
            rule("update", LEGACY, "services/finalizers"),
            rule("get list watch create update delete", DISCOVERY, "endpointslices"),
            events_rule(),
        ],
        "endpointslicemirroring-controller": [
            rule(READ, LEGACY, "services endpoints"),
            rule("update", LEGACY, "services/finalizers"),
            rule("update", LEGACY, "endpoints/finalizers"),
            rule("get list watch create update delete", DISCOVERY, "endpointslices"),
            events_rule(),
        ],
        "ephemeral-volume-controller": [
            rule(READ, LEGACY, "pods"),
            rule("update", LEGACY, "pods/finalizers"),
            rule("get list watch create", LEGACY, "persistentvolumeclaims"),
            events_rule(),
        ],
        "expand-controller": [
            rule("get list watch update patch", LEGACY, "persistentvolumes"),
            rule("update patch", LEGACY, "persistentvolumeclaims/status"),
            rule(READ, LEGACY, "persistentvolumeclaims"),
            events_rule(),
        ],
        "generic-garbage-collector": [
            # it deletes dependents of any kind, so it reads and writes everything
            rule("get list watch patch update delete", _ANY, "*"),
            events_rule(),
        ],
        "horizontal-pod-autoscaler": [
            rule(READ, AUTOSCALING, "horizontalpodautoscalers"),
            rule("update", AUTOSCALING, "horizontalpodautoscalers/status"),
            rule("get update", _ANY, "*/scale"),
            rule("list watch", LEGACY, "pods"),
            rule("list watch", ("metrics.k8s.io",), "pods"),
            rule(READ, ("custom.metrics.k8s.io",), "*"),
            rule(READ, ("external.metrics.k8s.io",), "*"),
            events_rule(),
        ],
        "job-controller": [
            rule("get list watch update patch", BATCH, "jobs"),
            rule("update", BATCH, "jobs/status"),
            rule("update", BATCH, "jobs/finalizers"),
            rule("list watch create delete patch", LEGACY, "pods"),
            events_rule(),
        ],
        "legacy-service-account-token-cleaner": [
            rule("get", LEGACY, "configmaps", names="kube-apiserver-legacy-service-account-token-tracking"),
            rule("delete patch", LEGACY, "secrets"),
        ],
        "namespace-controller": [
            rule("get list watch delete", LEGACY, "namespaces"),
            rule("update", LEGACY, "namespaces/finalize namespaces/status"),
            # it empties a namespace of every kind before removing it
            rule("get list watch delete deletecollection", _ANY, "*"),
        ],
        "node-controller": [
            rule("get list update delete patch watch", LEGACY, "nodes"),
            rule("patch update", LEGACY, "nodes/status"),
            rule("patch update", LEGACY, "pods/status"),
            rule("list watch get delete", LEGACY, "pods"),
            events_rule(),
        ],
        "persistent-volume-binder": [
            rule("get list watch update create delete", LEGACY, "persistentvolumes"),
            rule("update", LEGACY, "persistentvolumes/status"),
            rule("get list watch update", LEGACY, "persistentvolumeclaims"),
            rule("update", LEGACY, "persistentvolumeclaims/status"),
            rule("get list watch create delete", LEGACY, "pods"),
            rule(READ, STORAGE, "storageclasses"),
            rule("list watch", LEGACY, "nodes"),
            events_rule(),
            rule("watch", LEGACY, "events"),
        ],
        "pod-garbage-collector": [
            rule("list watch delete", LEGACY, "pods"),
            rule(READ, LEGACY, "nodes"),
            rule("patch", LEGACY, "pods/status"),
        ],
        "pv-protection-controller": [
            rule("get list watch update", LEGACY, "persistentvolumes"),
            events_rule(),
        ],
        "pvc-protection-controller": [
            rule("get list watch update", LEGACY, "persistentvolumeclaims"),
            rule("update", LEGACY, "persistentvolumeclaims/status"),
            rule(READ, LEGACY, "pods"),
            events_rule(),
        ],
        "replicaset-controller": [
            rule("get list watch update", APPS_EXT, "replicasets"),
            rule("update", APPS_EXT, "replicasets/status"),
            rule("update", APPS_EXT, "replicasets/finalizers"),
            rule("list watch patch create delete", LEGACY, "pods"),
            events_rule(),
        ],
        "replication-controller": [
            rule("get list watch update", LEGACY, "replicationcontrollers"),
            rule("update", LEGACY, "replicationcontrollers/status"),
            rule("update", LEGACY, "replicationcontrollers/finalizers"),
            rule("list watch patch create delete", LEGACY, "pods"),
            events_rule(),
        ],
        "resourcequota-controller": [
            # quota counts objects of every kind
            rule("list watch", _ANY, "*"),
            rule("update", LEGACY, "resourcequotas/status"),
            events_rule(),
        ],
        "root-ca-cert-publisher": [
            rule("create update", LEGACY, "configmaps"),
            events_rule(),
        ],
        "route-controller": [
            rule("list watch", LEGACY, "nodes"),
            rule("patch", LEGACY, "nodes/status"),
            events_rule(),
        ],
        "service-account-controller": [
            rule("create", LEGACY, "serviceaccounts"),
            events_rule(),
        ],
        "service-controller": [
            rule(READ, LEGACY, "services"),
            rule("patch update", LEGACY, "services/status"),
            rule("list watch", LEGACY, "nodes"),
            events_rule(),
        ],
        "statefulset-controller": [
            rule("list watch", LEGACY, "pods"),
            rule(READ, APPS, "statefulsets"),
            rule("update", APPS, "statefulsets/status"),
            rule("update", APPS, "statefulsets/finalizers"),
            rule("get create delete update patch", LEGACY, "pods"),
            rule("get list watch create delete update patch", APPS, "controllerrevisions"),
            rule("get list watch create", LEGACY, "persistentvolumeclaims"),
            rule("update delete", LEGACY, "persistentvolumeclaims"),
            rule("update", LEGACY, "pods/finalizers"),
            events_rule(),
        ],
        "ttl-after-finished-controller": [
            rule("get list watch delete", BATCH, "jobs"),
            events_rule(),
        ],
        "ttl-controller": [
            rule("update patch list watch", LEGACY, "nodes"),
            events_rule(),
        ],
    }
    if minor >= 30:  # ValidatingAdmissionPolicy GA
        controllers["validatingadmissionpolicy-status-controller"] = [
            rule(READ, ADMISSION, "validatingadmissionpolicies"),
            rule("get patch update", ADMISSION, "validatingadmissionpolicies/status"),
            events_rule(),
        ]
    if minor >= 33:  # MultiCIDRServiceAllocator (ServiceCIDR) GA
        controllers["service-cidrs-controller"] = [
            rule("get list watch patch update", NETWORKING, "servicecidrs"),
            rule("patch update", NETWORKING, "servicecidrs/finalizers"),
            rule("patch update", NETWORKING, "servicecidrs/status"),
            rule(READ, NETWORKING, "ipaddresses"),
            events_rule(),
        ]
    return dict(sorted(controllers.items()))


def controller_roles(minor: int) -> list[JSON]:
    return [cluster_role(CONTROLLER_ROLE_PREFIX + name, rules) for name, rules in _controllers(minor).items()]


def controller_role_bindings(minor: int) -> list[JSON]:
    return [cluster_role_binding(CONTROLLER_ROLE_PREFIX + name, [service_account(CONTROLLER_NAMESPACE, name)])
            for name in _controllers(minor)]
