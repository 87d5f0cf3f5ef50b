from datetime import UTC, datetime
from typing import Any

from kubeplane.machinery.printers import table

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
FIVE_MINUTES_AGO = "2026-03-01T11:55:00Z"


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": FIVE_MINUTES_AGO, **extra}


def cells(group: str, resource: str, obj: dict[str, Any]) -> list[Any]:
    return list(table(group, resource, [obj], now=NOW)["rows"][0]["cells"])


def column_names(group: str, resource: str) -> list[str]:
    return [c["name"] for c in table(group, resource, [])["columnDefinitions"]]


def test_ingress_and_ingress_class() -> None:
    ingress = {
        "metadata": meta("web"),
        "spec": {
            "ingressClassName": "alb",
            "rules": [
                {"host": "a.example.com"},
                {},
                {"host": "b.example.com"},
                {"host": "c.example.com"},
                {"host": "d.example.com"},
            ],
            "tls": [{"hosts": ["a.example.com"]}],
        },
        "status": {"loadBalancer": {"ingress": [{"hostname": "k8s-default-web-0123456789.elb.example.com"}]}},
    }
    assert cells("networking.k8s.io", "ingresses", ingress) == [
        "web",
        "alb",
        "a.example.com,b.example.com,c.example.com + 2 more...",
        "k8s-default-web-0123456789.elb.example.com",
        "80, 443",
        "5m",
    ]
    bare = {"metadata": meta("bare"), "spec": {"rules": [{}]}}
    assert cells("networking.k8s.io", "ingresses", bare)[1:5] == ["<none>", "*", "", "80"]
    ingress_class = {
        "metadata": meta("alb"),
        "spec": {
            "controller": "ingress.k8s.aws/alb",
            "parameters": {"apiGroup": "elbv2.k8s.aws", "kind": "IngressClassParams", "name": "p"},
        },
    }
    assert cells("networking.k8s.io", "ingressclasses", ingress_class) == [
        "alb",
        "ingress.k8s.aws/alb",
        "IngressClassParams.elbv2.k8s.aws/p",
        "5m",
    ]


def test_network_policy_and_endpoint_slice() -> None:
    policy = {"metadata": meta("deny"), "spec": {"podSelector": {}}}
    assert cells("networking.k8s.io", "networkpolicies", policy) == ["deny", "<none>", "5m"]
    endpoint_slice = {
        "metadata": meta("web-abc"),
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80}, {"name": "metrics"}],
        "endpoints": [
            {"addresses": ["198.18.1.1"]},
            {"addresses": ["198.18.1.2", "198.18.1.3"]},
            {"addresses": ["198.18.1.4"]},
        ],
    }
    assert cells("discovery.k8s.io", "endpointslices", endpoint_slice) == [
        "web-abc",
        "IPv4",
        "80,metrics",
        "198.18.1.1,198.18.1.2,198.18.1.3 + 1 more...",
        "5m",
    ]
    empty = {"metadata": meta("empty"), "addressType": "IPv6"}
    assert cells("discovery.k8s.io", "endpointslices", empty)[2:4] == ["<unset>", "<unset>"]


def test_role_bindings() -> None:
    binding = {
        "metadata": meta("edit"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
        ],
    }
    expected = ["edit", "ClusterRole/edit", "5m", "alice, bob", "devs", "tools/ci"]
    assert cells("rbac.authorization.k8s.io", "rolebindings", binding) == expected
    assert cells("rbac.authorization.k8s.io", "clusterrolebindings", binding) == expected
    assert column_names("rbac.authorization.k8s.io", "rolebindings") == [
        "Name",
        "Role",
        "Age",
        "Users",
        "Groups",
        "ServiceAccounts",
    ]


def test_storage_class_and_csi_driver() -> None:
    default = {
        "metadata": meta("gp3", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "ebs.csi.aws.com",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }
    assert cells("storage.k8s.io", "storageclasses", default) == [
        "gp3 (default)",
        "ebs.csi.aws.com",
        "Delete",
        "WaitForFirstConsumer",
        True,
        "5m",
    ]
    plain = {"metadata": meta("slow"), "provisioner": "kubernetes.io/no-provisioner"}
    assert cells("storage.k8s.io", "storageclasses", plain)[:5] == [
        "slow",
        "kubernetes.io/no-provisioner",
        "Delete",
        "Immediate",
        False,
    ]
    driver = {"metadata": meta("ebs.csi.aws.com"), "spec": {"volumeLifecycleModes": ["Persistent"]}}
    assert cells("storage.k8s.io", "csidrivers", driver) == [
        "ebs.csi.aws.com",
        True,
        False,
        False,
        "<unset>",
        False,
        "Persistent",
        "5m",
    ]


def test_horizontal_pod_autoscaler_v2_and_v1() -> None:
    v2 = {
        "metadata": meta("web"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "rps"},
                        "target": {"type": "AverageValue", "averageValue": "100"},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "512Mi"},
                    },
                },
            ],
        },
        "status": {
            "currentReplicas": 3,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": 37, "averageValue": "120m"},
                    },
                }
            ],
        },
    }
    assert cells("autoscaling", "horizontalpodautoscalers", v2) == [
        "web",
        "Deployment/web",
        "cpu: 37%/50%, <unknown>/100 + 1 more...",
        "2",
        10,
        3,
        "5m",
    ]
    v1 = {
        "metadata": meta("api"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "api"},
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 80,
        },
        "status": {"currentReplicas": 1},
    }
    assert cells("autoscaling", "horizontalpodautoscalers", v1)[2:4] == ["cpu: <unknown>/80%", "<unset>"]
    no_metrics = {
        "metadata": meta("x"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 1},
    }
    assert cells("autoscaling", "horizontalpodautoscalers", no_metrics)[2] == "<none>"


def test_pdb_priority_class_lease_csr() -> None:
    pdb = {"metadata": meta("web"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}
    assert cells("policy", "poddisruptionbudgets", pdb) == ["web", "50%", "N/A", 1, "5m"]
    priority = {
        "metadata": meta("system-node-critical"),
        "value": 2000001000,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    assert cells("scheduling.k8s.io", "priorityclasses", priority) == [
        "system-node-critical",
        2000001000,
        False,
        "5m",
        "PreemptLowerPriority",
    ]
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "cp-a_1234"}}
    assert cells("coordination.k8s.io", "leases", lease) == ["kube-scheduler", "cp-a_1234", "5m"]
    assert cells("coordination.k8s.io", "leases", {"metadata": meta("free"), "spec": {}}) == [
        "free",
        "",
        "5m",
    ]
    csr = {
        "metadata": meta("csr-abc"),
        "spec": {
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "username": "system:node:a",
            "expirationSeconds": 86400,
        },
        "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"},
    }
    assert cells("certificates.k8s.io", "certificatesigningrequests", csr) == [
        "csr-abc",
        "5m",
        "kubernetes.io/kube-apiserver-client-kubelet",
        "system:node:a",
        "24h",
        "Approved,Issued",
    ]
    pending = {"metadata": meta("csr-new"), "spec": {"username": "u"}}
    assert cells("certificates.k8s.io", "certificatesigningrequests", pending)[2:] == [
        "<none>",
        "u",
        "<none>",
        "Pending",
    ]


def test_webhooks_and_admission_policies() -> None:
    webhooks = {"metadata": meta("pod-identity"), "webhooks": [{"name": "a"}, {"name": "b"}]}
    for resource in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        assert cells("admissionregistration.k8s.io", resource, webhooks) == ["pod-identity", 2, "5m"]
    policy = {
        "metadata": meta("limits"),
        "spec": {
            "validations": [{"expression": "true"}],
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
        },
    }
    assert cells("admissionregistration.k8s.io", "validatingadmissionpolicies", policy) == [
        "limits",
        1,
        "v1/ConfigMap",
        "5m",
    ]
    binding = {"metadata": meta("limits-b"), "spec": {"policyName": "limits", "paramRef": {"name": "cfg"}}}
    assert cells("admissionregistration.k8s.io", "validatingadmissionpolicybindings", binding) == [
        "limits-b",
        "limits",
        "*/cfg",
        "5m",
    ]


def test_flow_schemas_print_in_matching_order() -> None:
    def schema(name: str, precedence: int) -> dict[str, Any]:
        return {
            "metadata": meta(name),
            "spec": {
                "priorityLevelConfiguration": {"name": "workload-low"},
                "matchingPrecedence": precedence,
                "distinguisherMethod": {"type": "ByUser"},
            },
            "status": {"conditions": [{"type": "Dangling", "status": "False"}]},
        }

    rows = table(
        "flowcontrol.apiserver.k8s.io",
        "flowschemas",
        [schema("b", 9000), schema("a", 9000), schema("exempt", 1)],
        now=NOW,
    )["rows"]
    assert [row["cells"][0] for row in rows] == ["exempt", "a", "b"]
    assert rows[0]["cells"] == ["exempt", "workload-low", 1, "ByUser", "5m", "False"]


def test_priority_level_configuration() -> None:
    limited = {
        "metadata": meta("workload-low"),
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 100,
                "limitResponse": {
                    "type": "Queue",
                    "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50},
                },
            },
        },
    }
    exempt = {"metadata": meta("exempt"), "spec": {"type": "Exempt"}}
    group = "flowcontrol.apiserver.k8s.io"
    assert cells(group, "prioritylevelconfigurations", limited) == [
        "workload-low",
        "Limited",
        100,
        128,
        6,
        50,
        "5m",
    ]
    assert cells(group, "prioritylevelconfigurations", exempt) == [
        "exempt",
        "Exempt",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
        "5m",
    ]
