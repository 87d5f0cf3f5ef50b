"""How the pod worker drives the prober and the hooks (with fakes for the runtime and the prober),
and the per-container extras: service-link variables, the managed /etc/hosts, started/ready."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from kubeplane.component import process
from kubeplane.kubelet.app import containerd_netns, parse_args
from kubeplane.kubelet.backoff import Backoff
from kubeplane.kubelet.config import KubeletConfig
from kubeplane.kubelet.cri.containerd import ContainerdPaths
from kubeplane.kubelet.dns import ResolvConf
from kubeplane.kubelet.envvars import resolve_env
from kubeplane.kubelet.etchosts import managed_content, mounts_etc_hosts, write_hosts_file
from kubeplane.kubelet.podstatus import (
    EXITED,
    RUNNING_STATE,
    ContainerRecord,
    PodView,
    Waiting,
    compute_status,
)
from kubeplane.kubelet.podworker import PodWorker, WorkerServices, _Starter
from kubeplane.kubelet.prober import HookOutcome
from kubeplane.kubelet.runtime import PodSnapshot
from kubeplane.kubelet.servicelinks import pod_service_env, service_env

JSON = dict[str, Any]
UID = "uid-1"


def service(name: str, namespace: str, cluster_ip: str, *ports: JSON) -> JSON:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"clusterIP": cluster_ip, "ports": list(ports)}}


def pod(**spec: Any) -> JSON:
    return {"metadata": {"name": "web", "namespace": "shop", "uid": UID},
            "spec": {"containers": [{"name": "app", "image": "busybox"}], **spec},
            "status": {"podIP": "198.18.254.9"}}


KUBERNETES = service("kubernetes", "default", "198.19.0.1", {"name": "https", "port": 443, "protocol": "TCP"})


# -- service links ------------------------------------------------------------------------------------

def test_service_env_is_upstreams_set_of_variables() -> None:
    svc = service("redis-main", "shop", "198.19.3.4", {"port": 6379}, {"name": "metrics", "port": 9121,
                                                                       "protocol": "UDP"})
    assert service_env(svc) == {
        "REDIS_MAIN_SERVICE_HOST": "198.19.3.4",
        "REDIS_MAIN_SERVICE_PORT": "6379",
        "REDIS_MAIN_SERVICE_PORT_METRICS": "9121",
        "REDIS_MAIN_PORT": "tcp://198.19.3.4:6379",
        "REDIS_MAIN_PORT_6379_TCP": "tcp://198.19.3.4:6379",
        "REDIS_MAIN_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_MAIN_PORT_6379_TCP_PORT": "6379",
        "REDIS_MAIN_PORT_6379_TCP_ADDR": "198.19.3.4",
        "REDIS_MAIN_PORT_9121_UDP": "udp://198.19.3.4:9121",
        "REDIS_MAIN_PORT_9121_UDP_PROTO": "udp",
        "REDIS_MAIN_PORT_9121_UDP_PORT": "9121",
        "REDIS_MAIN_PORT_9121_UDP_ADDR": "198.19.3.4",
    }


def test_pod_service_env_picks_the_pods_namespace_and_the_master_service() -> None:
    services = [KUBERNETES, service("db", "shop", "198.19.0.20", {"port": 5432}),
                service("other", "elsewhere", "198.19.0.30", {"port": 80}),
                service("headless", "shop", "None", {"port": 80})]
    env = pod_service_env(pod(), services)
    assert env["KUBERNETES_SERVICE_HOST"] == "198.19.0.1" and env["DB_SERVICE_HOST"] == "198.19.0.20"
    assert not any(key.startswith(("OTHER_", "HEADLESS_")) for key in env)
    # enableServiceLinks: false drops the namespace's services but never the master service.
    without = pod_service_env(pod(enableServiceLinks=False), services)
    assert without["KUBERNETES_SERVICE_PORT"] == "443" and "DB_SERVICE_HOST" not in without


def test_a_kubernetes_service_in_the_pods_namespace_wins_in_any_order() -> None:
    local = service("kubernetes", "shop", "198.19.0.99", {"port": 80})
    for services in ([KUBERNETES, local], [local, KUBERNETES]):
        assert pod_service_env(pod(), services)["KUBERNETES_SERVICE_HOST"] == "198.19.0.99"


class _OneConfigMap:
    async def configmap(self, namespace: str, name: str) -> dict[str, object] | None:
        return {"data": {"DB_SERVICE_HOST": "from-envfrom"}} if name == "settings" else None

    async def secret(self, namespace: str, name: str) -> dict[str, object] | None:
        return None


async def test_env_and_envfrom_override_service_links_which_env_may_refer_to() -> None:
    """Upstream's order: envFrom, then env, then the service-link variables nobody defined."""
    container = {"name": "app", "envFrom": [{"configMapRef": {"name": "settings"}}],
                 "env": [{"name": "DB_SERVICE_PORT", "value": "1"},
                         {"name": "URL", "value": "tcp://$(DB_SERVICE_HOST):$(DB_SERVICE_PORT_SQL)"}]}
    links = {"DB_SERVICE_HOST": "198.19.0.20", "DB_SERVICE_PORT": "5432", "DB_SERVICE_PORT_SQL": "5432"}
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [container]}}
    env = await resolve_env(pod, container, _OneConfigMap(), {}, links)
    assert env["DB_SERVICE_HOST"] == "from-envfrom"  # envFrom wins over the service link
    assert env["DB_SERVICE_PORT"] == "1"  # so does env
    assert env["URL"] == "tcp://from-envfrom:5432"
    assert env["DB_SERVICE_PORT_SQL"] == "5432"  # undefined elsewhere: the service link


# -- /etc/hosts ---------------------------------------------------------------------------------------

def test_managed_hosts_file() -> None:
    spec_pod = pod(hostname="db-0", subdomain="db", hostAliases=[{"ip": "198.18.1.1", "hostnames": ["a", "b"]}])
    assert managed_content(spec_pod, ["198.18.254.9"], "cluster.local") == (
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
        "198.18.254.9\tdb-0.db.shop.svc.cluster.local\tdb-0\n"
        "\n# Entries added by HostAliases.\n198.18.1.1\ta\tb\n")
    assert managed_content(pod(), ["198.18.254.9"], "cluster.local").endswith("198.18.254.9\tweb\n")


def test_hosts_file_is_written_in_place_and_skipped_for_containers_mounting_their_own(tmp_path: Path) -> None:
    first = write_hosts_file(tmp_path, pod(), ["198.18.254.9"], "cluster.local")
    inode = first.stat().st_ino
    again = write_hosts_file(tmp_path, pod(hostAliases=[{"ip": "198.18.1.1", "hostnames": ["a"]}]),
                             ["198.18.254.9"], "cluster.local")
    assert again == first and again.stat().st_ino == inode  # running containers bind-mount this inode
    assert again.read_text().endswith("198.18.1.1\ta\n") and oct(again.stat().st_mode & 0o777) == "0o644"
    assert mounts_etc_hosts({"volumeMounts": [{"name": "h", "mountPath": "/etc/hosts"}]})
    assert not mounts_etc_hosts({"volumeMounts": [{"name": "h", "mountPath": "/etc"}]})


# -- started and ready in status ----------------------------------------------------------------------

def test_a_container_not_started_is_neither_started_nor_ready() -> None:
    record = ContainerRecord(id="c1", name="app", attempt=0, state=RUNNING_STATE, started_at=10**18)
    subject = pod()
    view = PodView(subject, {"app": [record]}, {}, ["198.18.254.9"], "198.18.254.1", True,
                   ready=lambda container, rec: True, started=lambda container, rec: False)
    status = compute_status(view, datetime(2030, 1, 1, tzinfo=UTC))
    app = status["containerStatuses"][0]
    assert (app["started"], app["ready"]) == (False, False)
    assert {c["type"]: c["status"] for c in status["conditions"]}["ContainersReady"] == "False"


# -- the pod worker and the prober ----------------------------------------------------------------------

@dataclass
class FakeProber:
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    grace: int = 7

    def readiness(self, pod_uid: str, container_name: str) -> bool | None:
        return True

    def startup(self, pod_uid: str, container_name: str) -> bool | None:
        return True

    def add_pod(self, pod: JSON, pod_ip: str) -> None:
        self.calls.append(("add_pod", pod_ip))

    def update_pod(self, pod: JSON) -> None:
        self.calls.append(("update_pod",))

    def update_container(self, pod_uid: str, name: str, container_id: str | None, running_for: float = 0.0) -> None:
        self.calls.append(("update_container", name, container_id))

    def remove_pod(self, pod_uid: str) -> None:
        self.calls.append(("remove_pod",))

    def kill_grace_period(self, pod_uid: str, container_name: str) -> int:
        return self.grace


@dataclass
class FakeRuntime:
    stopped: list[tuple[str, int]] = field(default_factory=list)

    async def stop_container(self, container_id: str, timeout: int) -> None:
        self.stopped.append((container_id, timeout))


@dataclass
class FakeHooks:
    pre_stops: list[tuple[str, str, int]] = field(default_factory=list)

    async def run_pre_stop(self, handler: JSON, pod: JSON, container: JSON, container_id: str, pod_ip: str,
                           grace_period: int) -> int:
        self.pre_stops.append((container_id, pod_ip, grace_period))
        return grace_period - 3  # as if the hook used three seconds


@dataclass
class FakeRecorder:
    events: list[tuple[str, str]] = field(default_factory=list)

    def event(self, obj: JSON, event_type: str, reason: str, message: str) -> None:
        self.events.append((reason, message))


def make_worker(tmp_path: Path, subject: JSON) -> tuple[PodWorker, FakeProber, FakeRuntime, FakeHooks, FakeRecorder]:
    prober, runtime, hooks, recorder = FakeProber(), FakeRuntime(), FakeHooks(), FakeRecorder()
    services = WorkerServices(
        config=KubeletConfig(node_name="n", runtime_endpoint=tmp_path / "sock", root_dir=tmp_path),
        cri=cast(Any, runtime), client=cast(Any, None), sources=cast(Any, None), images=cast(Any, None),
        crash_backoff=Backoff(10, 300), probes=prober, host_dns=ResolvConf(), allocatable=dict,
        recorder=cast(Any, recorder), hooks=cast(Any, hooks))
    return PodWorker(services, UID, subject), prober, runtime, hooks, recorder


def running(name: str, container_id: str) -> ContainerRecord:
    return ContainerRecord(id=container_id, name=name, attempt=0, state=RUNNING_STATE, started_at=1)


async def test_prober_learns_the_pod_once_per_address_and_every_container_change(tmp_path: Path) -> None:
    subject = pod()
    worker, prober, *_ = make_worker(tmp_path, subject)
    snap = PodSnapshot(containers={"app": [running("app", "c1")]})
    worker._report_containers(snap)
    assert prober.calls == []  # nothing before the pod has an address
    worker._start_probing(subject, ["198.18.254.9"], snap)
    worker._start_probing(subject, ["198.18.254.9"], snap)
    exited = ContainerRecord(id="c1", name="app", attempt=0, state=EXITED)
    worker._report_containers(PodSnapshot(containers={"app": [exited]}))
    assert prober.calls == [("add_pod", "198.18.254.9"), ("update_container", "app", "c1"),
                            ("update_container", "app", None)]


async def test_liveness_kill_runs_pre_stop_inside_the_probes_grace_period(tmp_path: Path) -> None:
    subject = pod()
    subject["spec"]["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["true"]}}}
    worker, _, runtime, hooks, recorder = make_worker(tmp_path, subject)
    worker.kill_container("app", "Container app failed liveness probe, will be restarted")
    worker.kill_container("gone", "Container gone failed liveness probe, will be restarted")
    await worker._kill_requested(subject, PodSnapshot(containers={"app": [running("app", "c1")]}))
    assert hooks.pre_stops == [("c1", "198.18.254.9", 7)]
    assert runtime.stopped == [("c1", 4)]  # what preStop left of the probe's grace period
    assert recorder.events == [("Killing", "Container app failed liveness probe, will be restarted")]


# -- finding the node's network namespace -------------------------------------------------------------

def test_node_netns_flag_and_discovery(tmp_path: Path) -> None:
    assert parse_args(["--container-runtime-endpoint=/x.sock", "--node-netns=kp-node"]).node_netns == "kp-node"
    paths = ContainerdPaths(tmp_path)
    assert containerd_netns(paths.socket) is None  # no containerd of ours there
    # A containerd in the kubelet's own namespace needs no namespace switch.
    paths.run_dir.mkdir()
    stat = Path(f"/proc/{os.getpid()}/stat").read_text()
    start_time = int(stat.rsplit(")", 1)[1].split()[19])
    paths.pidfile.write_text(f'{{"component": "containerd", "pid": {os.getpid()}, "start_time": {start_time}, '
                             '"argv": []}')
    assert process.read_record(paths.pidfile) is not None
    assert containerd_netns(paths.socket) is None


async def test_failed_post_start_kills_the_container_and_says_why(tmp_path: Path) -> None:
    subject = pod(terminationGracePeriodSeconds=5)
    container = {**subject["spec"]["containers"][0], "lifecycle": {"postStart": {"exec": {"command": ["false"]}}}}
    worker, _, runtime, _, recorder = make_worker(tmp_path, subject)
    failure = HookOutcome("command 'false' exited with 1: ", "Exec lifecycle hook ([false]) ... failed")

    async def run_post_start(*args: Any) -> HookOutcome:
        return failure

    cast(Any, worker.services.hooks).run_post_start = run_post_start
    starter = _Starter(worker, subject, "sandbox", cast(Any, None), ["198.18.254.9"])
    assert await starter._post_start(container, "c1") is False
    assert worker.waiting["app"] == Waiting("PostStartHookError", failure.message)
    assert runtime.stopped == [("c1", 5)]
    assert recorder.events == [("Killing", "FailedPostStartHook")]
    # The managed /etc/hosts was written for the pod's address on the way.
    assert "198.18.254.9\tweb\n" in (tmp_path / "pods" / UID / "etc-hosts").read_text()
