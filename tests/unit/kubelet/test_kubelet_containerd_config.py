"""The per-node containerd configuration and the precise matching of what it leaves behind."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kubeplane.kubelet.cri import leftovers
from kubeplane.kubelet.cri.containerd import ContainerdPaths, containerd_argv, prepare, render_config


def test_config_keeps_every_path_under_the_node_base() -> None:
    paths = ContainerdPaths(Path("/srv/node-1"))
    config = tomllib.loads(render_config(paths, sandbox_image="localhost/pause:3.9"))
    assert config["version"] == 2
    assert (config["root"], config["state"]) == ("/srv/node-1/root", "/srv/node-1/state")
    assert config["grpc"]["address"] == "/srv/node-1/containerd.sock"
    assert config["ttrpc"]["address"] == "/srv/node-1/containerd.sock.ttrpc"
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "localhost/pause:3.9"
    assert cri["restrict_oom_score_adj"] is True
    assert cri["netns_mounts_under_state_dir"] is True
    assert cri["cni"] == {"bin_dir": "/srv/node-1/cni-bin", "conf_dir": "/srv/node-1/net.d", "max_conf_num": 1}
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"]["Root"] == "/srv/node-1/runc"
    assert runc["options"]["SystemdCgroup"] is False
    assert config["plugins"]["io.containerd.internal.v1.opt"]["path"] == "/srv/node-1/opt"


def test_config_quotes_unusual_paths() -> None:
    config = tomllib.loads(render_config(ContainerdPaths(Path('/tmp/a "b"\\c'))))
    assert config["root"] == '/tmp/a "b"\\c/root'


def test_started_through_nsenter_net_only() -> None:
    argv = containerd_argv(ContainerdPaths(Path("/srv/n")), Path("/run/netns/kpt-x"))
    assert argv[:3] == ["/usr/bin/nsenter", "--net=/run/netns/kpt-x", "--"]
    assert argv[-2:] == ["--config", "/srv/n/config.toml"]


def test_prepare_refuses_a_socket_path_too_long(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too long"):
        prepare(ContainerdPaths(tmp_path / ("x" * 100)))


def test_prepare_links_cni_plugins(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "bridge").write_text("")
    paths = ContainerdPaths(tmp_path / "node")
    prepare(paths, cni_plugins=plugins)
    prepare(paths, cni_plugins=plugins)  # a second prepare (restart) is fine
    assert (paths.cni_bin_dir / "bridge").resolve() == plugins / "bridge"
    assert tomllib.loads(paths.config.read_text())["root"] == str(paths.root)


def test_cni_cache_matches_the_network_and_the_node_sandboxes(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leftovers, "CNI_RESULTS_CACHE", tmp_path)
    sandbox = "a" * 64
    names = [f"kpt-1-{'b' * 64}-eth0", f"cni-loopback-{sandbox}-lo", f"kpt-10-{'c' * 64}-eth0",
             f"cni-loopback-{'d' * 64}-lo"]
    for name in names:
        (tmp_path / name).write_text("{}")
    found = {p.name for p in leftovers.cni_cache_files("kpt-1", {sandbox})}
    assert found == {names[0], names[1]}


@pytest.mark.parametrize("parent", ["", "/", "/a/../..", ".."])
def test_cgroup_clean_up_refuses_the_root(parent: str) -> None:
    with pytest.raises(ValueError):
        leftovers.cgroup_dirs(parent)
