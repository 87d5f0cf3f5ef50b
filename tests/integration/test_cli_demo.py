"""`kubeplane demo` end to end: the demo cluster comes up, kubectl applies examples/demo.yaml
(with client-side validation, as users run it) and lists what it created."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("etcd") is None, reason="needs Debian's etcd"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the demo's worker nodes need root (network namespaces, containerd)"),
    pytest.mark.timeout(300),
]


def test_demo_applies_the_sample_application(tmp_path: Path) -> None:
    env = {**os.environ, "KUBEPLANE_HOME": str(tmp_path)}

    def kubeplane(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kubeplane.cli", *args], env=env, capture_output=True,
                              text=True, timeout=240, check=False)

    try:
        first = kubeplane("demo")
        assert first.returncode == 0, first.stderr
        assert "deployment.apps/web" in first.stdout  # kubectl output passes through
        # `kubectl get all -A` ends the show: every namespace's objects, the API's own Service too.
        assert "NAMESPACE" in first.stdout and "service/kubernetes" in first.stdout
        again = kubeplane("demo")  # reuses the running cluster, apply is idempotent
        assert again.returncode == 0, again.stderr
        assert "already up; reusing it" in again.stderr
        assert "deployment.apps/web unchanged" in again.stdout
    finally:
        kubeplane("down", "--name", "demo")
    assert not (tmp_path / "clusters" / "demo").exists()
