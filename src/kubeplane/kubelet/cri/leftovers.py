"""What a node's containerd leaves behind, found precisely and removed.

containerd removes a pod's containers, netns and mounts when the pod is removed through CRI, but:
pod-level cgroup directories (the kubelet's ``cgroup_parent``) are never removed; the libcni result
cache lives in the machine-wide /var/lib/cni/results; and if containerd stopped while pods ran (or
crashed), their shims, runc containers and mounts outlive it. Everything here is identified by
something only this node has — its private runc root, its socket path, its base directory, its
CNI network name, its cgroup parent — never by a process name.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from kubeplane.kubelet.cri.containerd import RUNC_BINARY, ContainerdPaths

CGROUP_ROOT = Path("/sys/fs/cgroup")
CNI_RESULTS_CACHE = Path("/var/lib/cni/results")
# containerd 1.6 hard-codes where shims put their sockets: /run/containerd/s/<sha256>.
SHIM_SOCKET_DIR = Path("/run/containerd/s")
_MNT_DETACH = 2


@dataclass
class Leftovers:
    """What a check found (or a clean-up removed); empty means nothing was left."""

    runc_containers: list[str] = field(default_factory=list)
    shim_pids: list[int] = field(default_factory=list)
    mounts: list[Path] = field(default_factory=list)
    cni_cache_files: list[Path] = field(default_factory=list)
    cgroups: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.runc_containers, self.shim_pids, self.mounts, self.cni_cache_files, self.cgroups))


# -- runc containers and shims ---------------------------------------------------------------------


def runc_containers(runc_root: Path) -> list[str]:
    """IDs of the containers runc knows under the node's private runc root (one dir per namespace)."""
    ids: list[str] = []
    if not runc_root.is_dir():
        return ids
    for namespace_root in sorted(p for p in runc_root.iterdir() if p.is_dir()):
        result = subprocess.run([RUNC_BINARY, "--root", str(namespace_root), "list", "-q"],
                                capture_output=True, text=True, check=False)
        ids.extend(f"{namespace_root.name}/{line}" for line in result.stdout.split() if line)
    return ids


def delete_runc_containers(runc_root: Path) -> list[str]:
    """Kill and delete every container under the runc root (runc also removes their cgroups)."""
    ids = runc_containers(runc_root)
    for qualified in ids:
        namespace, container_id = qualified.split("/", 1)
        subprocess.run([RUNC_BINARY, "--root", str(runc_root / namespace), "delete", "--force", container_id],
                       capture_output=True, check=False)
    return ids


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def _alive(pid: int) -> bool:
    """True while pid runs; a zombie waiting for its parent to reap it counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


@dataclass(frozen=True)
class Shim:
    pid: int
    namespace: str
    id: str


def _flag(argv: list[str], name: str) -> str | None:
    with contextlib.suppress(ValueError, IndexError):
        return argv[argv.index(name) + 1]
    return None


def shims_of(socket: Path) -> list[Shim]:
    """The shim processes serving the containerd at ``socket`` (each shim's argv names it)."""
    shims = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        argv = _cmdline(int(entry.name))
        if (argv and Path(argv[0]).name.startswith("containerd-shim")
                and _flag(argv, "-address") == str(socket)):
            shims.append(Shim(int(entry.name), _flag(argv, "-namespace") or "", _flag(argv, "-id") or ""))
    return shims


def shim_socket(socket: Path, namespace: str, shim_id: str) -> Path:
    # containerd 1.6 shim.SocketAddress: sha256 of filepath.Join(<containerd address>, ns, id).
    digest = hashlib.sha256(os.path.join(str(socket), namespace, shim_id).encode()).hexdigest()
    return SHIM_SOCKET_DIR / digest


def kill_shims(socket: Path, timeout: float = 5.0) -> list[int]:
    """SIGKILL the node's shims and remove the sockets they leave.

    A runc v2 shim of containerd 1.6 does not exit on SIGTERM (observed here); it ends when
    containerd sends it a Shutdown RPC, which a stopped containerd cannot. The containers are
    deleted before this runs, so there is nothing left for a shim to do gracefully."""
    shims = shims_of(socket)
    for shim in shims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(shim.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(shim.pid) for shim in shims):
        time.sleep(0.02)
    for shim in shims:
        shim_socket(socket, shim.namespace, shim.id).unlink(missing_ok=True)
    return [shim.pid for shim in shims]


# -- mounts ----------------------------------------------------------------------------------------


def _unescape_mountinfo(path: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), path)


def mounts_under(base: Path) -> list[Path]:
    """Mount points at or below ``base`` in our mount namespace, deepest first."""
    base_str = str(base.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = _unescape_mountinfo(line.split()[4])
        if mount_point == base_str or mount_point.startswith(base_str + "/"):
            found.append(Path(mount_point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def unmount_under(base: Path) -> list[Path]:
    """Lazily unmount everything below base (pod netns bind mounts, rootfs overlays, shm)."""
    libc = ctypes.CDLL(None, use_errno=True)
    found = mounts_under(base)
    for mount_point in found:
        if libc.umount2(str(mount_point).encode(), _MNT_DETACH) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"umount {mount_point}: {os.strerror(errno)}")
    return found


# -- CNI cache and cgroups -------------------------------------------------------------------------


def sandbox_ids(paths: ContainerdPaths) -> set[str]:
    """IDs of the sandboxes containerd has records of (kept in its root and state dirs) plus any
    container runc still runs: what the node's CNI cache entries are keyed by."""
    ids = {qualified.split("/", 1)[1] for qualified in runc_containers(paths.runc_root)}
    for top in (paths.root, paths.state):
        sandboxes = top / "io.containerd.grpc.v1.cri" / "sandboxes"
        if sandboxes.is_dir():
            ids.update(entry.name for entry in sandboxes.iterdir())
    return ids


def cni_cache_files(network_name: str | None, container_ids: set[str]) -> list[Path]:
    """libcni's cached results (``<network>-<container id>-<ifname>``) of the node's network, and of
    its containers on any network (containerd also attaches each sandbox to "cni-loopback")."""
    if not CNI_RESULTS_CACHE.is_dir():
        return []
    found = []
    for cached in CNI_RESULTS_CACHE.iterdir():
        named = network_name is not None and cached.name.startswith(f"{network_name}-")
        if named or any(f"-{container_id}-" in cached.name for container_id in container_ids):
            found.append(cached)
    return sorted(found)


def _hierarchies() -> list[Path]:
    # Every mounted hierarchy (v1 controllers, name=systemd, and the v2 'unified' one); symlinks
    # such as cpu -> cpu,cpuacct would only repeat a hierarchy.
    if not CGROUP_ROOT.is_dir():
        return []
    return sorted(p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink())


def _cgroup_relative(cgroup_parent: str) -> str:
    relative = cgroup_parent.strip("/")
    if not relative or ".." in Path(relative).parts:
        raise ValueError(f"refusing to touch cgroup {cgroup_parent!r}")
    return relative


def cgroup_dirs(cgroup_parent: str) -> list[Path]:
    """The directories of ``cgroup_parent`` (and everything below it) in every hierarchy."""
    relative = _cgroup_relative(cgroup_parent)
    found: list[Path] = []
    for hierarchy in _hierarchies():
        top = hierarchy / relative
        if top.is_dir():
            found.extend(Path(dirpath) for dirpath, _, _ in os.walk(top))
    return found


def remove_cgroups(cgroup_parent: str) -> list[Path]:
    """rmdir ``cgroup_parent`` and its children in every hierarchy, deepest first; returns what was
    removed. A cgroup that still holds a process cannot be removed and raises OSError (EBUSY)."""
    found = sorted(cgroup_dirs(cgroup_parent), key=lambda p: len(p.parts), reverse=True)
    for directory in found:
        with contextlib.suppress(FileNotFoundError):
            directory.rmdir()
    return found


# -- the whole node --------------------------------------------------------------------------------


def find(paths: ContainerdPaths, network_name: str | None = None, cgroup_parent: str | None = None) -> Leftovers:
    """What of this node is still around (expected empty once it is torn down)."""
    return Leftovers(
        runc_containers=runc_containers(paths.runc_root),
        shim_pids=[shim.pid for shim in shims_of(paths.socket)],
        mounts=mounts_under(paths.base) if paths.base.exists() else [],
        cni_cache_files=cni_cache_files(network_name, sandbox_ids(paths)),
        cgroups=cgroup_dirs(cgroup_parent) if cgroup_parent else [],
    )


def clean(paths: ContainerdPaths, network_name: str | None = None, cgroup_parent: str | None = None) -> Leftovers:
    """Remove what a stopped containerd left for this node; returns what had to be removed.

    Call it after containerd is stopped. Order matters: containers first (so cgroups empty and
    overlay mounts are no longer busy), then their shims, then mounts, cache and cgroups."""
    removed = Leftovers()
    cache_keys = sandbox_ids(paths)
    removed.runc_containers = delete_runc_containers(paths.runc_root)
    removed.shim_pids = kill_shims(paths.socket)
    if paths.base.exists():
        removed.mounts = unmount_under(paths.base)
    removed.cni_cache_files = cni_cache_files(network_name, cache_keys)
    for cached in removed.cni_cache_files:
        cached.unlink(missing_ok=True)
    if cgroup_parent:
        removed.cgroups = remove_cgroups(cgroup_parent)
    return removed
