from datetime import UTC, datetime
from typing import Any

from kubeplane.machinery.printers import table

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
CREATED = "2026-03-01T11:50:00Z"


def pod(status: dict[str, Any], *, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": CREATED, **metadata},
        "spec": spec or {"containers": [{"name": "app", "image": "nginx"}]},
        "status": status,
    }


def cells(obj: dict[str, Any]) -> list[Any]:
    row = table("", "pods", [obj], now=NOW)["rows"][0]
    return list(row["cells"])


RUNNING = {"running": {"startedAt": "2026-03-01T11:50:05Z"}}


def test_running_pod_all_columns() -> None:
    obj = pod(
        {
            "phase": "Running",
            "podIP": "198.18.1.7",
            "podIPs": [{"ip": "198.18.1.7"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "state": RUNNING}],
        },
        spec={"nodeName": "node-a", "containers": [{"name": "app", "image": "nginx"}]},
    )
    assert cells(obj) == ["web-0", "1/1", "Running", "0", "10m", "198.18.1.7", "node-a", "<none>", "<none>"]


def test_pending_unscheduled_pod() -> None:
    obj = pod({"phase": "Pending"})
    assert cells(obj) == ["web-0", "0/1", "Pending", "0", "10m", "<none>", "<none>", "<none>", "<none>"]


def test_scheduling_gated_pod() -> None:
    obj = pod(
        {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        }
    )
    assert cells(obj)[2] == "SchedulingGated"


def test_container_creating() -> None:
    obj = pod(
        {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
            ],
        }
    )
    assert cells(obj)[1:4] == ["0/1", "ContainerCreating", "0"]


def test_crash_loop_with_restarts_and_time_of_last_restart() -> None:
    obj = pod(
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    "lastState": {
                        "terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-03-01T11:58:00Z"}
                    },
                }
            ],
        }
    )
    assert cells(obj)[1:4] == ["0/1", "CrashLoopBackOff", "3 (2m ago)"]


def test_completed_pod_and_row_condition() -> None:
    obj = pod(
        {
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                }
            ],
        }
    )
    row = table("", "pods", [obj], now=NOW)["rows"][0]
    assert row["cells"][1:4] == ["0/1", "Completed", "0"]
    assert row["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]


def test_failed_pod_condition() -> None:
    obj = pod({"phase": "Failed", "reason": "Evicted"})
    row = table("", "pods", [obj], now=NOW)["rows"][0]
    assert row["cells"][2] == "Evicted"
    assert row["conditions"][0]["reason"] == "Failed"
    assert row["conditions"][0]["message"] == "The pod failed."


def test_terminated_without_reason_shows_exit_code_or_signal() -> None:
    exit_code = pod(
        {
            "phase": "Running",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 137}}}],
        }
    )
    signal = pod(
        {
            "phase": "Running",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 0, "signal": 9}}}],
        }
    )
    assert cells(exit_code)[2] == "ExitCode:137"
    assert cells(signal)[2] == "Signal:9"


def test_first_container_wins_the_reason() -> None:
    obj = pod(
        {
            "phase": "Running",
            "containerStatuses": [
                {"name": "a", "ready": False, "state": {"waiting": {"reason": "ImagePullBackOff"}}},
                {"name": "b", "ready": True, "state": RUNNING},
            ],
        },
        spec={"containers": [{"name": "a"}, {"name": "b"}]},
    )
    assert cells(obj)[1:3] == ["1/2", "ImagePullBackOff"]


def test_completed_container_next_to_running_one_is_running_or_not_ready() -> None:
    statuses = [
        {"name": "a", "ready": False, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "b", "ready": True, "state": RUNNING},
    ]
    spec = {"containers": [{"name": "a"}, {"name": "b"}]}
    ready = pod(
        {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": statuses,
        },
        spec=spec,
    )
    not_ready = pod({"phase": "Running", "containerStatuses": statuses}, spec=spec)
    assert cells(ready)[2] == "Running"
    assert cells(not_ready)[2] == "NotReady"


INIT_SPEC = {"initContainers": [{"name": "setup"}, {"name": "migrate"}], "containers": [{"name": "app"}]}


def test_init_progress() -> None:
    obj = pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "setup", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "migrate", "state": {"running": {}}},
            ],
            "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}],
        },
        spec=INIT_SPEC,
    )
    assert cells(obj)[1:4] == ["0/1", "Init:1/2", "0"]


def test_init_waiting_pod_initializing_counts_as_progress() -> None:
    obj = pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [{"name": "setup", "state": {"waiting": {"reason": "PodInitializing"}}}],
        },
        spec=INIT_SPEC,
    )
    assert cells(obj)[2] == "Init:0/2"


def test_init_error_and_init_crash_loop_keep_init_restarts() -> None:
    error = pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [
                {
                    "name": "setup",
                    "restartCount": 2,
                    "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ],
        },
        spec=INIT_SPEC,
    )
    crash = pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "setup", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ],
        },
        spec=INIT_SPEC,
    )
    no_reason = pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [{"name": "setup", "state": {"terminated": {"exitCode": 2}}}],
        },
        spec=INIT_SPEC,
    )
    assert cells(error)[2:4] == ["Init:Error", "2"]
    assert cells(crash)[2:4] == ["Init:CrashLoopBackOff", "4"]
    assert cells(no_reason)[2] == "Init:ExitCode:2"


def test_sidecar_counts_towards_ready_and_total() -> None:
    spec = {
        "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
        "containers": [{"name": "app"}],
    }
    obj = pod(
        {
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [
                {"name": "proxy", "started": True, "ready": True, "restartCount": 1, "state": RUNNING}
            ],
            "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "state": RUNNING}],
        },
        spec=spec,
    )
    assert cells(obj)[1:4] == ["2/2", "Running", "1"]


def test_terminating_and_node_lost() -> None:
    deleting = pod({"phase": "Running"}, deletionTimestamp="2026-03-01T11:59:00Z")
    lost = pod({"phase": "Running", "reason": "NodeLost"}, deletionTimestamp="2026-03-01T11:59:00Z")
    finished = pod({"phase": "Succeeded"}, deletionTimestamp="2026-03-01T11:59:00Z")
    assert cells(deleting)[2] == "Terminating"
    assert cells(lost)[2] == "Unknown"
    assert cells(finished)[2] == "Succeeded"


def test_wide_columns_nominated_node_and_readiness_gates() -> None:
    obj = pod(
        {
            "phase": "Running",
            "podIP": "198.18.1.9",
            "nominatedNodeName": "node-b",
            "conditions": [
                {"type": "example.com/lb", "status": "True"},
                {"type": "example.com/dns", "status": "False"},
            ],
        },
        spec={
            "containers": [{"name": "app"}],
            "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}],
        },
    )
    assert cells(obj)[5:] == ["198.18.1.9", "<none>", "node-b", "1/2"]
