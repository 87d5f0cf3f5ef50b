"""`kubeplane up/status/kubeconfig/down` against real etcd and API server processes, with the real
kubectl as the client. State lives in a temporary KUBEPLANE_HOME; every cluster is torn down."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplane.cli.demo import find_kubectl

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("etcd") is None, reason="needs Debian's etcd"),
    pytest.mark.timeout(300),
]
pytest.importorskip("kubeplane.apiserver.app", reason="needs the API server")


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "KUBEPLANE_HOME": str(home), "HOME": str(home / "user")}


def kubeplane(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run([sys.executable, "-m", "kubeplane.cli", *args], env=_env(home),
                               capture_output=True, text=True, timeout=240, check=False)
    if check and completed.returncode != 0:
        pytest.fail(f"kubeplane {' '.join(args)} -> {completed.returncode}\n{completed.stderr}")
    return completed


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run([find_kubectl(), f"--kubeconfig={kubeconfig}", *args],
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    return completed


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubeplane-home")


def _up(home: Path, name: str, *args: str) -> Iterator[dict[str, Any]]:
    try:
        yield json.loads(kubeplane(home, "up", "--name", name, "-o", "json", *args).stdout)
    finally:
        kubeplane(home, "down", "--name", name, check=False)


@pytest.fixture(scope="module")
def cluster(home: Path) -> Iterator[dict[str, Any]]:
    yield from _up(home, f"it-{uuid.uuid4().hex[:6]}")


def test_up_reports_components_and_kubeconfig(cluster: dict[str, Any], home: Path) -> None:
    assert cluster["kubernetesVersion"] == "1.35"
    assert cluster["server"].startswith("https://127.0.0.1:")
    assert [c["kind"] for c in cluster["components"]] == [
        "etcd", "apiserver", "controller-manager", "controller-manager", "scheduler", "scheduler"]
    assert Path(cluster["kubeconfig"]) == home / "clusters" / cluster["name"] / "kubeconfig"


def test_status_json_says_everything_is_healthy(cluster: dict[str, Any], home: Path) -> None:
    status = json.loads(kubeplane(home, "status", "--name", cluster["name"], "-o", "json").stdout)
    assert status["healthy"] is True
    assert all(c["running"] and c["healthy"] for c in status["components"])
    assert {c["pid"] for c in status["components"]} == {c["pid"] for c in cluster["components"]}


def test_up_again_is_refused(cluster: dict[str, Any], home: Path) -> None:
    again = kubeplane(home, "up", "--name", cluster["name"], check=False)
    assert again.returncode == 1
    assert "already up" in again.stderr


def test_kubectl_talks_to_the_cluster(cluster: dict[str, Any], home: Path) -> None:
    printed = home / "printed-kubeconfig"
    printed.write_text(kubeplane(home, "kubeconfig", "--name", cluster["name"]).stdout)
    version = json.loads(kubectl(printed, "version", "-o", "json").stdout)
    assert version["serverVersion"]["minor"].startswith("35")
    namespaces = kubectl(printed, "get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/default" in namespaces


NODE = """
apiVersion: v1
kind: Node
metadata: {name: hand-made, labels: {kubernetes.io/hostname: hand-made}}
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
  conditions: [{type: Ready, status: "True"}]
"""


def test_control_plane_runs_a_deployment_onto_a_node(cluster: dict[str, Any], home: Path) -> None:
    """The controller manager makes the ReplicaSet and pods; the scheduler, with its own restricted
    identity, binds them to the only node (no kubelet runs: pods stay Pending on it)."""
    config = Path(cluster["kubeconfig"])
    subprocess.run([find_kubectl(), f"--kubeconfig={config}", "apply", "-f", "-"], input=NODE, text=True,
                   check=True, capture_output=True)
    kubectl(config, "create", "deployment", "cp", "--image=busybox:1.35", "--replicas=2")
    deadline = time.monotonic() + 30
    nodes: list[str] = []
    while time.monotonic() < deadline:
        pods = json.loads(kubectl(config, "get", "pods", "-l", "app=cp", "-o", "json").stdout)["items"]
        nodes = [p["spec"].get("nodeName", "") for p in pods]
        if len(nodes) == 2 and all(nodes):
            break
        time.sleep(0.5)
    assert nodes == ["hand-made", "hand-made"]
    events = kubectl(config, "get", "events", "-o", "json").stdout
    assert "Successfully assigned default/cp-" in events


def test_kubeconfig_merge_makes_the_context_current(cluster: dict[str, Any], home: Path) -> None:
    kubeplane(home, "kubeconfig", "--name", cluster["name"], "--merge")
    merged = home / "user" / ".kube" / "config"
    context = subprocess.run([find_kubectl(), f"--kubeconfig={merged}", "config", "current-context"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert context == cluster["name"]
    kubectl(merged, "get", "namespaces")


def test_two_clusters_side_by_side_then_down_leaves_nothing(cluster: dict[str, Any], home: Path) -> None:
    name = f"it2-{uuid.uuid4().hex[:6]}"
    second_gen = _up(home, name, "--kubernetes-version", "1.33")  # and at another minor of the catalog
    second = next(second_gen)
    try:
        assert second["server"] != cluster["server"]
        assert second["kubernetesVersion"] == "1.33"
        served = json.loads(kubectl(Path(second["kubeconfig"]), "version", "-o", "json").stdout)["serverVersion"]
        assert (served["major"], served["minor"]) == ("1", "33")
        for config in (cluster["kubeconfig"], second["kubeconfig"]):
            assert "namespace/default" in kubectl(Path(config), "get", "ns", "-o", "name").stdout.split()
        kubeplane(home, "down", "--name", name)
        assert not (home / "clusters" / name).exists()
        assert not any(_pid_alive(c["pid"]) for c in second["components"])
        # The first cluster is untouched.
        status = json.loads(kubeplane(home, "status", "--name", cluster["name"], "-o", "json").stdout)
        assert status["healthy"] is True
    finally:
        second_gen.close()
