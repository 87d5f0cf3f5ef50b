"""A pod's volumes on the node: directories under the pod's dir that CRI bind-mounts.

Layout as upstream: ``<pod dir>/volumes/kubernetes.io~<plugin>/<volume name>``. configMap,
secret, downwardAPI and projected volumes are written with the atomic writer, so calling
``set_up`` again refreshes them when their sources changed. emptyDir with ``medium: Memory`` is
a tmpfs mount that ``tear_down`` unmounts.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from kubeplane.kubelet.atomicwriter import FileProjection, write_atomically
from kubeplane.kubelet.downward import DownwardAPIError, field_value, resource_value
from kubeplane.kubelet.envvars import ObjectSource
from kubeplane.kubelet.qos import whole

JSON = dict[str, Any]

DEFAULT_MODE = 0o644
DEFAULT_TOKEN_EXPIRATION = 3600
_MNT_DETACH = 2
PLUGIN_DIRS = {
    "emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}


class VolumeError(Exception):
    """A volume cannot be set up now (upstream's FailedMount); the pod stays ContainerCreating."""


class TokenSource(Protocol):
    async def service_account_token(self, pod: JSON, audience: str, expiration_seconds: int) -> str: ...


class VolumeSources(ObjectSource, TokenSource, Protocol):
    pass


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount_tmpfs(path: Path, size: int | None) -> None:
    options = f"mode=0777,size={size}" if size else "mode=0777"
    if _libc().mount(b"tmpfs", str(path).encode(), b"tmpfs", 0, options.encode()) != 0:
        errno = ctypes.get_errno()
        raise VolumeError(f"mount tmpfs on {path}: {os.strerror(errno)}")


def _is_mount(path: Path) -> bool:
    target = str(path.resolve())
    with open("/proc/self/mountinfo") as mountinfo:
        return any(line.split()[4] == target for line in mountinfo)


def _items(values: dict[str, bytes], items: list[JSON] | None, default_mode: int, optional: bool,
           what: str) -> dict[str, FileProjection]:
    if not items:
        return {key: FileProjection(value, default_mode) for key, value in values.items()}
    out = {}
    for item in items:
        key = str(item.get("key"))
        if key not in values:
            if optional:
                continue
            raise VolumeError(f"configmap references non-existent config key: {key}" if what == "configmap"
                              else f"references non-existent secret key: {key}")
        out[str(item.get("path") or key)] = FileProjection(values[key], int(item.get("mode") or default_mode))
    return out


async def _configmap_files(source: ObjectSource, namespace: str, spec: JSON, default_mode: int) -> dict[str, FileProjection]:
    name = str(spec.get("name") or "")
    configmap = await source.configmap(namespace, name)
    if configmap is None:
        if spec.get("optional"):
            return {}
        raise VolumeError(f'configmap "{name}" not found')
    values = {key: str(value).encode() for key, value in (configmap.get("data") or {}).items()}
    values.update({key: base64.b64decode(value) for key, value in (configmap.get("binaryData") or {}).items()})
    return _items(values, spec.get("items"), default_mode, bool(spec.get("optional")), "configmap")


async def _secret_files(source: ObjectSource, namespace: str, spec: JSON, default_mode: int) -> dict[str, FileProjection]:
    name = str(spec.get("secretName") or spec.get("name") or "")
    secret = await source.secret(namespace, name)
    if secret is None:
        if spec.get("optional"):
            return {}
        raise VolumeError(f'secret "{name}" not found')
    values = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
    return _items(values, spec.get("items"), default_mode, bool(spec.get("optional")), "secret")


def _downward_files(pod: JSON, spec: JSON, default_mode: int, allocatable: JSON) -> dict[str, FileProjection]:
    out = {}
    first_container = str(((pod.get("spec") or {}).get("containers") or [{}])[0].get("name", ""))
    for item in spec.get("items") or []:
        try:
            if item.get("fieldRef"):
                value = field_value(pod, str(item["fieldRef"].get("fieldPath") or ""))
            else:
                value = resource_value(pod, item.get("resourceFieldRef") or {}, first_container, allocatable)
        except DownwardAPIError as error:
            raise VolumeError(str(error)) from None
        out[str(item["path"])] = FileProjection(value.encode(), int(item.get("mode") or default_mode))
    return out


async def _projected_files(pod: JSON, sources: VolumeSources, spec: JSON, default_mode: int,
                           allocatable: JSON) -> dict[str, FileProjection]:
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    out: dict[str, FileProjection] = {}
    for projection in spec.get("sources") or []:
        if projection.get("configMap") is not None:
            out.update(await _configmap_files(sources, namespace, projection["configMap"], default_mode))
        elif projection.get("secret") is not None:
            out.update(await _secret_files(sources, namespace, projection["secret"], default_mode))
        elif projection.get("downwardAPI") is not None:
            out.update(_downward_files(pod, projection["downwardAPI"], default_mode, allocatable))
        elif projection.get("serviceAccountToken") is not None:
            token_spec = projection["serviceAccountToken"]
            token = await sources.service_account_token(
                pod, str(token_spec.get("audience") or ""),
                int(token_spec.get("expirationSeconds") or DEFAULT_TOKEN_EXPIRATION))
            out[str(token_spec.get("path") or "token")] = FileProjection(token.encode(), default_mode)
    return out


def _host_path(spec: JSON) -> Path:
    path = Path(str(spec.get("path") or "/"))
    kind = str(spec.get("type") or "")
    if kind == "DirectoryOrCreate":
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
    elif kind == "FileOrCreate" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o644)
    elif kind == "Directory" and not path.is_dir():
        raise VolumeError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "File" and not path.is_file():
        raise VolumeError(f"hostPath type check failed: {path} is not a file")
    elif kind == "Socket" and not path.is_socket():
        raise VolumeError(f"hostPath type check failed: {path} is not a socket file")
    return path


async def set_up(pod: JSON, pod_dir: Path, sources: VolumeSources, allocatable: JSON) -> dict[str, Path]:
    """Create or refresh every volume of the pod; returns volume name -> host path."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    paths: dict[str, Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = str(volume["name"])
        plugin = next((key for key in (*PLUGIN_DIRS, "hostPath") if volume.get(key) is not None), None)
        if plugin is None:
            continue  # persistent volumes and friends are not served by this kubelet
        spec = volume[plugin]
        if plugin == "hostPath":
            paths[name] = _host_path(spec)
            continue
        target = pod_dir / "volumes" / PLUGIN_DIRS[plugin] / name
        mode = int(spec.get("defaultMode") or DEFAULT_MODE)
        try:
            if plugin == "emptyDir":
                if not target.is_dir():
                    target.mkdir(mode=0o777, parents=True)
                    target.chmod(0o777)
                if spec.get("medium") == "Memory" and not _is_mount(target):
                    size = whole(spec["sizeLimit"]) if spec.get("sizeLimit") else None
                    _mount_tmpfs(target, size)
            elif plugin == "configMap":
                write_atomically(target, await _configmap_files(sources, namespace, spec, mode))
            elif plugin == "secret":
                write_atomically(target, await _secret_files(sources, namespace, spec, mode))
            elif plugin == "downwardAPI":
                write_atomically(target, _downward_files(pod, spec, mode, allocatable))
            else:
                write_atomically(target, await _projected_files(pod, sources, spec, mode, allocatable))
        except VolumeError as error:
            raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {error}') from None
        paths[name] = target
    return paths


def tear_down(pod_dir: Path) -> None:
    """Unmount the pod's tmpfs volumes and remove its directory."""
    empty_dirs = pod_dir / "volumes" / PLUGIN_DIRS["emptyDir"]
    if empty_dirs.is_dir():
        for volume in empty_dirs.iterdir():
            if _is_mount(volume) and _libc().umount2(str(volume).encode(), _MNT_DETACH) != 0:
                errno = ctypes.get_errno()
                raise OSError(errno, f"umount {volume}: {os.strerror(errno)}")
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(pod_dir)
