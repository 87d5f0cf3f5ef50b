"""Image garbage collection: when it runs, how much it frees, which images it picks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest

from kubeplane.kubelet import imagegc
from kubeplane.kubelet.cri import CRIError, pb
from kubeplane.kubelet.imagegc import (
    Candidate,
    FsUsage,
    ImageGarbageCollector,
    ImageGCPolicy,
    amount_to_free,
    choose,
)

PAUSE = "localhost/pause:3.9"


def test_policy_validation_as_upstream() -> None:
    with pytest.raises(ValueError, match="can not be higher"):
        ImageGCPolicy(high_threshold_percent=50, low_threshold_percent=60)
    with pytest.raises(ValueError, match="range"):
        ImageGCPolicy(high_threshold_percent=101)
    ImageGCPolicy(high_threshold_percent=1, low_threshold_percent=0)


def test_amount_to_free() -> None:
    policy = ImageGCPolicy(high_threshold_percent=85, low_threshold_percent=80)
    assert amount_to_free(policy, FsUsage(1000, 200)) == 0  # 80% used: below high
    assert amount_to_free(policy, FsUsage(1000, 150)) == 50  # 85%: free down to 80%
    assert amount_to_free(policy, FsUsage(1000, 100)) == 100
    with pytest.raises(ValueError, match="invalid capacity 0"):
        amount_to_free(policy, FsUsage(0, 0))


def test_choose_least_recently_used_first_and_skips_young_images() -> None:
    candidates = [Candidate("new", 100, last_used=0, first_detected=990),
                  Candidate("old-used-late", 100, last_used=500, first_detected=10),
                  Candidate("never-used", 100, last_used=0, first_detected=20),
                  Candidate("used-early", 100, last_used=100, first_detected=5)]
    chosen, freed = choose(candidates, 150, now=1000, minimum_age=60)
    assert [c.id for c in chosen] == ["never-used", "used-early"] and freed == 200
    chosen, freed = choose(candidates, 10_000, now=1000, minimum_age=60)
    assert [c.id for c in chosen] == ["never-used", "used-early", "old-used-late"] and freed == 300


class FakeImages:
    """list/remove over an in-memory image store (the real CRI calls are covered by the integration test)."""

    def __init__(self, images: list[pb.Image], containers: list[pb.Container]) -> None:
        self.images = images
        self.containers = containers
        self.removed: list[str] = []

    async def list_images(self) -> list[pb.Image]:
        return list(self.images)

    async def list_containers(self) -> list[pb.Container]:
        return list(self.containers)

    async def remove_image(self, image: str) -> None:
        if image == "sha256:broken":
            raise CRIError("RemoveImage", grpc.StatusCode.UNKNOWN, "image is in use by a container")
        self.removed.append(image)
        self.images = [i for i in self.images if i.id != image]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, str, str, str]] = []

    def event(self, obj: Any, event_type: str, reason: str, message: str) -> None:
        self.events.append((obj, event_type, reason, message))


def image(name: str, size: int, pinned: bool = False) -> pb.Image:
    return pb.Image(id=f"sha256:{name}", repo_tags=[f"localhost/{name}:1"], size=size, pinned=pinned)


async def test_collector_frees_unused_images_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = [image("used", 100), image("unused-a", 300), image("unused-b", 200), image("pinned", 50, pinned=True),
              image("broken", 1),
              pb.Image(id="sha256:pause", repo_tags=[PAUSE], size=10)]
    containers = [pb.Container(id="c1", image=pb.ImageSpec(image="localhost/used:1"), image_ref="sha256:used")]
    cri = FakeImages(images, containers)
    recorder = Recorder()
    clock = [1000.0]
    collector = ImageGarbageCollector(ImageGCPolicy(1, 0, minimum_age=60), cri, tmp_path, PAUSE,  # type: ignore[arg-type]
                                      recorder, "node-a", clock=lambda: clock[0])  # type: ignore[arg-type]
    monkeypatch.setattr(imagegc, "fs_usage", lambda path: FsUsage(10_000, 9_800))  # 2% used, needs 200
    with pytest.raises(RuntimeError, match="only found 0 bytes eligible"):
        await collector.garbage_collect()  # everything was just detected: too young
    assert cri.removed == []
    assert recorder.events[-1][2] == "FreeDiskSpaceFailed"
    assert recorder.events[-1][0] == {"kind": "Node", "apiVersion": "v1", "name": "node-a", "uid": "node-a"}
    clock[0] += 61
    # Equally unused and old: the runtime's order decides, and one image is enough.
    assert await collector.garbage_collect() == 300
    assert cri.removed == ["sha256:unused-a"]
    monkeypatch.setattr(imagegc, "fs_usage", lambda path: FsUsage(10_000, 0))  # needs everything
    with pytest.raises(RuntimeError, match="Attempted to free 10000 bytes"):
        await collector.garbage_collect()
    assert sorted(cri.removed) == ["sha256:unused-a", "sha256:unused-b"]
    # A removal the runtime refuses is skipped (and not counted as freed).
    assert {i.id for i in cri.images} == {"sha256:used", "sha256:pinned", "sha256:pause", "sha256:broken"}


async def test_below_high_threshold_nothing_is_removed(tmp_path: Path) -> None:
    cri = FakeImages([image("unused", 100)], [])
    collector = ImageGarbageCollector(ImageGCPolicy(100, 100, minimum_age=0), cri, tmp_path, PAUSE)  # type: ignore[arg-type]
    assert await collector.garbage_collect() == 0  # a real statvfs of tmp_path: never 100% used here
    assert cri.removed == [] and "sha256:unused" in collector.records
