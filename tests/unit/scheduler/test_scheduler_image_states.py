"""Image spread in the snapshot: kept incrementally as nodes' image lists change."""

from __future__ import annotations

from typing import Any

from kubeplane.scheduler.framework.nodeinfo import NodeInfo, Snapshot


def node(name: str, *images: tuple[list[str], int]) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "status": {"images": [{"names": names, "sizeBytes": size} for names, size in images]}}


def spread(snapshot: Snapshot, node_name: str) -> dict[str, tuple[int, int]]:
    info = snapshot.get(node_name)
    assert info is not None
    return {name: (state.size, state.num_nodes) for name, state in info.images.items()}


def test_counts_nodes_per_image_name_once_per_node() -> None:
    snapshot = Snapshot.build([
        node("a", (["busybox:1.35", "busybox@sha256:1"], 100), (["busybox:1.35"], 100)),
        node("b", (["busybox:1.35"], 100), (["pause:3.9"], 10)),
        node("c"),
    ], [])
    assert spread(snapshot, "a") == {"busybox:1.35": (100, 2), "busybox@sha256:1": (100, 1)}
    assert spread(snapshot, "b") == {"busybox:1.35": (100, 2), "pause:3.9": (10, 1)}
    assert spread(snapshot, "c") == {}


def test_replacing_a_node_updates_every_node_sharing_its_images() -> None:
    snapshot = Snapshot.build([node("a", (["busybox:1.35"], 100)), node("b"), node("c", (["pause:3.9"], 10))], [])
    assert snapshot.replace(NodeInfo(node("b", (["busybox:1.35"], 100), (["nginx:1"], 50))))
    assert spread(snapshot, "a") == {"busybox:1.35": (100, 2)}
    assert spread(snapshot, "b") == {"busybox:1.35": (100, 2), "nginx:1": (50, 1)}

    # The node drops busybox and pause appears on it: counts follow on the other nodes too.
    assert snapshot.replace(NodeInfo(node("b", (["pause:3.9"], 10))))
    assert spread(snapshot, "a") == {"busybox:1.35": (100, 1)}
    assert spread(snapshot, "c") == {"pause:3.9": (10, 2)}

    # The last node with an image loses it; a node reporting it later starts counting from one.
    assert snapshot.replace(NodeInfo(node("a")))
    assert snapshot.replace(NodeInfo(node("c", (["busybox:1.35"], 120))))
    assert spread(snapshot, "c") == {"busybox:1.35": (120, 1)}
    assert spread(snapshot, "b") == {"pause:3.9": (10, 1)}


def test_unchanged_image_list_keeps_the_states() -> None:
    snapshot = Snapshot.build([node("a", (["busybox:1.35"], 100)), node("b", (["busybox:1.35"], 100))], [])
    before = snapshot.get("a")
    assert before is not None
    assert snapshot.replace(NodeInfo(node("a", (["busybox:1.35"], 100))))
    after = snapshot.get("a")
    assert after is not None and after.images is before.images
    assert spread(snapshot, "b") == {"busybox:1.35": (100, 2)}
