"""OCI image archives written by kubeplane.kubelet.images.oci: layout, digests, determinism."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from kubeplane.kubelet.images.oci import ImageConfig, Layer, host_architecture, write_image


def _sample_layer() -> Layer:
    layer = Layer()
    layer.add_file("/usr/bin/tool", b"#!/bin/sh\necho hi\n", mode=0o755)
    layer.add_symlink("bin/sh", "/usr/bin/tool")
    layer.add_dir("tmp", mode=0o1777)
    return layer


def _read(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
                for member in tar.getmembers() if member.isfile()}


def _blob(files: dict[str, bytes], digest: str) -> bytes:
    data = files["blobs/sha256/" + digest.removeprefix("sha256:")]
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    return data


def _json(data: bytes) -> Any:
    return json.loads(data)


def test_archive_is_an_oci_layout_with_consistent_digests(tmp_path: Path) -> None:
    image = write_image(tmp_path / "img.tar", "localhost/tool:2.1", _sample_layer(),
                        ImageConfig(entrypoint=("/usr/bin/tool",), cmd=("x",)))
    files = _read(image.archive)
    assert _json(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    (descriptor,) = _json(files["index.json"])["manifests"]
    assert descriptor["digest"] == image.manifest_digest
    assert descriptor["annotations"] == {"io.containerd.image.name": "localhost/tool:2.1",
                                         "org.opencontainers.image.ref.name": "2.1"}
    manifest = _json(_blob(files, descriptor["digest"]))
    assert manifest["config"]["digest"] == image.image_id
    config = _json(_blob(files, image.image_id))
    (layer_descriptor,) = manifest["layers"]
    layer_gz = _blob(files, layer_descriptor["digest"])
    assert layer_descriptor["size"] == len(layer_gz)
    layer_tar = gzip.decompress(layer_gz)
    # The config names the layer by the digest of its uncompressed tar (the diff ID).
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]}
    assert config["architecture"] == host_architecture() and config["os"] == "linux"
    assert config["config"]["Entrypoint"] == ["/usr/bin/tool"] and config["config"]["Cmd"] == ["x"]


def test_layer_adds_parent_directories_and_keeps_modes(tmp_path: Path) -> None:
    image = write_image(tmp_path / "img.tar", "localhost/tool:1", _sample_layer(), ImageConfig())
    files = _read(image.archive)
    manifest = _json(_blob(files, _json(files["index.json"])["manifests"][0]["digest"]))
    layer_tar = gzip.decompress(_blob(files, manifest["layers"][0]["digest"]))
    with tarfile.open(fileobj=io.BytesIO(layer_tar)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members) == ["usr", "usr/bin", "usr/bin/tool", "bin", "bin/sh", "tmp"]
    assert members["usr"].isdir() and members["usr/bin"].isdir()
    assert members["usr/bin/tool"].mode == 0o755 and members["usr/bin/tool"].uid == 0
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/usr/bin/tool"
    assert members["tmp"].mode == 0o1777
    assert {m.mtime for m in members.values()} == {0}


def test_same_inputs_give_identical_archives(tmp_path: Path) -> None:
    first = write_image(tmp_path / "a.tar", "localhost/tool:1", _sample_layer(), ImageConfig(cmd=("sh",)))
    second = write_image(tmp_path / "b.tar", "localhost/tool:1", _sample_layer(), ImageConfig(cmd=("sh",)))
    assert first.archive.read_bytes() == second.archive.read_bytes()
    assert (first.image_id, first.manifest_digest) == (second.image_id, second.manifest_digest)
    other = write_image(tmp_path / "c.tar", "localhost/tool:1", _sample_layer(), ImageConfig(cmd=("ls",)))
    assert other.image_id != first.image_id


def test_reference_without_tag_is_latest(tmp_path: Path) -> None:
    image = write_image(tmp_path / "img.tar", "registry.local:5000/team/tool", Layer(), ImageConfig())
    (descriptor,) = _json(_read(image.archive)["index.json"])["manifests"]
    assert descriptor["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    assert not (tmp_path / "img.tar.partial").exists()
