"""The cluster's registry process: Debian's ``docker-registry`` (distribution 2.8) serving plain
HTTP on port 5000 of its own instance in the cluster's VPC, a host that exists only for it (as an
ECR VPC endpoint has its own ENI). Nodes reach it through the VPC's router like any instance;
nothing listens on the machine's own network.

Its files live in ``<cluster dir>/registry/`` (config, blobs, ``registry.json`` saying where it
listens); its pidfile and log sit beside the control plane's, so stopping the cluster stops it by
its verified PID like every other component.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from kubeplane.component import process
from kubeplane.registry.netns import session_in_netns

DOCKER_REGISTRY_BINARY = "/usr/bin/docker-registry"
NSENTER_BINARY = "/usr/bin/nsenter"
# Image names under this host pull from the cluster's registry (nodes resolve it by containerd's
# hosts.toml, never by DNS): registry.kubeplane.local/team/app:1.
REGISTRY_HOST = "registry.kubeplane.local"
REGISTRY_PORT = 5000
COMPONENT = "registry"
INFO_FILE = "registry.json"


@dataclass(frozen=True)
class RegistryInfo:
    """Where a cluster's registry listens: what `image push` and the nodes' containerd need."""

    ip: str
    port: int
    netns: str  # the registry instance's namespace name (under /run/netns)
    instanceId: str

    @property
    def endpoint(self) -> str:
        return f"http://{self.ip}:{self.port}"


def load_registry_info(directory: Path) -> RegistryInfo | None:
    try:
        return RegistryInfo(**json.loads((directory / INFO_FILE).read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def render_config(data_dir: Path, ip: str, port: int = REGISTRY_PORT) -> str:
    """distribution's configuration (YAML; JSON is YAML). No auth: only the VPC can reach it."""
    return json.dumps({
        "version": 0.1,
        "log": {"level": "info", "fields": {"service": "registry"}},
        "storage": {"filesystem": {"rootdirectory": str(data_dir)}, "delete": {"enabled": True},
                    "cache": {"blobdescriptor": "inmemory"}},
        "http": {"addr": f"{ip}:{port}", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }, indent=2) + "\n"


class LocalRegistry:
    """One cluster's registry: ``start`` in an instance netns, ``stop`` by PID, ``remove_files``."""

    def __init__(self, directory: Path, log_dir: Path, run_dir: Path) -> None:
        self.directory = directory
        self.log_dir = log_dir
        self.run_dir = run_dir

    @property
    def config(self) -> Path:
        return self.directory / "config.yml"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def pidfile(self) -> Path:
        return process.pidfile_for(self.run_dir, COMPONENT)

    @property
    def log_file(self) -> Path:
        return process.logfile_for(self.log_dir, COMPONENT)

    def info(self) -> RegistryInfo | None:
        return load_registry_info(self.directory)

    async def start(self, info: RegistryInfo, timeout: float = 30.0) -> process.ProcessRecord:
        """Start docker-registry inside ``info.netns`` and wait until ``/v2/`` answers 200."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(render_config(self.data_dir, info.ip, info.port))
        (self.directory / INFO_FILE).write_text(json.dumps(asdict(info), indent=2) + "\n")
        # nsenter with only --net execs in place, so the recorded PID is docker-registry's own.
        argv = [NSENTER_BINARY, f"--net=/run/netns/{info.netns}", "--", DOCKER_REGISTRY_BINARY, "serve",
                str(self.config)]
        record = process.start(COMPONENT, argv, self.log_dir, self.run_dir)
        try:
            await process.wait_ready(record, _answers_v2(info), self.log_file, timeout)
        except BaseException:
            self.stop(grace=2.0)
            raise
        return record

    def is_running(self) -> bool:
        return process.is_running(self.pidfile)

    def stop(self, grace: float = 10.0) -> bool:
        return process.stop(self.pidfile, grace)

    def remove_files(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


async def _answers_v2(info: RegistryInfo) -> None:
    while True:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with (session_in_netns(info.netns, timeout=2.0) as session,
                        session.get(f"{info.endpoint}/v2/") as response):
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)
