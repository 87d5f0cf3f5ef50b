"""Container log rotation, as upstream's ``containerLogManager``: every monitoring interval, the log
of each running container that reached ``--container-log-max-size`` is renamed to
``<log>.<timestamp>`` and the runtime is asked (CRI ReopenContainerLog) to write a new file at the
original path; rotated files other than the newest are gzip-compressed, and the oldest are removed
so that at most ``--container-log-max-files`` files (the live one included) remain. ``kubectl logs``
keeps reading the live file, which is where the runtime writes.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kubeplane.kubelet.cri import CRIClient, CRIError, pb

log = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"  # upstream's "20060102-150405"
COMPRESS_SUFFIX = ".gz"
TMP_SUFFIX = ".tmp"
RUNTIME_SERVICE = "RuntimeService"


@dataclass(frozen=True)
class LogRotationPolicy:
    max_size: int = 10 * 1024 * 1024  # --container-log-max-size (10Mi)
    max_files: int = 5  # --container-log-max-files
    monitor_interval: float = 10.0  # upstream's containerLogMonitorInterval

    def __post_init__(self) -> None:
        if self.max_files <= 1:
            raise ValueError(f"invalid MaxFiles {self.max_files}, must be > 1")
        if self.max_size < 0:
            raise ValueError(f"invalid MaxSize {self.max_size}, must be >= 0")


def rotated_logs(log_path: Path) -> list[Path]:
    """The log's rotated files (compressed or not), oldest first; half-written compressions
    (``.tmp``) are not among them."""
    found = [p for p in log_path.parent.glob(log_path.name + ".*") if not p.name.endswith(TMP_SUFFIX)]
    return sorted(found, key=lambda p: p.name)


def remove_stale_temporaries(log_path: Path) -> None:
    """Compressions interrupted by a kubelet restart leave ``<rotated>.gz.tmp`` behind."""
    for stale in log_path.parent.glob(log_path.name + ".*" + TMP_SUFFIX):
        stale.unlink(missing_ok=True)


def remove_excess(log_path: Path, max_files: int) -> list[Path]:
    """Remove the oldest rotated files so that, with the live log and the one about to be rotated,
    at most ``max_files`` remain (upstream keeps ``max_files - 2`` rotated ones before rotating)."""
    rotated = rotated_logs(log_path)
    excess = rotated[:max(len(rotated) - (max_files - 2), 0)]
    for path in excess:
        path.unlink(missing_ok=True)
    return excess


def compress(path: Path) -> Path:
    """gzip ``path`` into ``path.gz`` through a temporary file, then remove ``path``."""
    target = path.with_name(path.name + COMPRESS_SUFFIX)
    temporary = target.with_name(target.name + TMP_SUFFIX)
    with path.open("rb") as source, gzip.open(temporary, "wb") as sink:
        shutil.copyfileobj(source, sink)
    temporary.rename(target)
    path.unlink()
    return target


def compress_rotated(log_path: Path) -> None:
    """Compress every rotated file before the next rotation: the newest rotated file stays plain
    until then, as a reader may still have it open."""
    for path in rotated_logs(log_path):
        if not path.name.endswith(COMPRESS_SUFFIX):
            compress(path)


def rotated_name(log_path: Path, now: datetime) -> Path:
    return log_path.with_name(f"{log_path.name}.{now.astimezone(UTC).strftime(TIMESTAMP_FORMAT)}")


class LogRotator:
    def __init__(self, policy: LogRotationPolicy, cri: CRIClient,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.policy = policy
        self.cri = cri
        self.clock = clock

    async def reopen(self, container_id: str) -> None:
        await self.cri.reopen_container_log(container_id)

    async def rotate_if_needed(self, container_id: str, log_path: Path) -> bool:
        """Rotate one container's log if it reached the maximum size; True if it was rotated."""
        try:
            size = log_path.stat().st_size
        except FileNotFoundError:
            return False
        if size < self.policy.max_size:
            return False
        remove_stale_temporaries(log_path)
        remove_excess(log_path, self.policy.max_files)
        compress_rotated(log_path)
        target = rotated_name(log_path, self.clock())
        if target.exists() or target.with_name(target.name + COMPRESS_SUFFIX).exists():
            return False  # rotated within this second already; try again next interval
        os.rename(log_path, target)
        try:
            await self.reopen(container_id)
        except CRIError:
            # As upstream: without a new file the runtime would keep writing to the renamed one,
            # and the live path would be missing; put it back.
            os.rename(target, log_path)
            raise
        return True

    async def rotate_all(self) -> int:
        """One pass over the running containers; returns how many logs were rotated."""
        rotated = 0
        running = pb.ContainerFilter(state=pb.ContainerStateValue(state=pb.CONTAINER_RUNNING))
        for container in await self.cri.list_containers(running):
            try:
                status = (await self.cri.container_status(container.id)).status
                if status.state != pb.CONTAINER_RUNNING or not status.log_path:
                    continue
                if await self.rotate_if_needed(container.id, Path(status.log_path)):
                    rotated += 1
            except (CRIError, OSError) as error:
                log.warning("log rotation for container %s failed: %s", container.id, error)
        return rotated

    async def run(self) -> None:
        while True:
            try:
                await self.rotate_all()
            except asyncio.CancelledError:
                raise
            except CRIError as error:
                log.warning("container log rotation failed: %s", error)
            await asyncio.sleep(self.policy.monitor_interval)
