from datetime import UTC, datetime
from typing import Any

from kubeplane.machinery.printers import table

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
FIVE_MINUTES_AGO = "2026-03-01T11:55:00Z"


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": FIVE_MINUTES_AGO, **extra}


def cells(group: str, resource: str, obj: dict[str, Any]) -> list[Any]:
    return list(table(group, resource, [obj], now=NOW)["rows"][0]["cells"])


def column_names(group: str, resource: str) -> list[str]:
    return [c["name"] for c in table(group, resource, [])["columnDefinitions"]]


def test_service_columns() -> None:
    assert column_names("", "services") == [
        "Name",
        "Type",
        "Cluster-IP",
        "External-IP",
        "Port(s)",
        "Age",
        "Selector",
    ]


def test_cluster_ip_service() -> None:
    svc = {
        "metadata": meta("web"),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "198.19.0.10",
            "clusterIPs": ["198.19.0.10"],
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app": "web", "tier": "front"},
        },
    }
    assert cells("", "services", svc) == [
        "web",
        "ClusterIP",
        "198.19.0.10",
        "<none>",
        "80/TCP",
        "5m",
        "app=web,tier=front",
    ]


def test_node_port_and_headless_and_external_name() -> None:
    node_port = {
        "metadata": meta("np"),
        "spec": {
            "type": "NodePort",
            "clusterIP": "198.19.0.11",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
        },
    }
    headless = {
        "metadata": meta("db"),
        "spec": {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]},
    }
    external = {"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
    assert cells("", "services", node_port)[1:5] == [
        "NodePort",
        "198.19.0.11",
        "<none>",
        "80:30080/TCP,53/UDP",
    ]
    assert cells("", "services", node_port)[6] == "<none>"
    assert cells("", "services", headless)[2:5] == ["None", "<none>", "<none>"]
    assert cells("", "services", external)[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]


def test_load_balancer_pending_then_assigned() -> None:
    spec = {
        "type": "LoadBalancer",
        "clusterIPs": ["198.19.0.12"],
        "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}],
    }
    pending = {"metadata": meta("lb"), "spec": spec}
    assigned = {
        "metadata": meta("lb"),
        "spec": {**spec, "externalIPs": ["203.0.113.9"]},
        "status": {
            "loadBalancer": {
                "ingress": [{"hostname": "a-very-long-load-balancer.elb.example.com"}, {"ip": "198.18.9.9"}]
            }
        },
    }
    assert cells("", "services", pending)[3] == "<pending>"
    # The server prints wide, so long load balancer names are not clipped.
    assert (
        cells("", "services", assigned)[3]
        == "198.18.9.9,a-very-long-load-balancer.elb.example.com,203.0.113.9"
    )


def test_node_ready_roles_and_wide_cells() -> None:
    node = {
        "metadata": {
            "name": "ip-198-18-1-10",
            "creationTimestamp": "2026-02-27T12:00:00Z",
            "labels": {
                "node-role.kubernetes.io/control-plane": "",
                "node-role.kubernetes.io/worker": "",
                "kubernetes.io/role": "edge",
                "node-role.kubernetes.io/": "",
            },
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [
                {"type": "InternalIP", "address": "198.18.1.10"},
                {"type": "Hostname", "address": "ip-198-18-1-10"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.35.0",
                "osImage": "Debian GNU/Linux 13 (trixie)",
                "kernelVersion": "6.12.0",
                "containerRuntimeVersion": "containerd://2.1.0",
            },
        },
    }
    assert cells("", "nodes", node) == [
        "ip-198-18-1-10",
        "Ready,SchedulingDisabled",
        "control-plane,edge,worker",
        "2d",
        "v1.35.0",
        "198.18.1.10",
        "<none>",
        "Debian GNU/Linux 13 (trixie)",
        "6.12.0",
        "containerd://2.1.0",
    ]


def test_node_not_ready_and_unknown() -> None:
    not_ready = {"metadata": meta("n1"), "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    fresh = {"metadata": meta("n2")}
    assert cells("", "nodes", not_ready)[1:3] == ["NotReady", "<none>"]
    assert cells("", "nodes", fresh)[1] == "Unknown"
    assert cells("", "nodes", fresh)[7:] == ["<unknown>", "<unknown>", "<unknown>"]


def test_endpoints_caps_at_three() -> None:
    endpoints = {
        "metadata": meta("web"),
        "subsets": [
            {
                "addresses": [{"ip": "198.18.1.1"}, {"ip": "198.18.1.2"}],
                "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
            },
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]},
        ],
    }
    assert cells("", "endpoints", endpoints)[1] == "198.18.1.1:80,198.18.1.2:80,198.18.1.1:443 + 2 more..."
    ipv6 = {
        "metadata": meta("v6"),
        "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]}],
    }
    headless = {"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "198.18.1.3"}]}]}
    assert cells("", "endpoints", ipv6)[1] == "[fd00::1]:8080"
    assert cells("", "endpoints", headless)[1] == "198.18.1.3"
    assert cells("", "endpoints", {"metadata": meta("none")})[1] == "<none>"


def test_namespace_secret_serviceaccount_configmap() -> None:
    assert cells("", "namespaces", {"metadata": meta("team-a"), "status": {"phase": "Active"}}) == [
        "team-a",
        "Active",
        "5m",
    ]
    secret = {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}
    assert cells("", "secrets", secret) == ["tls", "kubernetes.io/tls", 2, "5m"]
    assert cells("", "serviceaccounts", {"metadata": meta("default")}) == ["default", 0, "5m"]
    assert cells("", "configmaps", {"metadata": meta("kube-root-ca.crt"), "data": {"ca.crt": "x"}}) == [
        "kube-root-ca.crt",
        1,
        "5m",
    ]


def test_persistent_volume() -> None:
    pv = {
        "metadata": meta("pv-1", annotations={"volume.beta.kubernetes.io/storage-class": "legacy"}),
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"},
            "storageClassName": "gp3",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    assert cells("", "persistentvolumes", pv) == [
        "pv-1",
        "10Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "default/data",
        "legacy",
        "<unset>",
        "",
        "5m",
        "Filesystem",
    ]


def test_persistent_volume_claim_pending_and_bound() -> None:
    pending = {
        "metadata": meta("data"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "gp3",
        },
        "status": {"phase": "Pending"},
    }
    bound = {
        "metadata": meta("data", deletionTimestamp="2026-03-01T11:59:00Z"),
        "spec": {**pending["spec"], "volumeName": "pv-1", "volumeMode": "Block"},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOncePod"]},
    }
    assert cells("", "persistentvolumeclaims", pending) == [
        "data",
        "Pending",
        "",
        "",
        "",
        "gp3",
        "<unset>",
        "5m",
        "<unset>",
    ]
    assert cells("", "persistentvolumeclaims", bound) == [
        "data",
        "Terminating",
        "pv-1",
        "10Gi",
        "RWOP",
        "gp3",
        "<unset>",
        "5m",
        "Block",
    ]


def test_resource_quota_splits_requests_and_limits() -> None:
    quota = {
        "metadata": meta("compute"),
        "status": {
            "hard": {"requests.cpu": "4", "limits.memory": "8Gi", "pods": "10", "limits.cpu": "8"},
            "used": {"requests.cpu": "500m", "limits.cpu": "1", "pods": "3"},
        },
    }
    assert cells("", "resourcequotas", quota) == [
        "compute",
        "pods: 3/10, requests.cpu: 500m/4",
        "limits.cpu: 1/8, limits.memory: 0/8Gi",
        "5m",
    ]


def test_pod_template_and_replication_controller() -> None:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx"}, {"name": "log", "image": "busybox"}]},
    }
    assert cells("", "podtemplates", {"metadata": meta("t"), "template": template}) == [
        "t",
        "app,log",
        "nginx,busybox",
        "app=web",
    ]
    rc = {
        "metadata": meta("rc"),
        "spec": {"replicas": 2, "selector": {"app": "web"}, "template": template},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert cells("", "replicationcontrollers", rc) == [
        "rc",
        2,
        2,
        1,
        "5m",
        "app,log",
        "nginx,busybox",
        "app=web",
    ]


def test_component_status() -> None:
    healthy = {
        "metadata": {"name": "etcd-0"},
        "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}],
    }
    assert cells("", "componentstatuses", healthy) == ["etcd-0", "Healthy", "ok", ""]
