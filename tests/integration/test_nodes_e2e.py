"""Issue 6's acceptance on two real nodes (root only): one `kubeplane up --nodes 2` cluster for the
whole module, driven with kubectl as a user would. Pod lifecycle (crash-loop back-off, OOM,
readiness, init order, preStop and grace), volumes (configMap refresh), the kubelet's streaming
API through the API server (logs -f, exec, cp, port-forward, debug, nodes/proxy), a Job, and
pods surviving the death of their node's containerd and kubelet.

The cluster (`kpe2e<hex>`) lives in a temporary KUBEPLANE_HOME and is torn down by `down`; the
last test checks that nothing is left even after node daemons were killed."""

from __future__ import annotations

import json
import os
import pty
import re
import secrets
import select
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_testlib import root_netns_snapshot

# Shared with the `up --nodes 2` smoke test: the cluster handle, the CLI runner and the probes.
from test_cli_nodes import Cluster, _index, _kubeplane, _processes_mentioning, _wait, _wget

from kubeplane.cli.demo import find_kubectl

pytestmark = [
    pytest.mark.integration,
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="nodes need root (network namespaces, cgroups)"),
    pytest.mark.timeout(240),
]

NS = "e2e"
IMAGE = "localhost/busybox:1.35"

# Everything that only needs to be started once: applied together so the pods start in parallel.
WORKLOADS = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {NS}}}
data: {{greeting: hello}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {NS}}}
spec:
  replicas: 4
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 1
      topologySpreadConstraints:
        - {{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
            labelSelector: {{matchLabels: {{app: web}}}}}}
      containers:
        - name: httpd
          image: {IMAGE}
          command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
          ports: [{{containerPort: 8080}}]
          readinessProbe: {{httpGet: {{path: /, port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: oom, namespace: {NS}}}
spec:
  automountServiceAccountToken: false
  restartPolicy: Never
  containers:
    - name: hog
      image: {IMAGE}
      # busybox tail keeps a newline-free input in memory: 64 MiB against a 16 MiB limit.
      command: ["sh", "-c", "head -c 67108864 /dev/zero | tail"]
      resources: {{limits: {{memory: 16Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: unready, namespace: {NS}, labels: {{probe: readiness}}}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      readinessProbe: {{exec: {{command: ["false"]}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: ready, namespace: {NS}, labels: {{probe: readiness}}}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      readinessProbe: {{exec: {{command: ["true"]}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: ordered, namespace: {NS}}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  initContainers:
    - {{name: first, image: {IMAGE}, command: ["sh", "-c", "echo first >> /work/order"],
        volumeMounts: [{{name: work, mountPath: /work}}]}}
    - {{name: second, image: {IMAGE}, command: ["sh", "-c", "echo second >> /work/order"],
        volumeMounts: [{{name: work, mountPath: /work}}]}}
  containers:
    - name: app
      image: {IMAGE}
      command: ["sh", "-c", "cat /work/order && exec sleep 3600"]
      volumeMounts: [{{name: work, mountPath: /work}}]
  volumes: [{{name: work, emptyDir: {{}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: reader, namespace: {NS}}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      volumeMounts: [{{name: settings, mountPath: /etc/settings}}]
  volumes: [{{name: settings, configMap: {{name: settings}}}}]
---
apiVersion: batch/v1
kind: Job
metadata: {{name: once, namespace: {NS}}}
spec:
  completions: 2
  parallelism: 2
  backoffLimit: 0
  template:
    spec:
      automountServiceAccountToken: false
      restartPolicy: Never
      containers:
        - {{name: work, image: {IMAGE}, command: ["sh", "-c", "echo done"]}}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = Path(tmp_path_factory.mktemp("kpe2e"))
    name = f"kpe2e{secrets.token_hex(3)}"
    root_before = root_netns_snapshot()
    started = time.monotonic()
    try:
        done = _kubeplane(home, "up", "--name", name, "--nodes", "2", "-o", "json")
        print(f"\nup --nodes 2: all nodes Ready after {time.monotonic() - started:.1f}s")
        handle = Cluster(name, home, time.monotonic() - started, json.loads(done.stdout), root_before)
        handle.kubectl("apply", "-f", "-", stdin=WORKLOADS)
        yield handle
    finally:
        _kubeplane(home, "down", "--name", name, check=False)  # a no-op after the last test


def _pod(cluster: Cluster, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = cluster.get("pod", name, "-n", NS)
    return pod


def _container_status(pod: dict[str, Any], name: str, kind: str = "containerStatuses") -> dict[str, Any]:
    status: dict[str, Any] = next((s for s in (pod.get("status") or {}).get(kind) or [] if s["name"] == name), {})
    return status


def _running(cluster: Cluster, name: str) -> dict[str, Any] | None:
    pod = _pod(cluster, name)
    return pod if (pod.get("status") or {}).get("phase") == "Running" else None


def _kubectl(cluster: Cluster, *args: str, stdin: str | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """kubectl that returns its result instead of asserting success."""
    return subprocess.run([find_kubectl(), f"--kubeconfig={cluster.kubeconfig}", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _web_pods(cluster: Cluster) -> list[dict[str, Any]] | None:
    pods = [p for p in cluster.get("pods", "-n", NS, "-l", "app=web")["items"]
            if not p["metadata"].get("deletionTimestamp")]
    ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                    for c in (p.get("status") or {}).get("conditions") or [])]
    return pods if len(pods) == 4 and len(ready) == 4 else None


def _node_netns(cluster: Cluster, node_name: str) -> str:
    return f"/run/netns/{cluster.node_netns(node_name)}"


# -- workloads -------------------------------------------------------------------------------------


def test_every_pod_of_a_deployment_serves(cluster: Cluster) -> None:
    pods = _wait("4 ready web pods", lambda: _web_pods(cluster), timeout=90)
    assert {p["spec"]["nodeName"] for p in pods} == {n["name"] for n in cluster.summary["nodes"]}, \
        "the hostname spread puts pods on both nodes"
    # Each pod answers with its own name, from both nodes (so across nodes too).
    for node in cluster.summary["nodes"]:
        for pod in pods:
            page = _wait(f"{pod['metadata']['name']} from {node['name']}", lambda pod=pod, node=node: _wget(
                _node_netns(cluster, node["name"]), f"http://{pod['status']['podIP']}:8080/"), timeout=30)
            assert page == pod["metadata"]["name"]


def test_crashing_container_backs_off_longer_each_time(cluster: Cluster) -> None:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crash", "namespace": NS},
                "spec": {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "app", "image": IMAGE, "command": ["sh", "-c", "exit 3"]}]}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    seen: list[str] = []

    def backed_off_twice() -> dict[str, Any] | None:
        status = _container_status(_pod(cluster, "crash"), "app")
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            found = re.match(r"back-off (\S+) restarting failed container=app", waiting.get("message", ""))
            assert found, waiting
            if not seen or seen[-1] != found[1]:
                seen.append(found[1])
        return status if len(seen) >= 2 else None

    status = _wait("a second, longer back-off", backed_off_twice, timeout=60)
    assert seen[:2] == ["10s", "20s"], seen  # upstream's 10 s doubling
    assert status["restartCount"] >= 2
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert status["lastState"]["terminated"]["reason"] == "Error"
    cluster.kubectl("delete", "pod", "crash", "-n", NS, "--wait=false")


def test_container_over_its_memory_limit_is_oom_killed(cluster: Cluster) -> None:
    def terminated() -> dict[str, Any] | None:
        state = _container_status(_pod(cluster, "oom"), "hog").get("state") or {}
        found: dict[str, Any] | None = state.get("terminated")
        return found

    state = _wait("the hog to terminate", terminated, timeout=60)
    assert state["reason"] == "OOMKilled", state
    assert state["exitCode"] == 137
    assert _pod(cluster, "oom")["status"]["phase"] == "Failed"


def test_failing_readiness_probe_keeps_the_pod_out_of_ready(cluster: Cluster) -> None:
    def ready_condition(name: str) -> str:
        conditions = (_pod(cluster, name).get("status") or {}).get("conditions") or []
        return next((c["status"] for c in conditions if c["type"] == "Ready"), "")

    # Same probe period, same start: once the passing twin is Ready the failing one has been probed too.
    _wait("the passing twin to be Ready", lambda: ready_condition("ready") == "True", timeout=60)
    _wait("a few more probe periods", lambda: _container_status(_pod(cluster, "ready"), "app").get("started"))
    pod = _wait("the unready pod Running", lambda: _running(cluster, "unready"))
    assert ready_condition("unready") == "False"
    assert _container_status(pod, "app")["ready"] is False
    assert _container_status(pod, "app")["state"].get("running")


def test_init_containers_run_in_order_before_the_app(cluster: Cluster) -> None:
    pod = _wait("the ordered pod Running", lambda: _running(cluster, "ordered"))
    first, second = (_container_status(pod, n, "initContainerStatuses")["state"]["terminated"]
                     for n in ("first", "second"))
    assert first["reason"] == second["reason"] == "Completed"
    assert first["finishedAt"] <= second["startedAt"]
    logs = _wait("the app's output", lambda: cluster.kubectl("logs", "-n", NS, "ordered").strip())
    assert logs.splitlines() == ["first", "second"]


def test_configmap_update_reaches_the_mounted_file(cluster: Cluster) -> None:
    _wait("the reader pod Running", lambda: _running(cluster, "reader"))
    read = ["exec", "-n", NS, "reader", "--", "cat", "/etc/settings/greeting"]
    assert cluster.kubectl(*read) == "hello"
    cluster.kubectl("patch", "configmap", "settings", "-n", NS, "-p", '{"data": {"greeting": "bonjour"}}')
    _wait("the new value in the file", lambda: cluster.kubectl(*read) == "bonjour", timeout=90)


def test_job_completes(cluster: Cluster) -> None:
    def complete() -> dict[str, Any] | None:
        job = cluster.get("job", "once", "-n", NS)
        done = any(c["type"] == "Complete" and c["status"] == "True"
                   for c in (job.get("status") or {}).get("conditions") or [])
        return job if done else None

    job = _wait("the Job to complete", complete, timeout=90)
    assert job["status"]["succeeded"] == 2
    pods = cluster.get("pods", "-n", NS, "-l", "job-name=once")["items"]
    assert {p["status"]["phase"] for p in pods} == {"Succeeded"}
    assert all(cluster.kubectl("logs", "-n", NS, p["metadata"]["name"]).strip() == "done" for p in pods)


# -- the kubelet's streaming API through the API server ---------------------------------------------


def test_logs_follow_streams_until_the_container_exits(cluster: Cluster) -> None:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talker", "namespace": NS},
                "spec": {"automountServiceAccountToken": False, "restartPolicy": "Never",
                         "containers": [{"name": "app", "image": IMAGE, "command": [
                             "sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 1; done"]}]}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    _wait("talker started", lambda: (_pod(cluster, "talker").get("status") or {}).get("phase") in ("Running",
                                                                                                 "Succeeded"))
    # -f returns only when the container's log ends: all five lines, then kubectl exits by itself.
    done = _kubectl(cluster, "logs", "-f", "-n", NS, "talker", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"line {i}" for i in range(1, 6)]


def test_exec_with_stdin_and_exit_code(cluster: Cluster) -> None:
    pod = _wait("the reader pod Running", lambda: _running(cluster, "reader"))
    name = pod["metadata"]["name"]
    assert cluster.kubectl("exec", "-i", "-n", NS, name, "--", "sh", "-c", "tr a-z A-Z", stdin="shout\n") == "SHOUT\n"
    failed = _kubectl(cluster, "exec", "-n", NS, name, "--", "sh", "-c", "exit 7")
    assert failed.returncode == 7


def test_exec_with_a_terminal(cluster: Cluster) -> None:
    """`kubectl exec -it`: a tty (stdout and stderr merged, a resize stream) from a real terminal."""
    _wait("the reader pod Running", lambda: _running(cluster, "reader"))
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run([find_kubectl(), f"--kubeconfig={cluster.kubeconfig}", "exec", "-it", "-n", NS,
                               "reader", "--", "sh", "-c", "[ -t 0 ] && echo tty-in; echo to-stderr >&2"],
                              stdin=terminal, stdout=terminal, stderr=terminal, timeout=60, check=False)
        output = b""
        while select.select([controller], [], [], 0.5)[0]:
            chunk = os.read(controller, 65536)
            if not chunk:
                break
            output += chunk
    finally:
        os.close(controller)
        os.close(terminal)
    assert done.returncode == 0, output
    assert b"tty-in" in output and b"to-stderr" in output


def test_cp_to_and_from_a_pod(cluster: Cluster, tmp_path: Path) -> None:
    _wait("the reader pod Running", lambda: _running(cluster, "reader"))
    payload = secrets.token_bytes(200_000)
    (tmp_path / "out.bin").write_bytes(payload)
    cluster.kubectl("cp", str(tmp_path / "out.bin"), f"{NS}/reader:/tmp/in.bin")
    assert cluster.kubectl("exec", "-n", NS, "reader", "--", "wc", "-c", "/tmp/in.bin").split()[0] == "200000"
    cluster.kubectl("cp", f"{NS}/reader:/tmp/in.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == payload


def test_port_forward_reaches_the_pod(cluster: Cluster) -> None:
    pods = _wait("4 ready web pods", lambda: _web_pods(cluster), timeout=60)
    name = pods[0]["metadata"]["name"]
    forward = subprocess.Popen([find_kubectl(), f"--kubeconfig={cluster.kubeconfig}", "port-forward", "-n", NS,
                                f"pod/{name}", ":8080"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert forward.stdout is not None
        line = forward.stdout.readline()  # "Forwarding from 127.0.0.1:PORT -> 8080"
        found = re.search(r"127\.0\.0\.1:(\d+) -> 8080", line)
        assert found, line + (forward.stderr.read() if forward.poll() is not None and forward.stderr else "")
        for _ in range(3):  # several connections over the same forwarding session
            with urllib.request.urlopen(f"http://127.0.0.1:{found[1]}/", timeout=10) as response:
                assert response.read().decode().strip() == name
    finally:
        forward.terminate()
        forward.wait(timeout=10)
        for stream in (forward.stdout, forward.stderr):
            if stream is not None:
                stream.close()


def test_nodes_proxy_reaches_the_kubelet(cluster: Cluster) -> None:
    node = cluster.summary["nodes"][0]["name"]
    done = _kubectl(cluster, "get", "--raw", f"/api/v1/nodes/{node}/proxy/pods")
    assert done.returncode == 0, done.stderr
    pods = json.loads(done.stdout)
    assert pods["kind"] == "PodList"
    assert all(p["spec"]["nodeName"] == node for p in pods["items"])
    assert _kubectl(cluster, "get", "--raw", f"/api/v1/nodes/{node}/proxy/healthz").stdout == "ok"


def test_debug_adds_an_ephemeral_container(cluster: Cluster) -> None:
    _wait("the reader pod Running", lambda: _running(cluster, "reader"))
    done = _kubectl(cluster, "debug", "-n", NS, "reader", f"--image={IMAGE}", "--target=app",
                    "--container=debugger", "--", "sh", "-c", "echo debugging; sleep 3600")
    assert done.returncode == 0, done.stderr

    def debugger_running() -> bool:
        status = _container_status(_pod(cluster, "reader"), "debugger", "ephemeralContainerStatuses")
        return bool((status.get("state") or {}).get("running"))

    _wait("the ephemeral container running", debugger_running)
    assert cluster.kubectl("logs", "-n", NS, "reader", "-c", "debugger").strip() == "debugging"
    # --target shares the app's process namespace: the debugger sees its sleep.
    processes = cluster.kubectl("exec", "-n", NS, "reader", "-c", "debugger", "--", "ps", "-o", "args")
    assert "sleep 3600" in processes


# -- deletion ---------------------------------------------------------------------------------------


def test_delete_runs_pre_stop_then_honours_the_grace_period(cluster: Cluster, tmp_path: Path) -> None:
    # The marker file is a hostPath: the node's processes share the host's filesystem, so the test
    # reads what the hook and the container wrote after the pod is gone.
    marks = tmp_path / "marks"
    marks.mkdir()
    grace = 4
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "graceful", "namespace": NS},
                "spec": {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": grace,
                         "volumes": [{"name": "marks", "hostPath": {"path": str(marks), "type": "Directory"}}],
                         "containers": [{
                             "name": "app", "image": IMAGE,
                             "volumeMounts": [{"name": "marks", "mountPath": "/marks"}],
                             # Notes SIGTERM but keeps running: only the grace period's SIGKILL ends it.
                             "command": ["sh", "-c", "trap 'echo term >> /marks/log' TERM; "
                                         "while true; do sleep 0.2; done"],
                             "lifecycle": {"preStop": {"exec": {"command": [
                                 "sh", "-c", "echo pre-stop >> /marks/log; sleep 1; echo pre-stop-done >> /marks/log"]}}},
                         }]}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    _wait("graceful Running", lambda: _running(cluster, "graceful"))
    begin = time.monotonic()
    cluster.kubectl("delete", "pod", "graceful", "-n", NS, "--wait=false")

    def gone() -> bool:
        return _kubectl(cluster, "get", "pod", "graceful", "-n", NS).returncode != 0

    _wait("the pod to be removed", gone, timeout=60)
    # The container ignored SIGTERM, so only the end of the grace period can have removed it.
    assert time.monotonic() - begin >= grace - 0.5
    assert (marks / "log").read_text().splitlines() == ["pre-stop", "pre-stop-done", "term"]


# -- node daemons die, pods live on -------------------------------------------------------------------


def _component_pids(cluster: Cluster, node_name: str, *kinds: str) -> dict[str, int]:
    """The PIDs `up` recorded for the node's daemons (asked while the cluster is healthy: `status`
    exits non-zero once one of them is gone)."""
    status = json.loads(cluster.kubeplane("status", "--name", cluster.name, "-o", "json").stdout)
    pids = {}
    for kind in kinds:
        wanted = f"{kind}-{_index(cluster, node_name)}"
        found = next(c for c in status["components"] if c["kind"] == kind and c["name"] == wanted)
        assert found["running"] and found["pid"], found
        pids[kind] = int(found["pid"])
    return pids


def _kill_and_reap(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    _wait(f"pid {pid} to exit", lambda: not Path(f"/proc/{pid}").exists()
          or "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:1], timeout=30)


def test_pods_keep_running_when_containerd_and_the_kubelet_die(cluster: Cluster) -> None:
    pods = _wait("4 ready web pods", lambda: _web_pods(cluster), timeout=60)
    node = pods[0]["spec"]["nodeName"]
    on_node = [p for p in pods if p["spec"]["nodeName"] == node]
    netns = _node_netns(cluster, node)

    def all_serve() -> bool:
        return all(_wget(netns, f"http://{p['status']['podIP']}:8080/") == p["metadata"]["name"] for p in on_node)

    for kind, pid in _component_pids(cluster, node, "containerd", "kubelet").items():
        _kill_and_reap(pid)
        # The containers' shims are their parents, not containerd: every pod still answers.
        assert all_serve(), f"a pod stopped serving after {kind} was killed"
    current = {p["metadata"]["name"]: p for p in cluster.get("pods", "-n", NS, "-l", "app=web")["items"]}
    assert all(current[p["metadata"]["name"]]["status"]["phase"] == "Running" for p in on_node)


def test_down_leaves_nothing_behind_after_killed_daemons(cluster: Cluster) -> None:
    cluster.kubeplane("down", "--name", cluster.name)
    assert _processes_mentioning(str(cluster.root)) == []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert [line for line in netns.splitlines() if line.startswith(f"kp-{cluster.name}-")] == []
    assert str(cluster.root) not in Path("/proc/self/mountinfo").read_text()
    assert not cluster.root.exists()
    assert root_netns_snapshot() == cluster.root_before  # nothing of the cluster left in the root netns
