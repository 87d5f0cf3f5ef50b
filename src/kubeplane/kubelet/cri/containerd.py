"""One node's containerd: a private configuration, started inside the node's network namespace.

Every path containerd writes (root, state, sockets, runc root, CNI dirs) is under the node's own
base directory, so several nodes run side by side on one machine. containerd is started with
``nsenter --net=<netns>`` (never ``ip netns exec``: it remounts /sys privately and hides the v1
cgroup mounts runc needs), so the CNI plugins it runs wire pods into the node's namespace while
its unix socket stays reachable from the root namespace by path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from kubeplane.component import process
from kubeplane.kubelet.cri.client import CRIClient, CRIError

CONTAINERD_BINARY = "/usr/bin/containerd"
NSENTER_BINARY = "/usr/bin/nsenter"
RUNC_BINARY = "/usr/sbin/runc"
DEBIAN_CNI_PLUGINS = Path("/usr/lib/cni")
DEFAULT_SANDBOX_IMAGE = "localhost/pause:3.9"
COMPONENT = "containerd"
# A unix socket path must fit sockaddr_un.sun_path (108 bytes with the NUL); containerd also
# listens on "<socket>.ttrpc".
_MAX_SOCKET_PATH = 107 - len(".ttrpc")


@dataclass(frozen=True)
class ContainerdPaths:
    """Where one node's containerd keeps everything, all under ``base``."""

    base: Path

    @property
    def config(self) -> Path:
        return self.base / "config.toml"

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def socket(self) -> Path:
        return self.base / "containerd.sock"

    @property
    def runc_root(self) -> Path:
        return self.base / "runc"

    @property
    def cni_bin_dir(self) -> Path:
        return self.base / "cni-bin"

    @property
    def cni_conf_dir(self) -> Path:
        return self.base / "net.d"

    @property
    def registry_hosts_dir(self) -> Path:
        """containerd's ``config_path``: ``<registry host>/hosts.toml`` per registry (read at each pull)."""
        return self.base / "certs.d"

    @property
    def opt_dir(self) -> Path:
        return self.base / "opt"

    @property
    def log_dir(self) -> Path:
        return self.base / "logs"

    @property
    def run_dir(self) -> Path:
        return self.base / "run"

    @property
    def log_file(self) -> Path:
        return process.logfile_for(self.log_dir, COMPONENT)

    @property
    def pidfile(self) -> Path:
        return process.pidfile_for(self.run_dir, COMPONENT)


def _toml(value: str | bool | int) -> str:
    # TOML basic strings accept JSON's escapes, and booleans/integers are spelled alike.
    return json.dumps(value)


def render_config(paths: ContainerdPaths, sandbox_image: str = DEFAULT_SANDBOX_IMAGE) -> str:
    """containerd 1.6 configuration (version 2) for one node."""
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    return "\n".join([
        "version = 2",
        f"root = {_toml(str(paths.root))}",
        f"state = {_toml(str(paths.state))}",
        "",
        "[grpc]",
        f"  address = {_toml(str(paths.socket))}",
        "[ttrpc]",
        f"  address = {_toml(str(paths.socket) + '.ttrpc')}",
        "",
        cri,
        f"  sandbox_image = {_toml(sandbox_image)}",
        # Pod netns bind mounts live under our state dir, not in the machine-wide /var/run/netns.
        "  netns_mounts_under_state_dir = true",
        # These machines lack CAP_SYS_RESOURCE: the -998 CRI gives the pause container would fail
        # with EPERM in runc, so oom_score_adj is clamped to what we may set.
        "  restrict_oom_score_adj = true",
        "  disable_apparmor = true",
        # exec/attach/port-forward streams: loopback of the node's netns, any free port, so nodes
        # never compete for the default 10010.
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        f"  [{cri[1:-1]}.cni]",
        f"    bin_dir = {_toml(str(paths.cni_bin_dir))}",
        f"    conf_dir = {_toml(str(paths.cni_conf_dir))}",
        "    max_conf_num = 1",
        f"  [{cri[1:-1]}.registry]",
        f"    config_path = {_toml(str(paths.registry_hosts_dir))}",
        f"  [{cri[1:-1]}.containerd]",
        '    snapshotter = "overlayfs"',
        '    default_runtime_name = "runc"',
        f"    [{cri[1:-1]}.containerd.runtimes.runc]",
        '      runtime_type = "io.containerd.runc.v2"',
        f"      [{cri[1:-1]}.containerd.runtimes.runc.options]",
        f"        BinaryName = {_toml(RUNC_BINARY)}",
        f"        Root = {_toml(str(paths.runc_root))}",
        "        SystemdCgroup = false",
        "",
        '[plugins."io.containerd.internal.v1.opt"]',
        f"  path = {_toml(str(paths.opt_dir))}",
        "",
    ])


def prepare(paths: ContainerdPaths, sandbox_image: str = DEFAULT_SANDBOX_IMAGE,
            cni_plugins: Path = DEBIAN_CNI_PLUGINS) -> None:
    """Create the directories, write the config and link the CNI plugins into the node's bin dir
    (containerd 1.6 takes a single CNI bin_dir, and a node may add its own plugins there)."""
    if len(str(paths.socket)) > _MAX_SOCKET_PATH:
        raise ValueError(f"containerd socket path too long for a unix socket: {paths.socket}")
    for directory in (paths.root, paths.state, paths.runc_root, paths.cni_bin_dir, paths.cni_conf_dir,
                      paths.opt_dir, paths.log_dir, paths.run_dir, paths.registry_hosts_dir):
        directory.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(render_config(paths, sandbox_image))
    for plugin in sorted(cni_plugins.iterdir()):
        link = paths.cni_bin_dir / plugin.name
        if not link.exists():
            link.symlink_to(plugin)


def write_registry_hosts(paths: ContainerdPaths, registry_host: str, endpoints: list[str],
                         server: str | None = None) -> Path:
    """Make pulls of ``registry_host/...`` try ``endpoints`` (plain-HTTP URLs such as
    ``http://198.18.0.9:5000``) in order, then ``server`` if given (the registry's own address,
    for a mirror that falls back to the real registry when it lacks an image or is offline)."""
    # containerd 1.6 refuses a hosts.toml without a [host] table ("invalid `host` tree"), and
    # tries the server after the hosts: without a server only the endpoints are asked.
    lines = [f"server = {_toml(server)}", ""] if server else []
    for endpoint in endpoints:
        lines += [f"[host.{_toml(endpoint)}]", '  capabilities = ["pull", "resolve"]', ""]
    directory = paths.registry_hosts_dir / registry_host
    directory.mkdir(parents=True, exist_ok=True)
    hosts = directory / "hosts.toml"
    hosts.write_text("\n".join(lines))
    return hosts


def containerd_argv(paths: ContainerdPaths, netns_path: Path) -> list[str]:
    # nsenter with only --net execs containerd in place (no fork), so the recorded PID is containerd's.
    return [NSENTER_BINARY, f"--net={netns_path}", "--", CONTAINERD_BINARY, "--config", str(paths.config)]


async def _answers_version(socket: Path) -> None:
    while True:
        # A fresh channel per attempt: a channel whose first connect failed waits out gRPC's
        # reconnect backoff (1 s), which would triple containerd's start-up time.
        if socket.exists():
            async with CRIClient(socket, request_timeout=2.0) as cri:
                with contextlib.suppress(CRIError):
                    await cri.version()
                    return
        await asyncio.sleep(0.02)


class Containerd:
    """A node's containerd process: prepared, started in the node netns, stopped by its PID."""

    def __init__(self, base: Path, netns_path: Path, sandbox_image: str = DEFAULT_SANDBOX_IMAGE) -> None:
        self.paths = ContainerdPaths(base)
        self.netns_path = netns_path
        self.sandbox_image = sandbox_image

    @property
    def socket(self) -> Path:
        return self.paths.socket

    async def start(self, timeout: float = 30.0) -> process.ProcessRecord:
        """Start containerd detached and wait until its CRI socket answers Version.

        Raises process.ReadinessError (with the log tail) if it exits or is not ready in time."""
        if not self.netns_path.exists():
            raise FileNotFoundError(f"network namespace {self.netns_path} does not exist")
        prepare(self.paths, self.sandbox_image)
        record = process.start(COMPONENT, containerd_argv(self.paths, self.netns_path),
                               self.paths.log_dir, self.paths.run_dir)
        try:
            await process.wait_ready(record, _answers_version(self.paths.socket), self.paths.log_file, timeout)
        except BaseException:
            self.stop(grace=2.0)
            raise
        return record

    def is_running(self) -> bool:
        return process.is_running(self.paths.pidfile)

    def stop(self, grace: float = 10.0) -> bool:
        """SIGTERM the recorded containerd, SIGKILL after ``grace`` seconds. Running pods survive
        this (their shims are separate processes): remove them first, or see ``leftovers``."""
        return process.stop(self.paths.pidfile, grace)

    def remove_files(self) -> None:
        """Delete the base directory; only safe once ``leftovers.clean`` unmounted what is in it."""
        shutil.rmtree(self.paths.base, ignore_errors=True)


# Sandboxes removed at the same time: a removal mostly waits (containerd kills the containers, runs
# CNI DEL, unmounts the netns), so a few side by side go several times faster than one by one.
REMOVE_CONCURRENCY = 8


async def remove_all_sandboxes(cri: CRIClient, concurrency: int = REMOVE_CONCURRENCY) -> list[str]:
    """Stop and remove every pod sandbox (and so every container) the runtime knows, ``concurrency``
    at a time; returns their IDs. StopPodSandbox kills the containers at once (no grace period)."""
    slots = asyncio.Semaphore(concurrency)

    async def remove(sandbox_id: str) -> None:
        async with slots:
            await cri.stop_pod_sandbox(sandbox_id)
            await cri.remove_pod_sandbox(sandbox_id)

    ids = [sandbox.id for sandbox in await cri.list_pod_sandbox()]
    await asyncio.gather(*(remove(sandbox_id) for sandbox_id in ids))
    return ids
