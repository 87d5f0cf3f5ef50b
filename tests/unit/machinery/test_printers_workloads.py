from datetime import UTC, datetime
from typing import Any

from kubeplane.machinery.printers import table

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
FIVE_MINUTES_AGO = "2026-03-01T11:55:00Z"
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {
        "containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "sidecar", "image": "envoy:1.30"}]
    },
}
SELECTOR = {
    "matchLabels": {"app": "web"},
    "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["front", "edge"]},
        {"key": "canary", "operator": "DoesNotExist"},
    ],
}


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": FIVE_MINUTES_AGO, **extra}


def cells(group: str, resource: str, obj: dict[str, Any]) -> list[Any]:
    return list(table(group, resource, [obj], now=NOW)["rows"][0]["cells"])


def columns(group: str, resource: str) -> list[tuple[str, str, int]]:
    return [(c["name"], c["type"], c["priority"]) for c in table(group, resource, [])["columnDefinitions"]]


def test_deployment_ready_columns_and_wide_cells() -> None:
    deployment = {
        "metadata": meta("web"),
        "spec": {"replicas": 3, "selector": SELECTOR, "template": TEMPLATE},
        "status": {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "availableReplicas": 3},
    }
    assert cells("apps", "deployments", deployment)[:5] == ["web", "3/3", 3, 3, "5m"]
    assert cells("apps", "deployments", deployment)[5:] == [
        "nginx,sidecar",
        "nginx:1.27,envoy:1.30",
        "app=web,!canary,tier in (edge,front)",
    ]
    assert columns("apps", "deployments") == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Up-to-date", "string", 0),
        ("Available", "string", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ]


def test_fresh_deployment_without_status() -> None:
    deployment = {"metadata": meta("web"), "spec": {"replicas": 2, "selector": {}, "template": TEMPLATE}}
    # Deployments print the bare selector: "" rather than "<none>" when it selects everything.
    assert cells("apps", "deployments", deployment) == [
        "web",
        "0/2",
        0,
        0,
        "5m",
        "nginx,sidecar",
        "nginx:1.27,envoy:1.30",
        "",
    ]


def test_replica_set() -> None:
    replica_set = {
        "metadata": meta("web-7d9f"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d9f"}},
            "template": TEMPLATE,
        },
        "status": {"replicas": 3, "readyReplicas": 2},
    }
    assert cells("apps", "replicasets", replica_set) == [
        "web-7d9f",
        3,
        3,
        2,
        "5m",
        "nginx,sidecar",
        "nginx:1.27,envoy:1.30",
        "app=web,pod-template-hash=7d9f",
    ]
    assert [c[1] for c in columns("apps", "replicasets")][1:4] == ["integer", "integer", "integer"]


def test_stateful_set() -> None:
    stateful_set = {
        "metadata": meta("db"),
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"readyReplicas": 1},
    }
    assert cells("apps", "statefulsets", stateful_set) == [
        "db",
        "1/3",
        "5m",
        "nginx,sidecar",
        "nginx:1.27,envoy:1.30",
    ]


def test_daemon_set() -> None:
    daemon_set = {
        "metadata": meta("kube-proxy", namespace="kube-system"),
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "template": {
                **TEMPLATE,
                "spec": {**TEMPLATE["spec"], "nodeSelector": {"kubernetes.io/os": "linux"}},
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert cells("apps", "daemonsets", daemon_set) == [
        "kube-proxy",
        3,
        3,
        2,
        3,
        2,
        "kubernetes.io/os=linux",
        "5m",
        "nginx,sidecar",
        "nginx:1.27,envoy:1.30",
        "k8s-app=kube-proxy",
    ]
    no_selector = {"metadata": meta("ds"), "spec": {"template": {"spec": {"containers": []}}}}
    assert cells("apps", "daemonsets", no_selector)[6:] == ["<none>", "5m", "", "", "<none>"]


def test_controller_revision() -> None:
    revision = {
        "metadata": meta(
            "web-5c6d",
            ownerReferences=[
                {"apiVersion": "v1", "kind": "Pod", "name": "not-controller"},
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True},
            ],
        ),
        "revision": 2,
    }
    assert cells("apps", "controllerrevisions", revision) == ["web-5c6d", "statefulset.apps/web", 2, "5m"]
    assert cells("apps", "controllerrevisions", {"metadata": meta("orphan"), "revision": 1})[1] == "<none>"


def test_jobs_status_completions_and_duration() -> None:
    complete = {
        "metadata": meta("pi"),
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
        },
        "status": {
            "succeeded": 1,
            "startTime": "2026-03-01T11:55:00Z",
            "completionTime": "2026-03-01T11:55:42Z",
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True"},
                {"type": "Complete", "status": "True"},
            ],
        },
    }
    assert cells("batch", "jobs", complete) == [
        "pi",
        "Complete",
        "1/1",
        "42s",
        "5m",
        "pi",
        "perl",
        "batch.kubernetes.io/controller-uid=u1",
    ]
    running = {
        "metadata": meta("work"),
        "spec": {"parallelism": 3},
        "status": {"startTime": "2026-03-01T11:57:00Z", "succeeded": 1},
    }
    assert cells("batch", "jobs", running)[1:4] == ["Running", "1/1 of 3", "3m"]
    failed = {
        "metadata": meta("bad"),
        "spec": {"completions": 5},
        "status": {"conditions": [{"type": "Failed", "status": "True"}]},
    }
    assert cells("batch", "jobs", failed)[1:4] == ["Failed", "0/5", ""]
    suspended = {
        "metadata": meta("s"),
        "spec": {},
        "status": {"conditions": [{"type": "Suspended", "status": "True"}]},
    }
    assert cells("batch", "jobs", suspended)[1:3] == ["Suspended", "0/1"]
    deleting = {"metadata": meta("d", deletionTimestamp=FIVE_MINUTES_AGO), "spec": {}}
    assert cells("batch", "jobs", deleting)[1] == "Terminating"
    assert [c[0] for c in columns("batch", "jobs")] == [
        "Name",
        "Status",
        "Completions",
        "Duration",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]


def test_cron_job() -> None:
    cron_job = {
        "metadata": meta("backup"),
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": False,
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "restic"}]}}}
            },
        },
        "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": "2026-03-01T11:59:00Z"},
    }
    assert cells("batch", "cronjobs", cron_job) == [
        "backup",
        "*/5 * * * *",
        "<none>",
        "False",
        1,
        "60s",
        "5m",
        "b",
        "restic",
        "<none>",
    ]
    never_ran = {"metadata": meta("n"), "spec": {"schedule": "@daily", "timeZone": "Etc/UTC"}}
    assert cells("batch", "cronjobs", never_ran)[1:6] == ["@daily", "Etc/UTC", "<unset>", 0, "<none>"]
    assert columns("batch", "cronjobs")[3] == ("Suspend", "boolean", 0)
