"""Image garbage collection by disk thresholds, as upstream's ``realImageGCManager``.

Every period the collector lists the runtime's images and containers: an image is in use while any
container (running or exited) refers to it, and its ``lastUsed`` moves to now. When the filesystem
holding the runtime's images is at least ``--image-gc-high-threshold`` percent full, unused images
are removed (least recently used first, then oldest detected) until usage would be down to
``--image-gc-low-threshold``. Images seen for less than ``--image-minimum-gc-age``, pinned ones and
the sandbox (pause) image are never removed. Disk usage is statvfs of that filesystem (upstream asks
CRI's ImageFsInfo, which containerd answers from the same filesystem).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeplane.client import EventRecorder
from kubeplane.kubelet.cri import ContainerdPaths, CRIClient, CRIError, pb

log = logging.getLogger(__name__)

JSON = dict[str, Any]

IMAGE_GC_FAILED = "ImageGCFailed"
FREE_DISK_SPACE_FAILED = "FreeDiskSpaceFailed"
WARNING = "Warning"


@dataclass(frozen=True)
class ImageGCPolicy:
    high_threshold_percent: int = 85
    low_threshold_percent: int = 80
    minimum_age: float = 120.0  # seconds
    period: float = 300.0  # upstream's ImageGCPeriod (5m)

    def __post_init__(self) -> None:
        # Upstream's validation (NewImageGCManager).
        if not 0 <= self.high_threshold_percent <= 100:
            raise ValueError(f"invalid HighThresholdPercent {self.high_threshold_percent}, must be in range [0-100]")
        if not 0 <= self.low_threshold_percent <= 100:
            raise ValueError(f"invalid LowThresholdPercent {self.low_threshold_percent}, must be in range [0-100]")
        if self.low_threshold_percent > self.high_threshold_percent:
            raise ValueError(f"LowThresholdPercent {self.low_threshold_percent} can not be higher than "
                             f"HighThresholdPercent {self.high_threshold_percent}")


@dataclass(frozen=True)
class FsUsage:
    capacity: int
    available: int


def image_filesystem(runtime_endpoint: Path, fallback: Path) -> Path:
    """Where the runtime keeps its images: a kubeplane node's containerd root (beside its socket),
    else ``fallback`` (the kubelet's root directory, usually on the same filesystem)."""
    root = ContainerdPaths(runtime_endpoint.parent).root
    return root if root.is_dir() else fallback


def fs_usage(path: Path) -> FsUsage:
    stat = os.statvfs(path)
    return FsUsage(stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize)


@dataclass
class ImageRecord:
    first_detected: float
    last_used: float
    size: int


@dataclass(frozen=True)
class Candidate:
    id: str
    size: int
    last_used: float
    first_detected: float


def amount_to_free(policy: ImageGCPolicy, usage: FsUsage) -> int:
    """Bytes to free, 0 below the high threshold (upstream's arithmetic)."""
    if usage.capacity <= 0:
        raise ValueError(f"invalid capacity {usage.capacity} on image filesystem")
    used_percent = 100 - usage.available * 100 // usage.capacity
    if used_percent < policy.high_threshold_percent:
        return 0
    return usage.capacity * (100 - policy.low_threshold_percent) // 100 - usage.available


def choose(candidates: list[Candidate], needed: int, now: float, minimum_age: float) -> tuple[list[Candidate], int]:
    """The images to remove to free ``needed`` bytes, least recently used first, and the bytes they
    free (which may be less than needed)."""
    chosen, freed = [], 0
    for candidate in sorted(candidates, key=lambda c: (c.last_used, c.first_detected)):
        if freed >= needed:
            break
        if now - candidate.first_detected < minimum_age:
            continue  # too new: it may be about to be used
        chosen.append(candidate)
        freed += candidate.size
    return chosen, freed


def _names(image: pb.Image) -> set[str]:
    return {image.id, *image.repo_tags, *image.repo_digests}


class ImageGarbageCollector:
    def __init__(self, policy: ImageGCPolicy, cri: CRIClient, image_fs: Path, sandbox_image: str,
                 recorder: EventRecorder | None = None, node_name: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.cri = cri
        self.image_fs = image_fs
        self.sandbox_image = sandbox_image
        self.recorder = recorder
        self.node_name = node_name
        self.clock = clock
        self.records: dict[str, ImageRecord] = {}

    async def detect(self) -> tuple[list[pb.Image], set[str]]:
        """List images and record first-detected / last-used times; returns the images and the ids
        of those in use."""
        now = self.clock()
        images = await self.cri.list_images()
        used_refs: set[str] = set()
        for container in await self.cri.list_containers():
            used_refs.update(filter(None, (container.image_ref, container.image.image, container.image_id)))
        in_use = {image.id for image in images if _names(image) & used_refs}
        for image in images:
            record = self.records.setdefault(image.id, ImageRecord(now, 0.0, image.size))
            record.size = image.size
            if image.id in in_use:
                record.last_used = now
        present = {image.id for image in images}
        for gone in set(self.records) - present:
            del self.records[gone]
        return images, in_use

    async def free_space(self, needed: int) -> int:
        """Remove unused images until ``needed`` bytes are freed; returns the bytes freed."""
        images, in_use = await self.detect()
        candidates = [Candidate(image.id, image.size, self.records[image.id].last_used,
                                self.records[image.id].first_detected)
                      for image in images
                      if image.id not in in_use and not image.pinned and self.sandbox_image not in _names(image)]
        chosen, _ = choose(candidates, needed, self.clock(), self.policy.minimum_age)
        freed = 0
        for candidate in chosen:
            try:
                await self.cri.remove_image(candidate.id)
            except CRIError as error:
                log.warning("image gc: removing image %s: %s", candidate.id, error)
                continue
            log.info("image gc: removed image %s (%d bytes)", candidate.id, candidate.size)
            self.records.pop(candidate.id, None)
            freed += candidate.size
        return freed

    async def garbage_collect(self) -> int:
        """One pass; returns the bytes freed. Raises when the space could not be freed (the caller
        records ImageGCFailed, as upstream's kubelet does)."""
        usage = fs_usage(self.image_fs)
        needed = amount_to_free(self.policy, usage)
        if needed <= 0:
            await self.detect()  # keep lastUsed current even when nothing is due
            return 0
        log.info("image gc: disk usage on %s is over the high threshold (%d%%), freeing %d bytes",
                 self.image_fs, self.policy.high_threshold_percent, needed)
        freed = await self.free_space(needed)
        if freed < needed:
            message = (f"Failed to garbage collect required amount of images. Attempted to free {needed} bytes, "
                       f"but only found {freed} bytes eligible to free.")
            self._node_event(FREE_DISK_SPACE_FAILED, message)
            raise RuntimeError(message)
        return freed

    def _node_event(self, reason: str, message: str) -> None:
        if self.recorder is not None and self.node_name:
            # As upstream's nodeRef: the Node's uid is its name.
            ref = {"kind": "Node", "apiVersion": "v1", "name": self.node_name, "uid": self.node_name}
            self.recorder.event(ref, WARNING, reason, message)

    async def run(self) -> None:
        failed_before = False
        while True:
            try:
                await self.garbage_collect()
                failed_before = False
            except asyncio.CancelledError:
                raise
            except (CRIError, OSError, RuntimeError, ValueError) as error:
                log.warning("image garbage collection failed: %s", error)
                # As upstream's kubelet: an event only when it fails twice in a row.
                if failed_before:
                    self._node_event(IMAGE_GC_FAILED, str(error))
                failed_before = True
            await asyncio.sleep(self.policy.period)
