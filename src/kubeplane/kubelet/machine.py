"""What the node is: CPU, memory, disk, identities, OS — read from the machine the kubelet runs on."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


@dataclass(frozen=True)
class MachineInfo:
    cpus: int
    memory_bytes: int
    disk_bytes: int
    machine_id: str
    boot_id: str
    system_uuid: str
    kernel_version: str
    os_image: str
    architecture: str


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _mem_total() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def read_machine_info(root_dir: Path) -> MachineInfo:
    root_dir.mkdir(parents=True, exist_ok=True)
    disk = os.statvfs(root_dir)
    return MachineInfo(
        cpus=os.cpu_count() or 1,
        memory_bytes=_mem_total(),
        disk_bytes=disk.f_blocks * disk.f_frsize,
        machine_id=_read("/etc/machine-id"),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        system_uuid=_read("/sys/class/dmi/id/product_uuid").lower(),
        kernel_version=platform.release(),
        os_image=_os_image(),
        architecture=_ARCHES.get(platform.machine(), platform.machine()),
    )
