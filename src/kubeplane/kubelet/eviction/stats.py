"""Memory working sets read from cgroup v1 (this machine's layout: see runtime-notes), as cAdvisor
computes them for upstream's kubelet: usage minus inactive file pages (the page cache the kernel
can drop at once is not pressure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MEMORY_HIERARCHY = Path("/sys/fs/cgroup/memory")


@dataclass(frozen=True)
class MemoryReader:
    """Reads working sets of cgroups named as the kubelet names them (``/kp-x/0/kubepods/...``)."""

    hierarchy: Path = MEMORY_HIERARCHY

    def _dir(self, cgroup: str) -> Path:
        return self.hierarchy / cgroup.strip("/")

    def working_set(self, cgroup: str) -> int | None:
        """Bytes in use that the kernel cannot simply drop; None when the cgroup does not exist
        (e.g. before the first pod of a QoS tier starts)."""
        directory = self._dir(cgroup)
        try:
            usage = int((directory / "memory.usage_in_bytes").read_text())
            stat = (directory / "memory.stat").read_text()
        except (OSError, ValueError):
            return None
        inactive_file = 0
        for line in stat.splitlines():
            key, _, value = line.partition(" ")
            # total_* covers the sub-cgroups too (use_hierarchy is always 1 on this kernel).
            if key == "total_inactive_file":
                inactive_file = int(value)
                break
        return max(usage - inactive_file, 0)

    def children(self, cgroup: str) -> list[str]:
        """The names of the cgroup's sub-cgroups (a pod's containers are named by container id)."""
        try:
            return sorted(entry.name for entry in self._dir(cgroup).iterdir() if entry.is_dir())
        except OSError:
            return []
