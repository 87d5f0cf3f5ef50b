"""Pod benchmarks, each beside its floor.

    .venv/bin/python bench/pods.py            # full run
    .venv/bin/python bench/pods.py --quick    # smoke run (well under 90 s)

(a) startup: pod start latency on one real node (a netns with its own containerd and a
    ``kubeplane kubelet`` process, built as tests/integration/kubelet/kubelet_testlib.py does),
    from the POST to the pod reported Running, pods created one after another; floor: a bare
    ``runc run -d`` of a busybox bundle (static busybox rootfs, minimal config.json, a fresh netns
    per run), from the exec of runc to its return (the container process is running then).
    Needs root; skipped otherwise.
(b) hollow: N hollow nodes (``kubeplane hollow-nodes``, one process) with the scheduler and the
    controller manager running; a Deployment of M replicas, timed from its creation until all M
    pods are Running, with the API server's CPU seconds over that interval. Floor: the same M pods
    created with nodeName set and patched Running straight through the API (32 in flight), i.e.
    the API writes the end-to-end chain cannot avoid, without scheduler, controllers or kubelets.

Results are printed and written to the pods section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubeplane.client import Client, NotFound, load_kubeconfig
from kubeplane.client.resource import DEPLOYMENTS, NAMESPACES, NODES, PODS, SERVICEACCOUNTS
from kubeplane.component.pki import ClusterPKI

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    RESULTS,
    RESULTS_HEADER,
    APIServerEndpoint,
    BenchRun,
    machine_description,
    markdown_table,
    percentile,
    raise_open_file_limit,
    rss_bytes,
    run_concurrently,
    write_section,
)

REPO = Path(__file__).resolve().parent.parent
JSON = dict[str, Any]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def write_kubeconfig(path: Path, endpoint: APIServerEndpoint) -> Path:
    from kubeplane.cli.kubeconfig_file import admin_kubeconfig

    pki = ClusterPKI(Path(endpoint.tls.ca_file).parent)
    path.write_text(yaml.safe_dump(admin_kubeconfig("bench", endpoint.url, pki)))
    return path


async def wait_until(what: str, probe: Any, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


def is_ready(node: JSON) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (node.get("status") or {}).get("conditions") or [])


async def ensure_namespace(client: Client, name: str) -> None:
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        await client.create(SERVICEACCOUNTS, {"metadata": {"name": "default"}}, name)
    except Exception:  # the controller manager's ServiceAccount controller may have made it first
        pass


async def running_pods(client: Client, namespace: str) -> int:
    pods = (await client.list(PODS, namespace, resource_version="0")).get("items") or []
    return sum(1 for pod in pods if (pod.get("status") or {}).get("phase") == "Running")


# -- (b) hollow nodes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HollowResult:
    nodes: int
    replicas: int
    nodes_ready_s: float
    all_running_s: float
    apiserver_cpu_s: float
    floor_s: float
    floor_cpu_s: float
    hollow_rss_mib: float
    apiserver_rss_mib: float


def pod_template(node: str | None = None) -> JSON:
    spec: JSON = {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9",
                                  "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                  "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0}
    if node:
        spec["nodeName"] = node
    return spec


async def api_floor(client: Client, namespace: str, replicas: int, nodes: list[str]) -> float:
    """M pods created bound and patched Running by the client alone (the writes the chain needs)."""
    async def one(index: int) -> None:
        name = f"floor-{index}"
        await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                   "spec": pod_template(nodes[index % len(nodes)])}, namespace)
        await client.patch(PODS, name, {"status": {"phase": "Running", "podIP": "198.18.255.1"}}, namespace,
                           subresource="status")

    measured = await run_concurrently(one, replicas, 32)
    return measured.elapsed


async def hollow_case(nodes: int, replicas: int, timeout: float) -> HollowResult:
    with BenchRun() as run:
        raise_open_file_limit(8192)
        etcd_url = await run.start_etcd()
        endpoint = await run.start_apiserver(etcd_url)
        kubeconfig = write_kubeconfig(run.workdir / "admin.kubeconfig", endpoint)
        for component in ("controller-manager", "scheduler"):
            run.spawn(component, [sys.executable, "-m", "kubeplane.cli", component, f"--kubeconfig={kubeconfig}"])
        begin = time.perf_counter()
        hollow = run.spawn("hollow-nodes", [
            sys.executable, "-m", "kubeplane.kubelet.hollow.app", f"--kubeconfig={kubeconfig}", f"--count={nodes}",
            "--name-prefix=hollow-", f"--root-dir={run.workdir / 'hollow'}", "--delete-nodes-on-exit"])
        apiserver_pid = endpoint.started.pid
        async with Client(load_kubeconfig(kubeconfig), component="bench", connection_limit=64) as client:
            async def ready_nodes() -> bool:
                if hollow.process.poll() is not None:
                    raise RuntimeError(f"hollow-nodes exited:\n{hollow.log_tail()}")
                items = (await client.list(NODES, resource_version="0")).get("items") or []
                return sum(1 for node in items if is_ready(node)) >= nodes

            await wait_until(f"{nodes} Ready nodes", ready_nodes, timeout)
            nodes_ready = time.perf_counter() - begin
            # Bound to names no kubelet serves, so no hollow kubelet writes to the floor's pods.
            names = [f"floor-node-{i}" for i in range(nodes)]

            # The floor first, in its own namespace, then removed so the chain starts on equal terms.
            await ensure_namespace(client, "bench-floor")
            cpu_before = cpu_seconds(apiserver_pid)
            floor = await api_floor(client, "bench-floor", replicas, names)
            floor_cpu = cpu_seconds(apiserver_pid) - cpu_before
            await client.request("DELETE", "/api/v1/namespaces/bench-floor/pods")

            await ensure_namespace(client, "bench-scale")
            deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "scale"},
                          "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "scale"}},
                                   "template": {"metadata": {"labels": {"app": "scale"}}, "spec": pod_template()}}}
            cpu_before = cpu_seconds(apiserver_pid)
            begin = time.perf_counter()
            await client.create(DEPLOYMENTS, deployment, "bench-scale")

            async def all_running() -> bool:
                return await running_pods(client, "bench-scale") >= replicas

            await wait_until(f"{replicas} Running pods", all_running, timeout, interval=0.25)
            all_running_s = time.perf_counter() - begin
            apiserver_cpu = cpu_seconds(apiserver_pid) - cpu_before
            return HollowResult(nodes, replicas, nodes_ready, all_running_s, apiserver_cpu, floor, floor_cpu,
                                rss_bytes(hollow.pid) / 2**20, rss_bytes(apiserver_pid) / 2**20)


# -- (a) pod startup on a real node ----------------------------------------------------------------


@dataclass(frozen=True)
class StartupResult:
    pods: int
    pod_latencies: tuple[float, ...]
    runc_latencies: tuple[float, ...]


def busybox_bundle(directory: Path) -> Path:
    """An OCI bundle: static busybox rootfs and a minimal config that sleeps; a new netns (no
    path given) per run, no network configured in it."""
    rootfs = directory / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    for sub in ("proc", "dev", "sys", "tmp"):
        (rootfs / sub).mkdir()
    shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
    for applet in ("sh", "sleep"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    config = {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/sleep", "3600"],
                    "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "floor",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
                  "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]},
    }
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def runc_floor(workdir: Path, count: int) -> list[float]:
    bundle = busybox_bundle(workdir / "bundle")
    state_root = workdir / "runc-state"
    latencies = []
    run_id = uuid.uuid4().hex[:8]
    for index in range(count):
        name = f"kpb-{run_id}-{index}"
        begin = time.perf_counter()
        try:
            # The detached container inherits runc's stdio: never a pipe, or reading it would wait
            # for the container to exit.
            subprocess.run(["runc", "--root", str(state_root), "run", "-d", "--bundle", str(bundle), name],
                           check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
            latencies.append(time.perf_counter() - begin)
        finally:
            # Kills the container and removes its cgroups and state (also after a failed start).
            subprocess.run(["runc", "--root", str(state_root), "delete", "-f", name], check=False,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=30)
    return latencies


async def startup_case(pods: int, timeout: float) -> StartupResult:
    sys.path.insert(0, str(REPO / "tests" / "integration" / "kubelet"))
    from kubelet_testlib import BUSYBOX, node_down, node_up, start_kubelet  # type: ignore[import-not-found,unused-ignore]

    from kubeplane.kubelet.images import build_base_images

    with BenchRun() as run:
        etcd_url = await run.start_etcd()
        endpoint = await run.start_apiserver(etcd_url)
        kubeconfig = write_kubeconfig(run.workdir / "admin.kubeconfig", endpoint)
        runc_latencies = runc_floor(run.workdir, pods)
        node = await node_up(run.workdir / "node", build_base_images(run.workdir / "images"))
        kubelet = None
        try:
            kubelet = start_kubelet(node, kubeconfig, run.workdir)
            async with Client(load_kubeconfig(kubeconfig), component="bench") as client:
                async def node_ready() -> bool:
                    try:
                        return is_ready(await client.get(NODES, node.name))
                    except NotFound:
                        return False

                await wait_until("the node to be Ready", node_ready, timeout, 0.2)
                await ensure_namespace(client, "bench-startup")
                latencies = []
                for index in range(pods):
                    name = f"start-{index}"
                    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                           "spec": {"nodeName": node.name, "automountServiceAccountToken": False,
                                    "terminationGracePeriodSeconds": 0, "containers": [{
                                        "name": "app", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                                        "command": ["sleep", "3600"]}]}}
                    begin = time.perf_counter()
                    await client.create(PODS, pod, "bench-startup")

                    async def running(pod_name: str = name) -> bool:
                        found = await client.get(PODS, pod_name, "bench-startup")
                        return (found.get("status") or {}).get("phase") == "Running"

                    await wait_until(f"pod {name} Running", running, timeout, 0.01)
                    latencies.append(time.perf_counter() - begin)
                for index in range(pods):
                    await client.delete(PODS, f"start-{index}", "bench-startup")

                async def emptied() -> bool:
                    return not (await client.list(PODS, "bench-startup")).get("items")

                await wait_until("the pods to be removed", emptied, timeout)
        finally:
            if kubelet is not None:
                kubelet.stop()
            await node_down(node)
        return StartupResult(pods, tuple(latencies), tuple(runc_latencies))


# -- reporting -------------------------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def report(startup: StartupResult | None, hollow: list[HollowResult], quick: bool) -> str:
    machine = machine_description()
    lines = ["## Pods (`bench/pods.py`" + (" --quick" if quick else "") + ")", "",
             f"{machine['date']}; {machine['nproc']} x {machine['cpu']}, {machine['memory']}, "
             f"Python {machine['python']}, kernel {machine['kernel']}.", ""]
    if startup is not None:
        p = startup.pod_latencies
        r = startup.runc_latencies
        lines += ["### Pod start latency on a real node (POST → Running, one pod at a time)", "",
                  markdown_table(["what", "n", "p50", "p99", "p50 / floor"], [
                      ["pod (kubelet + containerd + CNI bridge)", str(len(p)), ms(percentile(p, .5)),
                       ms(percentile(p, .99)), f"{percentile(p, .5) / percentile(r, .5):.1f}x"],
                      ["floor: `runc run -d` busybox bundle", str(len(r)), ms(percentile(r, .5)),
                       ms(percentile(r, .99)), "1x"]]), ""]
    else:
        lines += ["(pod start latency skipped: it needs root and runc, or --startup-pods 0)", ""]
    if hollow:
        lines += ["### Hollow nodes: Deployment → all pods Running", "",
                  markdown_table(["nodes", "replicas", "nodes Ready after", "all Running after",
                                  "API server CPU", "floor: direct create+status", "floor CPU",
                                  "hollow RSS", "API server RSS"], [
                      [str(h.nodes), str(h.replicas), f"{h.nodes_ready_s:.1f} s", f"{h.all_running_s:.1f} s",
                       f"{h.apiserver_cpu_s:.1f} s", f"{h.floor_s:.1f} s", f"{h.floor_cpu_s:.1f} s",
                       f"{h.hollow_rss_mib:.0f} MiB", f"{h.apiserver_rss_mib:.0f} MiB"] for h in hollow]), "",
                  "The chain is Deployment controller → ReplicaSet controller → scheduler → hollow kubelets "
                  "(real pod workers and status writes); the floor is the pods' create and status writes "
                  "alone, through the same API server, 32 in flight."]
    return "\n".join(lines)


async def main_async(opts: argparse.Namespace) -> str:
    startup = None
    if opts.startup_pods and os.geteuid() == 0 and shutil.which("runc"):
        startup = await startup_case(opts.startup_pods, opts.timeout)
    hollow = []
    for size in opts.hollow:
        nodes, replicas = (int(part) for part in size.split("x"))
        hollow.append(await hollow_case(nodes, replicas, opts.timeout))
        print(hollow[-1], file=sys.stderr)
    return report(startup, hollow, opts.quick)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (well under 90 s)")
    parser.add_argument("--startup-pods", type=int, default=None, help="pods for (a); 0 skips it")
    parser.add_argument("--hollow", default=None, help="NODESxREPLICAS,... for (b), e.g. 50x1000,200x1000")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    opts = parser.parse_args()
    if opts.startup_pods is None:
        opts.startup_pods = 10 if opts.quick else 20
    opts.hollow = [s for s in (opts.hollow or ("50x500" if opts.quick else "50x1000,200x1000")).split(",") if s]
    body = asyncio.run(main_async(opts))
    print(body)
    if not opts.no_write:
        write_section(RESULTS, "pods", body, RESULTS_HEADER)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
