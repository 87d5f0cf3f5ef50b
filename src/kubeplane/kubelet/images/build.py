"""``kubeplane image build``: an image from a directory, as one reproducible layer, optionally on
top of a base image archive (``FROM``).

The directory becomes the image's root (``DIR/app/run.sh`` is ``/app/run.sh``). Owners are
always root and times the epoch, so only names, modes, link targets and contents reach the
digests: building the same directory again gives the same image ID anywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeplane.kubelet.images.archive import ArchiveError, OCIArchive
from kubeplane.kubelet.images.builtin import BUSYBOX_REFERENCE, archive_name, build_busybox
from kubeplane.kubelet.images.oci import (
    DEFAULT_PATH_ENV,
    BaseLayers,
    ImageConfig,
    Layer,
    OCIImage,
    write_image,
)
from kubeplane.kubelet.images.reference import InvalidReference, parse_reference

# Names a manifest may use for our busybox (the public image's and the one nodes import).
BUSYBOX_ALIASES = frozenset({str(parse_reference(BUSYBOX_REFERENCE)), "docker.io/library/busybox:1.35"})


class BuildError(Exception):
    pass


@dataclass(frozen=True)
class BuildOptions:
    """Image config settings; ``None`` keeps the base image's value (or the default without one)."""

    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=list)  # KEY=VALUE, added to (or replacing) the base's
    working_dir: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def layer_from_directory(directory: Path) -> Layer:
    """Every directory, regular file and symlink under ``directory``, in sorted order. Devices,
    sockets and fifos have no place in an image built by a user and are refused."""
    if not directory.is_dir():
        raise BuildError(f"{directory} is not a directory")
    layer = Layer()

    def visit(current: Path, prefix: str) -> None:
        for entry in sorted(os.scandir(current), key=lambda e: e.name):
            path = f"{prefix}{entry.name}"
            info = entry.stat(follow_symlinks=False)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                layer.add_symlink(path, os.readlink(entry.path))
            elif stat.S_ISDIR(info.st_mode):
                layer.add_dir(path, mode)
                visit(Path(entry.path), f"{path}/")
            elif stat.S_ISREG(info.st_mode):
                layer.add_file(path, Path(entry.path).read_bytes(), mode)
            else:
                raise BuildError(f"{entry.path}: only directories, files and symlinks can go into an image")

    visit(directory, "")
    return layer


def resolve_archive(name: str, build_dir: Path) -> Path:
    """An image archive given as a path, or by the reference of an image built into ``build_dir``
    (our busybox under any of its names is built on demand)."""
    candidate = Path(name)
    if candidate.is_file():
        return candidate
    try:
        normalized = str(parse_reference(name))
    except InvalidReference as err:
        raise BuildError(f"{name}: neither an archive nor an image reference ({err})") from err
    if normalized in BUSYBOX_ALIASES:
        return build_busybox(build_dir).archive
    for reference in (name, normalized):
        archive = build_dir / archive_name(reference)
        if archive.is_file():
            return archive
    raise BuildError(f"no archive {name} and no image {name} built in {build_dir}")


@dataclass(frozen=True)
class _Base:
    layers: BaseLayers
    runtime: dict[str, Any]


def _load_base(archive_path: Path) -> _Base:
    try:
        with OCIArchive(archive_path) as archive:
            image = archive.image()
            config = json.loads(image.config)
            layers = tuple((descriptor, archive.blob(descriptor["digest"])) for descriptor in image.layer_descriptors)
    except (ArchiveError, KeyError, ValueError) as err:
        raise BuildError(f"base image {archive_path}: {err}") from err
    for descriptor, _ in layers:
        if not descriptor.get("mediaType", "").endswith("gzip"):
            raise BuildError(f"base image {archive_path}: layer media type {descriptor.get('mediaType')} "
                             "is not supported (gzip layers only)")
    diff_ids = tuple(config.get("rootfs", {}).get("diff_ids", []))
    if len(diff_ids) != len(layers):
        # A config without diff_ids (hand-written archives): compute them from the layers.
        diff_ids = tuple("sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest() for _, blob in layers)
    history = tuple(config.get("history", []))
    return _Base(BaseLayers(layers, diff_ids, history), config.get("config") or {})


def _merge_env(base: list[str], extra: list[str]) -> list[str]:
    merged = {item.split("=", 1)[0]: item for item in base}
    for item in extra:
        if "=" not in item:
            raise BuildError(f"--env {item!r}: expected KEY=VALUE")
        merged[item.split("=", 1)[0]] = item
    return list(merged.values())


def image_config(options: BuildOptions, base_runtime: dict[str, Any] | None) -> ImageConfig:
    """Docker's rules: a new entrypoint resets the base's cmd; unset fields inherit the base's."""
    base = base_runtime or {}
    entrypoint = options.entrypoint if options.entrypoint is not None else list(base.get("Entrypoint") or [])
    if options.cmd is not None:
        cmd = options.cmd
    elif options.entrypoint is not None:
        cmd = []
    else:
        cmd = list(base.get("Cmd") or [])
    env = _merge_env(list(base.get("Env") or [DEFAULT_PATH_ENV]), options.env)
    working_dir = options.working_dir or base.get("WorkingDir") or "/"
    labels = {**(base.get("Labels") or {}), **options.labels}
    return ImageConfig(tuple(entrypoint), tuple(cmd), tuple(env), working_dir, labels)


def build_image(directory: Path, reference: str, destination: Path, options: BuildOptions | None = None,
                base_archive: Path | None = None) -> OCIImage:
    """Build ``directory`` into image ``reference`` at ``destination`` (on ``base_archive``'s layers)."""
    options = options or BuildOptions()
    try:
        parse_reference(reference)
    except InvalidReference as err:
        raise BuildError(str(err)) from err
    layer = layer_from_directory(directory)
    base = _load_base(base_archive) if base_archive is not None else None
    config = image_config(options, base.runtime if base else None)
    # The history names the directory by its contents' digest, never its path: paths differ per machine.
    content = hashlib.sha256(layer.tar_bytes()).hexdigest()[:12]
    return write_image(destination, reference, layer, config, history=f"kubeplane image build (layer {content})",
                       base=base.layers if base else None)
