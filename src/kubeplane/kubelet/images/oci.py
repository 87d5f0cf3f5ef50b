"""Single-layer OCI images written with the standard library: a layer, a config, a manifest and an
index in an OCI image-layout tar that ``ctr images import`` accepts.

Every timestamp, owner and gzip header is fixed, so the same inputs give the same bytes and the
same digests: a rebuilt image is recognised as the image the runtime already has.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
# containerd names an imported image after this annotation of the index's manifest descriptor.
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_EPOCH = "1970-01-01T00:00:00Z"
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def host_architecture() -> str:
    """The OCI/Go name of this machine's architecture (what containerd matches images against)."""
    machine = platform.machine()
    return _GO_ARCH.get(machine, machine)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class Layer:
    """The entries of an uncompressed layer tar; parent directories are added on demand."""

    def __init__(self) -> None:
        self._entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
        self._seen: set[str] = set()

    def _add(self, path: str, kind: bytes, mode: int, data: bytes | None = None, target: str = "") -> None:
        name = str(PurePosixPath(path.lstrip("/")))
        for parent in reversed(PurePosixPath(name).parents[:-1]):
            if str(parent) not in self._seen:
                self.add_dir(str(parent))
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime, info.linkname = kind, mode, 0, target
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.size = len(data) if data is not None else 0
        self._entries.append((info, data))
        self._seen.add(name)

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        self._add(path, tarfile.DIRTYPE, mode)

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._add(path, tarfile.REGTYPE, mode, data)

    def add_symlink(self, path: str, target: str) -> None:
        self._add(path, tarfile.SYMTYPE, 0o777, target=target)

    def __contains__(self, path: str) -> bool:
        return str(PurePosixPath(path.lstrip("/"))) in self._seen

    def tar_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for info, data in self._entries:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return buffer.getvalue()


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an OCI image config."""

    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] = ()
    env: Sequence[str] = (DEFAULT_PATH_ENV,)
    working_dir: str = "/"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OCIImage:
    """A written image archive and the identities a runtime will report for it."""

    reference: str
    archive: Path
    image_id: str  # the config digest: what CRI ImageStatus reports as the image's id
    manifest_digest: str


def _tag_of(reference: str) -> str:
    last = reference.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _config_blob(diff_ids: Sequence[str], config: ImageConfig, history: Sequence[dict[str, Any]]) -> bytes:
    runtime: dict[str, Any] = {"Env": list(config.env), "WorkingDir": config.working_dir}
    if config.entrypoint:
        runtime["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        runtime["Cmd"] = list(config.cmd)
    if config.labels:
        runtime["Labels"] = dict(config.labels)
    return _canonical_json({
        "architecture": host_architecture(),
        "os": "linux",
        "created": _EPOCH,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": list(history),
    })


@dataclass(frozen=True)
class BaseLayers:
    """The layers of a base image that a new image stacks its own layer on (``FROM``): each one's
    manifest descriptor with its compressed blob, the config's diff_ids and history entries."""

    layers: tuple[tuple[dict[str, Any], bytes], ...] = ()
    diff_ids: tuple[str, ...] = ()
    history: tuple[dict[str, Any], ...] = ()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    archive.addfile(info, io.BytesIO(data))


def write_image(destination: Path, reference: str, layer: Layer, config: ImageConfig,
                history: str = "kubeplane", base: BaseLayers | None = None) -> OCIImage:
    """Write ``layer`` as the top layer of image ``reference`` (the only one unless ``base`` gives
    the layers under it) to an OCI image-layout tar."""
    base = base or BaseLayers()
    layer_tar = layer.tar_bytes()
    layer_blob = gzip.compress(layer_tar, compresslevel=6, mtime=0)
    config_blob = _config_blob([*base.diff_ids, _digest(layer_tar)], config,
                               [*base.history, {"created": _EPOCH, "created_by": history}])
    descriptors = [descriptor for descriptor, _ in base.layers]
    descriptors.append({"mediaType": MEDIA_LAYER, "digest": _digest(layer_blob), "size": len(layer_blob)})
    manifest_blob = _canonical_json({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": _digest(config_blob), "size": len(config_blob)},
        "layers": descriptors,
    })
    index_blob = _canonical_json({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{
            "mediaType": MEDIA_MANIFEST,
            "digest": _digest(manifest_blob),
            "size": len(manifest_blob),
            "platform": {"architecture": host_architecture(), "os": "linux"},
            "annotations": {ANNOTATION_CONTAINERD_NAME: reference, ANNOTATION_REF_NAME: _tag_of(reference)},
        }],
    })
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    blobs = {_digest(blob): blob for blob in (*(blob for _, blob in base.layers), layer_blob, config_blob,
                                              manifest_blob)}
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as archive:
        _add_bytes(archive, "oci-layout", _canonical_json({"imageLayoutVersion": "1.0.0"}))
        _add_bytes(archive, "index.json", index_blob)
        for digest, blob in blobs.items():
            _add_bytes(archive, "blobs/sha256/" + digest.removeprefix("sha256:"), blob)
    # Readers never see a half-written archive under the final name.
    os.replace(partial, destination)
    return OCIImage(reference, destination, _digest(config_blob), _digest(manifest_blob))
