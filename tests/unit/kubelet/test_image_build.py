"""`kubeplane image build`: a directory as one reproducible layer, config fields with Docker's
inheritance rules, layering over a base archive, and reading archives back."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from kubeplane.cli.nodes import DOCKER_HUB_SERVER, REGISTRY_HOST_NAME
from kubeplane.kubelet.cri.containerd import ContainerdPaths, write_registry_hosts
from kubeplane.kubelet.images import ImageConfig, Layer, write_image
from kubeplane.kubelet.images.archive import ArchiveError, OCIArchive
from kubeplane.kubelet.images.build import (
    BuildError,
    BuildOptions,
    build_image,
    image_config,
    resolve_archive,
)
from kubeplane.kubelet.images.reference import InvalidReference, parse_reference
from kubeplane.registry import REGISTRY_HOST
from kubeplane.registry.push import target_of


def _app(root: Path) -> Path:
    (root / "app" / "lib").mkdir(parents=True)
    (root / "app" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "app" / "run.sh").chmod(0o750)
    (root / "app" / "lib" / "data.txt").write_text("data")
    (root / "app" / "current").symlink_to("lib/data.txt")
    return root


def _layer_members(archive: Path, index: int = -1) -> dict[str, tarfile.TarInfo]:
    with OCIArchive(archive) as oci:
        image = oci.image()
        blob = oci.blob(image.layer_descriptors[index]["digest"])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as layer:
        return {member.name: member for member in layer.getmembers()}


def test_same_directory_gives_the_same_digests_wherever_it_is(tmp_path: Path) -> None:
    first = build_image(_app(tmp_path / "one"), "registry.kubeplane.local/app:1", tmp_path / "a.tar")
    second_dir = _app(tmp_path / "elsewhere" / "two")
    os.utime(second_dir / "app" / "run.sh", (1_000_000, 1_000_000))  # times never reach the image
    second = build_image(second_dir, "registry.kubeplane.local/app:1", tmp_path / "b.tar")
    assert (first.image_id, first.manifest_digest) == (second.image_id, second.manifest_digest)
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_content_and_modes_change_the_digest(tmp_path: Path) -> None:
    base = build_image(_app(tmp_path / "one"), "x.local/app:1", tmp_path / "a.tar")
    changed = _app(tmp_path / "two")
    (changed / "app" / "run.sh").chmod(0o755)
    assert build_image(changed, "x.local/app:1", tmp_path / "b.tar").image_id != base.image_id


def test_layer_holds_files_dirs_and_symlinks_owned_by_root(tmp_path: Path) -> None:
    image = build_image(_app(tmp_path / "src"), "x.local/app:1", tmp_path / "a.tar")
    members = _layer_members(image.archive)
    assert list(members) == ["app", "app/current", "app/lib", "app/lib/data.txt", "app/run.sh"]
    assert members["app/run.sh"].mode == 0o750 and members["app/run.sh"].isfile()
    assert members["app/current"].issym() and members["app/current"].linkname == "lib/data.txt"
    assert all((m.uid, m.gid, m.mtime) == (0, 0, 0) for m in members.values())


def test_special_files_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "src"
    directory.mkdir()
    os.mkfifo(directory / "pipe")
    with pytest.raises(BuildError, match="only directories, files and symlinks"):
        build_image(directory, "x.local/app:1", tmp_path / "a.tar")


def test_config_fields_are_written(tmp_path: Path) -> None:
    options = BuildOptions(entrypoint=["sh", "/app/run.sh"], cmd=["--verbose"], env=["GREETING=hi"],
                           working_dir="/app", labels={"team": "a"})
    image = build_image(_app(tmp_path / "src"), "x.local/app:1", tmp_path / "a.tar", options)
    with OCIArchive(image.archive) as archive:
        manifest = archive.image()
    config = json.loads(manifest.config)
    assert config["config"] == {"Entrypoint": ["sh", "/app/run.sh"], "Cmd": ["--verbose"], "WorkingDir": "/app",
                                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                        "GREETING=hi"], "Labels": {"team": "a"}}
    assert manifest.reference == "x.local/app:1"
    assert manifest.digest == image.manifest_digest and config["rootfs"]["diff_ids"]


def test_config_inherits_from_the_base_as_docker_does() -> None:
    base = {"Entrypoint": ["/init"], "Cmd": ["serve"], "Env": ["PATH=/bin", "A=1"], "WorkingDir": "/srv",
            "Labels": {"from": "base"}}
    inherited = image_config(BuildOptions(env=["A=2", "B=3"]), base)
    assert (inherited.entrypoint, inherited.cmd, inherited.working_dir) == (("/init",), ("serve",), "/srv")
    assert inherited.env == ("PATH=/bin", "A=2", "B=3")
    # A new entrypoint drops the base's cmd (it was written for the old entrypoint).
    assert image_config(BuildOptions(entrypoint=["sh"]), base).cmd == ()
    with pytest.raises(BuildError, match="KEY=VALUE"):
        image_config(BuildOptions(env=["NOVALUE"]), base)


def test_layering_over_a_base_keeps_its_layers_and_history(tmp_path: Path) -> None:
    layer = Layer()
    layer.add_file("bin/tool", b"tool", mode=0o755)
    base = write_image(tmp_path / "base.tar", "x.local/base:1", layer, ImageConfig(cmd=("tool",)))
    image = build_image(_app(tmp_path / "src"), "x.local/app:1", tmp_path / "app.tar",
                        base_archive=base.archive)
    with OCIArchive(base.archive) as archive:
        base_manifest = archive.image()
    with OCIArchive(image.archive) as archive:
        manifest = archive.image()
    config = json.loads(manifest.config)
    assert manifest.layer_descriptors[0] == base_manifest.layer_descriptors[0]
    assert len(manifest.layer_descriptors) == 2
    assert config["rootfs"]["diff_ids"][0] == json.loads(base_manifest.config)["rootfs"]["diff_ids"][0]
    assert config["config"]["Cmd"] == ["tool"] and len(config["history"]) == 2
    assert "app/run.sh" in _layer_members(image.archive, -1)


def test_resolve_archive_by_path_or_built_tag(tmp_path: Path) -> None:
    built = build_image(_app(tmp_path / "src"), "x.local/app:1", tmp_path / "build" / "x.local_app_1.tar")
    assert resolve_archive(str(built.archive), tmp_path / "build") == built.archive
    assert resolve_archive("x.local/app:1", tmp_path / "build") == built.archive
    with pytest.raises(BuildError, match="no archive"):
        resolve_archive("x.local/other:1", tmp_path / "build")


def test_archive_errors_are_reported(tmp_path: Path) -> None:
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    with pytest.raises(ArchiveError):
        OCIArchive(tmp_path / "junk.tar")
    image = build_image(_app(tmp_path / "src"), "x.local/app:1", tmp_path / "a.tar")
    with OCIArchive(image.archive) as archive, pytest.raises(ArchiveError, match="no blobs/sha256"):
        archive.blob("sha256:" + "0" * 64)


@pytest.mark.parametrize(("reference", "expected"), [
    ("busybox:1.35", ("docker.io", "library/busybox", "1.35")),
    ("busybox", ("docker.io", "library/busybox", "latest")),
    ("team/app:2", ("docker.io", "team/app", "2")),
    ("registry.kubeplane.local/team/app:1", ("registry.kubeplane.local", "team/app", "1")),
    ("localhost:5000/app", ("localhost:5000", "app", "latest")),
    ("localhost/pause:3.9", ("localhost", "pause", "3.9")),
])
def test_references_normalise_as_docker_does(reference: str, expected: tuple[str, str, str]) -> None:
    parsed = parse_reference(reference)
    assert (parsed.host, parsed.repository, parsed.tag) == expected


@pytest.mark.parametrize("reference", ["App:1", "app@sha256:" + "0" * 64, "x.local/app:-bad"])
def test_invalid_references_are_refused(reference: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(reference)


def test_push_target_prefers_the_given_name() -> None:
    assert target_of("x.local/app:1", None).repository == "app"
    assert str(target_of("x.local/app:1", "busybox:1.35")) == "docker.io/library/busybox:1.35"


def test_containerd_hosts_for_the_registry_and_the_docker_hub_mirror(tmp_path: Path) -> None:
    import tomllib

    assert REGISTRY_HOST == REGISTRY_HOST_NAME
    paths = ContainerdPaths(tmp_path)
    local = tomllib.loads(write_registry_hosts(paths, REGISTRY_HOST, ["http://198.18.0.9:5000"]).read_text())
    # Only the registry: containerd 1.6 needs a [host] table, and a server would be asked again.
    assert local == {"host": {"http://198.18.0.9:5000": {"capabilities": ["pull", "resolve"]}}}
    mirror_file = write_registry_hosts(paths, "docker.io", ["http://198.18.0.9:5000"], server=DOCKER_HUB_SERVER)
    assert mirror_file == tmp_path / "certs.d" / "docker.io" / "hosts.toml"
    mirror = tomllib.loads(mirror_file.read_text())
    assert mirror == {"server": DOCKER_HUB_SERVER,
                      "host": {"http://198.18.0.9:5000": {"capabilities": ["pull", "resolve"]}}}


def test_containerd_reads_registry_hosts_from_the_node_dir() -> None:
    import tomllib

    from kubeplane.kubelet.cri.containerd import render_config

    config = tomllib.loads(render_config(ContainerdPaths(Path("/srv/node-1"))))
    registry = config["plugins"]["io.containerd.grpc.v1.cri"]["registry"]
    assert registry == {"config_path": "/srv/node-1/certs.d"}


def test_the_cli_names_match_the_registry_package() -> None:
    from kubeplane.cli.nodes import REGISTRY_COMPONENT
    from kubeplane.registry.server import COMPONENT

    assert REGISTRY_COMPONENT == COMPONENT
