"""The kubeplane command without a running control plane: argument checks, state handling,
kubeconfig output and merging, dispatch to component mains."""

from __future__ import annotations

import base64
import json
import sys
import types
from pathlib import Path

import pytest
import yaml

from kubeplane.cli import kubeconfig_file, main
from kubeplane.cli.state import ClusterPaths, ClusterRecord, ComponentRecord, load_record, save_record
from kubeplane.component import pki, process


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBEPLANE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return tmp_path / "home"


def _fake_cluster(name: str) -> ClusterPaths:
    """State as `up` leaves it, minus the processes."""
    paths = ClusterPaths.for_name(name)
    pki.create_cluster_pki(paths.pki.directory, "198.19.0.0/16")
    record = ClusterRecord(name, "1.35", "2026-01-01T00:00:00+00:00", "198.19.0.0/16", "30000-32767",
                           components=[
                               ComponentRecord("etcd-0", "etcd", "http://127.0.0.1:1", {"client": 1, "peer": 2}),
                               ComponentRecord("apiserver-0", "apiserver", "https://127.0.0.1:3", {"secure": 3}),
                           ])
    save_record(paths, record)
    kubeconfig_file.write(paths.kubeconfig, kubeconfig_file.admin_kubeconfig(name, record.server, paths.pki))
    return paths


def test_bad_version_lists_supported_versions_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["up", "--name", "x", "--kubernetes-version", "1.12"]) == 2
    err = capsys.readouterr().err
    assert "unsupported Kubernetes version '1.12'" in err
    assert "1.35" in err


def test_bad_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["up", "--name", "../etc"]) == 2
    assert "invalid cluster name" in capsys.readouterr().err


def test_bad_node_options_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["up", "--name", "x", "--nodes", "-1"]) == 2
    assert main.main(["up", "--name", "x", "--nodes", "1", "--instance-type", "bogus"]) == 2
    assert "unknown instance type 'bogus'" in capsys.readouterr().err


def test_up_refuses_a_cluster_that_is_already_up(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _fake_cluster("busy")
    process.start("etcd-0", ["sleep", "60"], paths.logs, paths.run)
    try:
        assert main.main(["up", "--name", "busy"]) == 1
        assert "already up (etcd-0 running)" in capsys.readouterr().err
        assert paths.record.exists()
    finally:
        process.stop(paths.pidfile("etcd-0"), grace=5)


def test_down_stops_processes_and_removes_state(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _fake_cluster("gone")
    started = process.start("etcd-0", ["sleep", "60"], paths.logs, paths.run)
    assert main.main(["down", "--name", "gone", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"name": "gone", "removed": True}
    assert not process.record_is_alive(started)
    assert not paths.root.exists()
    # Again: already down is fine.
    assert main.main(["down", "--name", "gone"]) == 0
    assert "was not up" in capsys.readouterr().err


def test_status_of_unknown_cluster_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["status", "--name", "nope", "-o", "json"]) == 1
    assert "cluster 'nope' not found" in capsys.readouterr().err


def test_status_json_reports_stopped_components(capsys: pytest.CaptureFixture[str]) -> None:
    _fake_cluster("idle")
    assert main.main(["status", "--name", "idle", "-o", "json"]) == 1
    status = json.loads(capsys.readouterr().out)
    assert status["kubernetesVersion"] == "1.35"
    assert status["healthy"] is False
    assert [(c["name"], c["running"], c["healthy"]) for c in status["components"]] == [
        ("etcd-0", False, False), ("apiserver-0", False, False)]


def test_kubeconfig_embeds_admin_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _fake_cluster("kc")
    assert main.main(["kubeconfig", "--name", "kc"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["current-context"] == "kc"
    assert config["clusters"][0] == {"name": "kc", "cluster": {
        "server": "https://127.0.0.1:3",
        "certificate-authority-data": base64.b64encode(paths.pki.ca_cert.read_bytes()).decode()}}
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == paths.pki.admin_cert.read_bytes()
    assert base64.b64decode(user["client-key-data"]) == paths.pki.admin_key.read_bytes()
    assert config["contexts"][0] == {"name": "kc", "context": {"cluster": "kc", "user": "kc"}}
    assert oct(paths.kubeconfig.stat().st_mode & 0o777) == "0o600"


def test_kubeconfig_merge_keeps_other_entries_and_uses_first_kubeconfig_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cluster("merged")
    target, second = tmp_path / "cfg" / "a", tmp_path / "cfg" / "b"
    target.parent.mkdir()
    other = {"apiVersion": "v1", "kind": "Config", "current-context": "prod",
             "clusters": [{"name": "prod", "cluster": {"server": "https://prod"}},
                          {"name": "merged", "cluster": {"server": "https://stale"}}],
             "users": [{"name": "prod", "user": {"token": "t"}}],
             "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
             "preferences": {"colors": True}}
    target.write_text(yaml.safe_dump(other))
    monkeypatch.setenv("KUBECONFIG", f"{target}:{second}")

    assert main.main(["kubeconfig", "--name", "merged", "--merge"]) == 0
    assert main.main(["kubeconfig", "--name", "merged", "--merge"]) == 0  # idempotent

    result = yaml.safe_load(target.read_text())
    assert not second.exists()
    assert result["current-context"] == "merged"
    assert result["preferences"] == {"colors": True}
    assert {c["name"]: c["cluster"]["server"] for c in result["clusters"]} == {
        "prod": "https://prod", "merged": "https://127.0.0.1:3"}
    assert [u["name"] for u in result["users"]] == ["prod", "merged"]
    assert [c["name"] for c in result["contexts"]] == ["prod", "merged"]


def test_merge_target_defaults_to_home_kube_config(home: Path) -> None:
    assert kubeconfig_file.default_merge_target() == Path.home() / ".kube" / "config"


def test_cluster_record_round_trips(home: Path) -> None:
    paths = _fake_cluster("rt")
    record = load_record(paths)
    assert record is not None
    assert record.server == "https://127.0.0.1:3"
    assert ClusterRecord.from_json(json.loads(paths.record.read_text())) == record


def test_apiserver_command_is_handed_its_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType("kubeplane.apiserver.app")
    fake.main = lambda argv: seen.append(argv) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kubeplane.apiserver.app", fake)
    assert main.main(["apiserver", "--secure-port=1", "--etcd-servers=http://x"]) == 7
    assert seen == [["--secure-port=1", "--etcd-servers=http://x"]]


def test_demo_prefers_the_kubectl_next_to_the_interpreter() -> None:
    from kubeplane.cli.demo import find_kubectl

    pinned = Path(sys.executable).parent / "kubectl"
    if pinned.is_file():
        assert find_kubectl() == str(pinned)
    else:
        assert Path(find_kubectl()).name == "kubectl"


def test_demo_manifest_is_a_multi_document_application() -> None:
    manifest = Path(__file__).resolve().parents[3] / "examples" / "demo.yaml"
    kinds = [doc["kind"] for doc in yaml.safe_load_all(manifest.read_text())]
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "ServiceAccount"} <= set(kinds)
