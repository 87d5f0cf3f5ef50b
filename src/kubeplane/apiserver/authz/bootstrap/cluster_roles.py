"""The default ClusterRoles upstream creates (bootstrappolicy/policy.go; golden testdata/cluster-roles.yaml)."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz.bootstrap.builders import (
    APPS,
    APPS_EXT,
    AUTHENTICATION,
    AUTHORIZATION,
    AUTOSCALING,
    BATCH,
    CERTIFICATES,
    COORDINATION,
    DISCOVERY,
    EXTENSIONS,
    LEGACY,
    NETWORKING,
    NODE,
    POLICY,
    RBAC,
    READ,
    READ_WRITE,
    STORAGE,
    WRITE,
    cluster_role,
    events_rule,
    rule,
    url_rule,
)

JSON = dict[str, Any]

AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"
AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"

_HEALTH_URLS = "/healthz /livez /readyz"


def _user_facing(minor: int) -> list[JSON]:
    return [
        cluster_role("cluster-admin", [rule("*", ("*",), "*"), url_rule("*", "*")]),
        cluster_role("admin", [], aggregate_from=[AGGREGATE_TO_ADMIN]),
        cluster_role("edit", [], labels={AGGREGATE_TO_ADMIN: "true"}, aggregate_from=[AGGREGATE_TO_EDIT]),
        cluster_role("view", [], labels={AGGREGATE_TO_EDIT: "true"}, aggregate_from=[AGGREGATE_TO_VIEW]),
        cluster_role("system:aggregate-to-admin", [
            rule("create", AUTHORIZATION, "localsubjectaccessreviews"),
            rule(READ_WRITE, RBAC, "roles rolebindings"),
        ], labels={AGGREGATE_TO_ADMIN: "true"}),
        cluster_role("system:aggregate-to-edit", [
            rule(READ, LEGACY, "pods/attach pods/proxy pods/exec pods/portforward secrets services/proxy"),
            rule("impersonate", LEGACY, "serviceaccounts"),
            rule(WRITE, LEGACY, "pods pods/attach pods/proxy pods/exec pods/portforward"),
            rule("create", LEGACY, "pods/eviction"),
            rule(WRITE, LEGACY, "replicationcontrollers replicationcontrollers/scale serviceaccounts services "
                                "services/proxy persistentvolumeclaims configmaps secrets events"),
            rule("create", LEGACY, "serviceaccounts/token"),
            rule(WRITE, APPS, "statefulsets statefulsets/scale daemonsets deployments deployments/scale "
                              "deployments/rollback replicasets replicasets/scale"),
            rule(WRITE, AUTOSCALING, "horizontalpodautoscalers"),
            rule(WRITE, BATCH, "jobs cronjobs"),
            rule(WRITE, EXTENSIONS, "daemonsets deployments deployments/scale deployments/rollback ingresses "
                                    "replicasets replicasets/scale replicationcontrollers/scale networkpolicies"),
            rule(WRITE, POLICY, "poddisruptionbudgets"),
            rule(WRITE, NETWORKING, "networkpolicies ingresses"),
            rule(READ_WRITE, COORDINATION, "leases"),
        ], labels={AGGREGATE_TO_EDIT: "true"}),
        cluster_role("system:aggregate-to-view", [
            rule(READ, LEGACY, "pods replicationcontrollers replicationcontrollers/scale serviceaccounts services "
                               "services/status endpoints persistentvolumeclaims persistentvolumeclaims/status "
                               "configmaps"),
            rule(READ, LEGACY, "limitranges resourcequotas bindings events pods/status resourcequotas/status "
                               "namespaces/status replicationcontrollers/status pods/log"),
            rule(READ, LEGACY, "namespaces"),
            rule(READ, DISCOVERY, "endpointslices"),
            rule(READ, APPS, "controllerrevisions statefulsets statefulsets/status statefulsets/scale daemonsets "
                             "daemonsets/status deployments deployments/status deployments/scale replicasets "
                             "replicasets/status replicasets/scale"),
            rule(READ, AUTOSCALING, "horizontalpodautoscalers horizontalpodautoscalers/status"),
            rule(READ, BATCH, "jobs cronjobs cronjobs/status jobs/status"),
            rule(READ, EXTENSIONS, "daemonsets daemonsets/status deployments deployments/scale deployments/status "
                                   "ingresses ingresses/status replicasets replicasets/scale replicasets/status "
                                   "replicationcontrollers/scale networkpolicies"),
            rule(READ, POLICY, "poddisruptionbudgets poddisruptionbudgets/status"),
            rule(READ, NETWORKING, "ingresses ingresses/status networkpolicies"),
        ], labels={AGGREGATE_TO_VIEW: "true"}),
    ]


def _everyone(minor: int) -> list[JSON]:
    basic_user = [rule("create", AUTHORIZATION, "selfsubjectaccessreviews selfsubjectrulesreviews")]
    if minor >= 28:  # SelfSubjectReview (kubectl auth whoami) went GA in 1.28
        basic_user.append(rule("create", AUTHENTICATION, "selfsubjectreviews"))
    monitoring_urls = "/metrics /livez /readyz /healthz /livez/* /readyz/* /healthz/*"
    if minor >= 26:
        monitoring_urls += " /metrics/slis"
    return [
        cluster_role("system:discovery", [url_rule("get", "/api /api/* /apis /apis/* /healthz /livez /openapi "
                                                          "/openapi/* /readyz /version /version/")]),
        cluster_role("system:public-info-viewer", [url_rule("get", f"{_HEALTH_URLS} /version /version/")]),
        cluster_role("system:basic-user", basic_user),
        cluster_role("system:monitoring", [url_rule("get", monitoring_urls)]),
        cluster_role("system:service-account-issuer-discovery", [
            url_rule("get", "/.well-known/openid-configuration /openid/v1/jwks")]),
    ]


def _node_roles(minor: int) -> list[JSON]:
    return [
        cluster_role("system:node", [
            rule("create", AUTHENTICATION, "tokenreviews"),
            rule("create", AUTHORIZATION, "subjectaccessreviews localsubjectaccessreviews"),
            rule(READ, LEGACY, "services"),
            rule("create get list watch", LEGACY, "nodes"),
            rule("update patch", LEGACY, "nodes/status"),
            rule("update patch", LEGACY, "nodes"),
            rule("create update patch", LEGACY, "events"),
            rule(READ, LEGACY, "pods"),
            rule("create delete", LEGACY, "pods"),
            rule("update patch", LEGACY, "pods/status"),
            rule("create", LEGACY, "pods/eviction"),
            rule(READ, LEGACY, "secrets configmaps"),
            rule("get", LEGACY, "persistentvolumeclaims persistentvolumes"),
            rule("get", LEGACY, "endpoints"),
            rule("create get list watch", CERTIFICATES, "certificatesigningrequests"),
            rule("get create update patch delete", COORDINATION, "leases"),
            rule("get", STORAGE, "volumeattachments"),
            rule("create", LEGACY, "serviceaccounts/token"),
            rule("get update patch", LEGACY, "persistentvolumeclaims/status"),
            rule(READ, STORAGE, "csidrivers"),
            rule("get create update patch delete", STORAGE, "csinodes"),
            rule(READ, NODE, "runtimeclasses"),
        ]),
        cluster_role("system:node-bootstrapper", [
            rule("create get list watch", CERTIFICATES, "certificatesigningrequests")]),
        cluster_role("system:node-problem-detector", [
            rule("get", LEGACY, "nodes"), rule("patch", LEGACY, "nodes/status"), events_rule()]),
        cluster_role("system:node-proxier", [
            rule("list watch", LEGACY, "services endpoints"),
            rule(READ, LEGACY, "nodes"),
            events_rule(),
            rule("list watch", DISCOVERY, "endpointslices"),
        ]),
        cluster_role("system:kubelet-api-admin", [
            rule(READ, LEGACY, "nodes"),
            rule("proxy", LEGACY, "nodes"),
            rule("*", LEGACY, "nodes/proxy nodes/metrics nodes/stats nodes/log"),
        ]),
    ]


def _leader_lease(name: str) -> list[JSON]:
    return [rule("create", COORDINATION, "leases"), rule("get update", COORDINATION, "leases", names=name)]


def _control_plane(minor: int) -> list[JSON]:
    return [
        cluster_role("system:kube-controller-manager", [
            events_rule(),
            *_leader_lease("kube-controller-manager"),
            rule("create", LEGACY, "secrets serviceaccounts"),
            rule("delete", LEGACY, "secrets"),
            rule("get", LEGACY, "namespaces secrets serviceaccounts configmaps"),
            rule("update", LEGACY, "secrets serviceaccounts"),
            rule("create", AUTHENTICATION, "tokenreviews"),
            rule("create", AUTHORIZATION, "subjectaccessreviews"),
            # every shared informer lists and watches
            rule("list watch", ("*",), "*"),
            rule("create", LEGACY, "serviceaccounts/token"),
        ]),
        cluster_role("system:kube-scheduler", [
            events_rule(),
            *_leader_lease("kube-scheduler"),
            rule(READ, LEGACY, "nodes"),
            rule("get list watch delete", LEGACY, "pods"),
            rule("create", LEGACY, "pods/binding bindings"),
            rule("patch update", LEGACY, "pods/status"),
            rule(READ, LEGACY, "services replicationcontrollers"),
            rule(READ, APPS_EXT, "replicasets"),
            rule(READ, APPS, "statefulsets"),
            rule(READ, POLICY, "poddisruptionbudgets"),
            rule(READ, LEGACY, "persistentvolumeclaims persistentvolumes"),
            rule("create", AUTHENTICATION, "tokenreviews"),
            rule("create", AUTHORIZATION, "subjectaccessreviews"),
            rule(READ, STORAGE, "csinodes"),
            rule(READ, LEGACY, "namespaces"),
            rule(READ, STORAGE, "csidrivers"),
            rule(READ, STORAGE, "csistoragecapacities"),
        ]),
        cluster_role("system:volume-scheduler", [
            rule("get list watch update patch", LEGACY, "persistentvolumes"),
            rule(READ, STORAGE, "storageclasses"),
            rule("get list watch update patch", LEGACY, "persistentvolumeclaims"),
        ]),
        cluster_role("system:kube-dns", [rule("list watch", LEGACY, "endpoints services")]),
        cluster_role("system:kube-aggregator", [rule(READ, LEGACY, "endpoints services")]),
        cluster_role("system:auth-delegator", [
            rule("create", AUTHENTICATION, "tokenreviews"),
            rule("create", AUTHORIZATION, "subjectaccessreviews"),
        ]),
        cluster_role("system:heapster", [
            rule(READ, LEGACY, "events pods nodes namespaces"),
            rule(READ, EXTENSIONS, "deployments"),
        ]),
        cluster_role("system:persistent-volume-provisioner", [
            rule("get list watch create delete", LEGACY, "persistentvolumes"),
            # update sets the lock annotations on claims
            rule("get list watch update", LEGACY, "persistentvolumeclaims"),
            rule(READ, STORAGE, "storageclasses"),
            rule("watch", LEGACY, "events"),
            events_rule(),
        ]),
    ]


def _certificates() -> list[JSON]:
    roles = [
        cluster_role("system:certificates.k8s.io:certificatesigningrequests:nodeclient", [
            rule("create", CERTIFICATES, "certificatesigningrequests/nodeclient")]),
        cluster_role("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [
            rule("create", CERTIFICATES, "certificatesigningrequests/selfnodeclient")]),
    ]
    for approver, signer in (("legacy-unknown-approver", "kubernetes.io/legacy-unknown"),
                             ("kubelet-serving-approver", "kubernetes.io/kubelet-serving"),
                             ("kube-apiserver-client-approver", "kubernetes.io/kube-apiserver-client"),
                             ("kube-apiserver-client-kubelet-approver",
                              "kubernetes.io/kube-apiserver-client-kubelet")):
        roles.append(cluster_role(f"system:certificates.k8s.io:{approver}", [
            rule("approve", CERTIFICATES, "signers", names=signer)]))
    return roles


def cluster_roles(minor: int) -> list[JSON]:
    return [*_user_facing(minor), *_everyone(minor), *_node_roles(minor), *_control_plane(minor), *_certificates()]

