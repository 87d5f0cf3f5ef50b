"""The kubelet's pure decisions: expansion, env, DNS, back-off, image policy, QoS, status, node status."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubeplane.kubelet.app import build_config, parse_args, parse_duration, parse_taints
from kubeplane.kubelet.atomicwriter import DATA_DIR, FileProjection, write_atomically
from kubeplane.kubelet.backoff import Backoff
from kubeplane.kubelet.config import Taint
from kubeplane.kubelet.dns import ResolvConf, parse_resolv_conf, pod_dns
from kubeplane.kubelet.envvars import EnvError, resolve_env
from kubeplane.kubelet.expansion import expand, mapping_for
from kubeplane.kubelet.imagepull import default_pull_policy, should_pull
from kubeplane.kubelet.machine import MachineInfo
from kubeplane.kubelet.nodestatus import RuntimeHealth, allocatable, conditions, reserved_milli_cpu
from kubeplane.kubelet.podstatus import (
    EXITED,
    RUNNING_STATE,
    ContainerRecord,
    PodView,
    Waiting,
    compute_status,
)
from kubeplane.kubelet.podworker import go_duration
from kubeplane.kubelet.qos import container_resources, qos_class

JSON = dict[str, Any]


# -- $(VAR) expansion ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("$(A)", "a"),
    ("x$(A)y$(B)z", "xaybz"),
    ("$(MISSING)", "$(MISSING)"),
    ("$$(A)", "$(A)"),
    ("$$$(A)", "$a"),
    ("$$", "$"),
    ("$", "$"),
    ("a$b", "a$b"),
    ("$(A", "$(A"),
    ("$()", "$()"),
    ("$(A)$(A)", "aa"),
])
def test_expansion_follows_upstream_rules(text: str, expected: str) -> None:
    assert expand(text, mapping_for({"A": "a", "B": "b"})) == expected


# -- env --------------------------------------------------------------------------------------------

class FakeSource:
    def __init__(self, configmaps: dict[str, JSON], secrets: dict[str, JSON]) -> None:
        self.configmaps, self.secrets = configmaps, secrets

    async def configmap(self, namespace: str, name: str) -> JSON | None:
        return self.configmaps.get(name)

    async def secret(self, namespace: str, name: str) -> JSON | None:
        return self.secrets.get(name)


POD: JSON = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
    "spec": {"nodeName": "n1", "serviceAccountName": "sa", "containers": [
        {"name": "c", "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}}}]},
    "status": {"podIP": "198.18.0.5", "hostIP": "198.18.0.1"},
}
SOURCE = FakeSource({"cm": {"data": {"k": "v", "1bad=": "x", "other": "o"}}},
                    {"s": {"data": {"pw": base64.b64encode(b"secret").decode()}}})


async def test_env_resolution_order_and_sources() -> None:
    container = {"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"},
                                          {"secretRef": {"name": "missing", "optional": True}}],
                 "env": [{"name": "CM_k", "value": "overridden"},
                         {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                         {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                            "divisor": "1Mi"}}},
                         {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu",
                                                                            "divisor": "1m"}}},
                         {"name": "NOKEY", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nope",
                                                                             "optional": True}}},
                         {"name": "REF", "value": "$(IP):$(UNDEFINED)$$(IP)"}]}
    env = await resolve_env(POD, container, SOURCE, {"cpu": "2", "memory": "4Gi"})
    # A name with '=' is skipped, as upstream does; env overrides envFrom.
    assert env == {"CM_k": "overridden", "CM_other": "o", "PW": "secret", "IP": "198.18.0.5",
                   "APP": "web", "MEM": "64", "CPU": "250", "REF": "198.18.0.5:$(UNDEFINED)$(IP)"}
    assert list(env)[:3] == ["CM_k", "CM_other", "PW"]


async def test_unset_limit_is_node_allocatable() -> None:
    container = {"name": "c", "env": [{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]}
    assert (await resolve_env(POD, container, SOURCE, {"cpu": "1500m"}))["CPU"] == "2"


@pytest.mark.parametrize(("env", "message"), [
    ({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}, 'configmap "absent" not found'),
    ({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nope"}}},
     "couldn't find key nope in ConfigMap ns/cm"),
    ({"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}, 'secret "absent" not found'),
])
async def test_missing_references_fail_container_config(env: JSON, message: str) -> None:
    with pytest.raises(EnvError, match=message):
        await resolve_env(POD, {"name": "c", "env": [env]}, SOURCE, {})


# -- DNS --------------------------------------------------------------------------------------------

HOST = parse_resolv_conf("nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n")


def test_cluster_first_dns() -> None:
    dns = pod_dns({"metadata": {"namespace": "web"}, "spec": {}}, ["198.19.0.10"], "cluster.local", HOST)
    assert dns == ResolvConf(["198.19.0.10"], ["web.svc.cluster.local", "svc.cluster.local", "cluster.local",
                                               "corp.example"], ["ndots:5"])


def test_default_none_and_merged_dns_config() -> None:
    host_net = {"metadata": {"namespace": "a"}, "spec": {"hostNetwork": True}}
    assert pod_dns(host_net, ["198.19.0.10"], "cluster.local", HOST) == HOST
    with_net = {"metadata": {"namespace": "a"}, "spec": {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}}
    assert pod_dns(with_net, ["198.19.0.10"], "cluster.local", HOST).nameservers == ["198.19.0.10"]
    custom = {"metadata": {"namespace": "a"}, "spec": {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["1.2.3.4"], "searches": ["x.test"], "options": [{"name": "ndots", "value": "2"}]}}}
    assert pod_dns(custom, ["198.19.0.10"], "cluster.local", HOST) == ResolvConf(["1.2.3.4"], ["x.test"], ["ndots:2"])
    merged = {"metadata": {"namespace": "a"}, "spec": {"dnsConfig": {"options": [{"name": "ndots", "value": "1"},
                                                                                 {"name": "rotate"}]}}}
    assert pod_dns(merged, ["198.19.0.10"], "cluster.local", HOST).options == ["ndots:1", "rotate"]


# -- back-off and image policy ----------------------------------------------------------------------

def test_crash_backoff_doubles_caps_and_resets() -> None:
    now = [1000.0]
    backoff = Backoff(10, 300, now=lambda: now[0])
    assert not backoff.in_backoff_since("c", 1000.0)  # first exit: restart at once
    assert [backoff.next("c", now[0]) for _ in range(7)] == [10, 20, 40, 80, 160, 300, 300]
    assert backoff.in_backoff_since("c", 1000.0)
    now[0] += 300
    assert not backoff.in_backoff_since("c", 1000.0)
    now[0] += 601  # untouched for more than twice the maximum: forgotten
    assert backoff.next("c", now[0]) == 10
    assert [go_duration(s) for s in (10, 80, 160, 300)] == ["10s", "1m20s", "2m40s", "5m0s"]


@pytest.mark.parametrize(("image", "policy"), [
    ("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.35", "IfNotPresent"),
    ("localhost:5000/busybox", "Always"), ("localhost:5000/busybox:1", "IfNotPresent"),
    ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_default_pull_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


def test_pull_decision() -> None:
    assert should_pull("Always", True) and should_pull("IfNotPresent", False)
    assert not should_pull("IfNotPresent", True) and not should_pull("Never", False)


# -- QoS and resources ------------------------------------------------------------------------------

def _pod_with(*resources: JSON) -> JSON:
    return {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]}}


def test_qos_classes() -> None:
    both = {"cpu": "1", "memory": "1Gi"}
    assert qos_class(_pod_with({}, {})) == "BestEffort"
    assert qos_class(_pod_with({"limits": both, "requests": both})) == "Guaranteed"
    assert qos_class(_pod_with({"limits": both})) == "Guaranteed"
    assert qos_class(_pod_with({"limits": both}, {})) == "Burstable"
    assert qos_class(_pod_with({"requests": {"cpu": "100m"}})) == "Burstable"


def test_container_resources_to_cgroup_values() -> None:
    assert container_resources({"resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m",
                                                                                       "memory": "64Mi"}}}) == {
        "cpu_shares": 256, "cpu_quota": 50000, "cpu_period": 100000, "memory_limit_in_bytes": 64 << 20}
    assert container_resources({}) == {"cpu_shares": 2}


# -- pod status -------------------------------------------------------------------------------------

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _record(name: str, state: str, attempt: int = 0, exit_code: int = 0, reason: str = "") -> ContainerRecord:
    return ContainerRecord(id=f"{name}-{attempt}", name=name, attempt=attempt, state=state,
                           started_at=1_700_000_000 * 10**9, finished_at=1_700_000_010 * 10**9 if state == EXITED
                           else 0, exit_code=exit_code, reason=reason, image_ref="sha256:abc")


def _view(spec: JSON, records: dict[str, list[ContainerRecord]], waiting: dict[str, Waiting] | None = None,
          ips: list[str] | None = None) -> PodView:
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": spec, "status": {}}
    return PodView(pod, records, waiting or {}, ips if ips is not None else ["198.18.0.9"], "198.18.0.1", True,
                   lambda container, record: True)


def test_running_pod_status() -> None:
    spec = {"containers": [{"name": "b", "image": "busybox:1.35"}, {"name": "a", "image": "busybox:1.35"}]}
    status = compute_status(_view(spec, {"a": [_record("a", RUNNING_STATE)], "b": [_record("b", RUNNING_STATE)]}),
                            NOW)
    assert status["phase"] == "Running"
    assert [c["name"] for c in status["containerStatuses"]] == ["a", "b"]  # sorted as upstream
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
        "PodScheduled": "True"}
    first = status["containerStatuses"][0]
    assert first["state"] == {"running": {"startedAt": "2023-11-14T22:13:20Z"}}
    assert first["containerID"] == "containerd://a-0" and first["ready"] and first["started"]
    assert (status["podIP"], status["podIPs"], status["hostIP"]) == ("198.18.0.9", [{"ip": "198.18.0.9"}],
                                                                     "198.18.0.1")
    assert status["startTime"] == "2026-01-02T03:04:05Z" and status["qosClass"] == "BestEffort"


def test_crash_loop_status() -> None:
    spec = {"containers": [{"name": "a", "image": "i"}]}
    records = {"a": [_record("a", EXITED, attempt=1, exit_code=3, reason="Error"),
                     _record("a", EXITED, attempt=0, exit_code=3, reason="Error")]}
    status = compute_status(_view(spec, records, {"a": Waiting("CrashLoopBackOff", "back-off 10s ...")}), NOW)
    container = status["containerStatuses"][0]
    assert status["phase"] == "Running"  # restartPolicy Always: restarting
    assert container["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s ..."}}
    assert container["lastState"]["terminated"]["exitCode"] == 3 and container["restartCount"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "ContainersNotReady",
                                                                    "containers with unready status: [a]")


def test_failed_pod_is_not_ready_with_upstreams_reason() -> None:
    spec = {"restartPolicy": "Never", "containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]}
    records = {"a": [_record("a", EXITED, exit_code=1, reason="Error")], "b": [_record("b", EXITED, exit_code=0)]}
    status = compute_status(_view(spec, records), NOW)
    assert status["phase"] == "Failed"
    for kind in ("Ready", "ContainersReady"):
        condition = next(c for c in status["conditions"] if c["type"] == kind)
        assert (condition["status"], condition["reason"], condition.get("message")) == ("False", "PodFailed", None)


def test_phases_for_restart_policies_and_init_containers() -> None:
    done = {"a": [_record("a", EXITED, exit_code=0)]}
    failed = {"a": [_record("a", EXITED, exit_code=1)]}
    for policy, records, expected in [("Never", done, "Succeeded"), ("Never", failed, "Failed"),
                                      ("OnFailure", done, "Succeeded"), ("OnFailure", failed, "Running"),
                                      ("Always", done, "Running")]:
        spec = {"restartPolicy": policy, "containers": [{"name": "a"}]}
        assert compute_status(_view(spec, records), NOW)["phase"] == expected, (policy, records)
    spec = {"restartPolicy": "Always", "initContainers": [{"name": "i"}], "containers": [{"name": "a"}]}
    pending = compute_status(_view(spec, {"i": [_record("i", RUNNING_STATE)]}, ips=[]), NOW)
    assert pending["phase"] == "Pending" and "podIP" not in pending
    assert pending["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    initialized = next(c for c in pending["conditions"] if c["type"] == "Initialized")
    assert initialized["message"] == "containers with incomplete status: [i]"
    never = {**spec, "restartPolicy": "Never"}
    assert compute_status(_view(never, {"i": [_record("i", EXITED, exit_code=2)]}), NOW)["phase"] == "Failed"


def test_transition_times_are_kept_while_status_holds() -> None:
    spec = {"containers": [{"name": "a"}]}
    view = _view(spec, {"a": [_record("a", RUNNING_STATE)]})
    first = compute_status(view, NOW)
    view.pod["status"] = first
    later = compute_status(view, datetime(2026, 1, 2, 4, 0, 0, tzinfo=UTC))
    assert later["conditions"] == first["conditions"]


# -- node status ------------------------------------------------------------------------------------

MACHINE = MachineInfo(cpus=2, memory_bytes=8 << 30, disk_bytes=100 << 30, machine_id="m", boot_id="b",
                      system_uuid="s", kernel_version="6", os_image="Debian", architecture="amd64")


def test_allocatable_uses_eks_reserves() -> None:
    assert reserved_milli_cpu(1) == 60 and reserved_milli_cpu(2) == 70 and reserved_milli_cpu(4) == 80
    out = allocatable(MACHINE, 29)
    assert out["cpu"] == "1930m" and out["pods"] == "29"
    assert out["memory"] == f"{((8 << 30) - (255 << 20) - 29 * (11 << 20) - (100 << 20)) // 1024}Ki"


def test_node_conditions() -> None:
    ready = conditions([], RuntimeHealth("containerd://1.6", True, True), NOW)
    assert [(c["type"], c["status"], c["reason"]) for c in ready] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady")]
    later = datetime(2026, 1, 2, 3, 5, 0, tzinfo=UTC)
    not_ready = conditions(ready, RuntimeHealth("c", True, False, "network down"), later)
    assert not_ready[3]["status"] == "False" and not_ready[3]["lastTransitionTime"] == "2026-01-02T03:05:00Z"
    assert not_ready[0]["lastTransitionTime"] == "2026-01-02T03:04:05Z"  # unchanged status keeps its time
    assert not_ready[0]["lastHeartbeatTime"] == "2026-01-02T03:05:00Z"


# -- the command line -------------------------------------------------------------------------------

def test_flags() -> None:
    opts = parse_args(["--container-runtime-endpoint=unix:///run/c.sock", "--hostname-override=Node-1",
                       "--node-labels=a=b,c=d", "--register-with-taints=k=v:NoSchedule,x:NoExecute",
                       "--cluster-dns=198.19.0.10", "--node-status-update-frequency=1m30s", "--max-pods=17"])
    config = build_config(opts)
    assert config.node_name == "node-1" and config.runtime_endpoint == Path("/run/c.sock")
    assert config.node_labels == {"a": "b", "c": "d"} and config.max_pods == 17
    assert config.taints == (Taint("k", "v", "NoSchedule"), Taint("x", "", "NoExecute"))
    assert config.cluster_dns == ("198.19.0.10",) and config.node_status_update_frequency == 90.0
    assert parse_duration("500ms") == 0.5
    with pytest.raises(Exception, match="invalid taint"):
        parse_taints("k=v:Sometimes")


# -- atomic writer ----------------------------------------------------------------------------------

def test_atomic_writer_swaps_data_dir(tmp_path: Path) -> None:
    assert write_atomically(tmp_path, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    first = (tmp_path / DATA_DIR).resolve()
    assert (tmp_path / "a").read_bytes() == b"1" and (tmp_path / "dir" / "b").read_bytes() == b"2"
    assert ((tmp_path / "dir" / "b").stat().st_mode & 0o777) == 0o600
    assert not write_atomically(tmp_path, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    assert write_atomically(tmp_path, {"a": FileProjection(b"changed")})
    assert (tmp_path / "a").read_bytes() == b"changed" and not (tmp_path / "dir").exists()
    assert not first.exists() and (tmp_path / DATA_DIR).is_symlink()
    with pytest.raises(ValueError):
        write_atomically(tmp_path, {"../escape": FileProjection(b"")})


def test_sidecar_counts_as_initialized_once_running() -> None:
    spec = {"initContainers": [{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}]}
    records = {"setup": [_record("setup", EXITED)], "proxy": [_record("proxy", RUNNING_STATE)],
               "app": [_record("app", RUNNING_STATE)]}
    status = compute_status(_view(spec, records), NOW)
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Initialized"] == "True"
    assert [s["name"] for s in status["initContainerStatuses"]] == ["setup", "proxy"]
    assert status["initContainerStatuses"][1]["ready"] and "running" in status["initContainerStatuses"][1]["state"]
    waiting_for_sidecar = compute_status(_view(spec, {"setup": [_record("setup", EXITED)]}), NOW)
    assert waiting_for_sidecar["phase"] == "Pending"
