"""`kubeplane image` end to end (root only): a one-node cluster with its registry; an image built
from a directory (a script busybox's sh runs) is pushed and pulled by a pod with pull policy
Always, another is imported into the node, Docker Hub's `busybox:1.35` pulls offline from the
registry, and `down` leaves no registry process or namespace behind."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubeplane.cli.demo import find_kubectl

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("etcd") is None or shutil.which("containerd") is None,
                       reason="needs Debian's etcd and containerd"),
    pytest.mark.skipif(not Path("/usr/bin/docker-registry").exists(), reason="needs Debian's docker-registry"),
    pytest.mark.skipif(os.geteuid() != 0, reason="nodes need root (network namespaces, cgroups)"),
    pytest.mark.timeout(240),
]
pytest.importorskip("kubeplane.apiserver.app", reason="needs the API server")

SCRIPT = '#!/bin/sh\necho "hello from $GREETING in $(cat /app/where)"\n'


def _image_command() -> list[str]:
    # `kubeplane image` once registered in cli/main.py; the module's own entry point until then.
    from kubeplane.cli import images, main

    registered = images in getattr(main, "_COMMANDS", ())
    return ["kubeplane.cli", "image"] if registered else ["kubeplane.cli.images"]


@dataclass
class Cluster:
    name: str
    home: Path

    @property
    def root(self) -> Path:
        return self.home / "clusters" / self.name

    def kubeplane(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _kubeplane(self.home, *args, check=check)

    def image(self, *args: str) -> Any:
        module, *prefix = _image_command()
        env = {**os.environ, "KUBEPLANE_HOME": str(self.home), "HOME": str(self.home / "user")}
        done = subprocess.run([sys.executable, "-m", module, *prefix, *args, "-o", "json"], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"image {' '.join(args)}: {done.stderr[-3000:]}"
        return json.loads(done.stdout)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([find_kubectl(), f"--kubeconfig={self.root / 'kubeconfig'}", *args], input=stdin,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def run_pod(self, name: str, image: str, pull_policy: str, command: list[str] | None = None) -> str:
        """Run a pod to completion; its log, or a failure showing why it did not succeed."""
        container: dict[str, Any] = {"name": "main", "image": image, "imagePullPolicy": pull_policy}
        if command:
            container["command"] = command
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
               "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False,
                        "terminationGracePeriodSeconds": 0, "containers": [container]}}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
        deadline = time.monotonic() + 90
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = json.loads(self.kubectl("get", "pod", name, "-o", "json")).get("status", {})
            if status.get("phase") in ("Succeeded", "Failed"):
                break
            time.sleep(0.5)
        assert status.get("phase") == "Succeeded", json.dumps(status, indent=1)
        return self.kubectl("logs", name).strip()


def _kubeplane(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBEPLANE_HOME": str(home), "HOME": str(home / "user")}
    done = subprocess.run([sys.executable, "-m", "kubeplane.cli", *args], env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    if check and done.returncode != 0:
        pytest.fail(f"kubeplane {' '.join(args)} -> {done.returncode}\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = Path(tmp_path_factory.mktemp("kpimg"))
    name = f"kpimg{secrets.token_hex(3)}"
    try:
        _kubeplane(home, "up", "--name", name, "--nodes", "1")
        yield Cluster(name, home)
    finally:
        _kubeplane(home, "down", "--name", name, check=False)  # a no-op after the down test


def _app_dir(base: Path, where: str) -> Path:
    directory = base / where
    (directory / "app").mkdir(parents=True)
    (directory / "app" / "run.sh").write_text(SCRIPT)
    (directory / "app" / "run.sh").chmod(0o755)
    (directory / "app" / "where").write_text(where)
    return directory


def test_pushed_image_is_pulled_by_a_pod(cluster: Cluster, tmp_path: Path) -> None:
    reference = "registry.kubeplane.local/kpimg/hello:1"
    built = cluster.image("build", str(_app_dir(tmp_path, "the-registry")), "--tag", reference,
                          "--from", "busybox:1.35", "--entrypoint", '["sh", "/app/run.sh"]', "-e", "GREETING=kpimg")
    pushed = cluster.image("push", "--name", cluster.name, reference)
    assert (pushed["repository"], pushed["tag"], pushed["digest"]) == ("kpimg/hello", "1", built["manifestDigest"])
    # busybox's layer is in the registry already (pushed by `up` as library/busybox, but per
    # repository it is uploaded once): the config, the app layer and busybox's are sent.
    assert built["imageID"] in pushed["uploaded"]
    again = cluster.image("push", "--name", cluster.name, built["archive"])
    assert again["uploaded"] == [] and again["digest"] == built["manifestDigest"]

    assert cluster.run_pod("from-registry", reference, "Always") == "hello from kpimg in the-registry"


def test_imported_image_runs_without_a_pull(cluster: Cluster, tmp_path: Path) -> None:
    reference = "localhost/kpimg-imported:1"
    built = cluster.image("build", str(_app_dir(tmp_path, "an-import")), "--tag", reference,
                          "--from", "busybox:1.35", "--cmd", "sh /app/run.sh", "-e", "GREETING=ctr")
    cluster.image("import", "--name", cluster.name, reference)
    assert cluster.run_pod("imported", reference, "Never") == "hello from ctr in an-import"

    listed = cluster.image("ls", "--name", cluster.name)
    (node_images,) = listed["nodes"].values()
    assert any(image["id"] == built["imageID"] and reference in image["tags"] for image in node_images)
    assert listed["registry"]["kpimg/hello"] == ["1"]
    assert listed["registry"]["library/busybox"] == ["1.35"]


def test_docker_hub_busybox_pulls_offline(cluster: Cluster) -> None:
    log = cluster.run_pod("public-name", "busybox:1.35", "Always", ["sh", "-c", "echo public name works"])
    assert log == "public name works"


def test_down_stops_the_registry(cluster: Cluster) -> None:
    record = json.loads((cluster.root / "run" / "registry.pid").read_text())
    registry = cluster.root / "registry" / "registry.json"
    netns = json.loads(registry.read_text())["netns"]
    assert Path(f"/proc/{record['pid']}").exists()
    cluster.kubeplane("down", "--name", cluster.name)
    cmdline = Path(f"/proc/{record['pid']}/cmdline")
    assert not cmdline.exists() or b"docker-registry" not in cmdline.read_bytes()
    assert not Path(f"/run/netns/{netns}").exists()
    assert not cluster.root.exists()
