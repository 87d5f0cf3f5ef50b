"""The snapshot's nodes as columns, so plugins can filter and score every node of a cycle at once.

One row per node, in the snapshot's order. Plugins with a vector form (``filter_vector`` /
``score_vector``) compute a whole column in a few numpy operations instead of one Python call
per node; a plugin without one, or a pod its vector form does not cover, falls back to the
per-node calls, so the answers are the same either way (the unit tests compare both paths).

Values that are the same for many nodes and costly to compare (taint lists) are interned: a
node's row holds the index of its distinct taint list, and a plugin decides once per list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from kubeplane.scheduler.framework.cycle_state import CycleState

if TYPE_CHECKING:  # nodeinfo builds NodeArrays for its Snapshot
    from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo

MAX_NODE_SCORE = 100  # interface.MAX_NODE_SCORE (interface imports nodeinfo, which imports this)

JSON = dict[str, Any]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class NodeArrays:
    """Per-node columns of one snapshot, updated row by row as the snapshot's nodes are replaced."""

    def __init__(self, infos: Sequence[NodeInfo]) -> None:
        size = len(infos)
        self.size = size
        self.all = np.ones(size, dtype=bool)
        self.alloc_cpu = np.zeros(size, dtype=np.int64)
        self.alloc_memory = np.zeros(size, dtype=np.int64)
        self.alloc_ephemeral = np.zeros(size, dtype=np.int64)
        self.alloc_pods = np.zeros(size, dtype=np.int64)
        self.req_cpu = np.zeros(size, dtype=np.int64)
        self.req_memory = np.zeros(size, dtype=np.int64)
        self.req_ephemeral = np.zeros(size, dtype=np.int64)
        self.non_zero_cpu = np.zeros(size, dtype=np.int64)
        self.non_zero_memory = np.zeros(size, dtype=np.int64)
        self.num_pods = np.zeros(size, dtype=np.int64)
        self.unschedulable = np.zeros(size, dtype=bool)
        self.has_images = np.zeros(size, dtype=bool)
        self.taint_set = np.zeros(size, dtype=np.int64)
        # Distinct taint lists; taint_set[row] indexes this. Index 0 is "no taints".
        self.taint_sets: list[list[JSON]] = [[]]
        self._taint_ids: dict[str, int] = {"[]": 0}
        for row, info in enumerate(infos):
            self.set_row(row, info)

    def set_row(self, row: int, info: NodeInfo) -> None:
        allocatable = info.allocatable
        self.alloc_cpu[row] = allocatable.milli_cpu
        self.alloc_memory[row] = allocatable.memory
        self.alloc_ephemeral[row] = allocatable.ephemeral_storage
        self.alloc_pods[row] = allocatable.allowed_pods
        self.req_cpu[row] = info.requested.milli_cpu
        self.req_memory[row] = info.requested.memory
        self.req_ephemeral[row] = info.requested.ephemeral_storage
        self.non_zero_cpu[row] = info.non_zero_requested.milli_cpu
        self.non_zero_memory[row] = info.non_zero_requested.memory
        self.num_pods[row] = len(info.pods)
        spec = info.node.get("spec") or {}
        self.unschedulable[row] = bool(spec.get("unschedulable"))
        self.has_images[row] = bool((info.node.get("status") or {}).get("images"))
        self.taint_set[row] = self._taint_id(spec.get("taints") or [])

    def _taint_id(self, taints: list[JSON]) -> int:
        key = json.dumps(taints, sort_keys=True)
        found = self._taint_ids.get(key)
        if found is None:
            found = self._taint_ids[key] = len(self.taint_sets)
            self.taint_sets.append(taints)
        return found

    def per_taint_set(self, values: Sequence[Any], dtype: Any) -> npt.NDArray[Any]:
        """A per-node column from one value per distinct taint list."""
        return np.asarray(values, dtype=dtype)[self.taint_set]


@runtime_checkable
class VectorFilterPlugin(Protocol):
    name: str

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays) -> BoolArray | None:
        """True where ``filter`` would pass, for every row; None when this pod needs per-node calls."""


@runtime_checkable
class VectorScorePlugin(Protocol):
    name: str

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays, rows: IntArray) -> IntArray | None:
        """The *normalised* scores of ``rows`` (what score + normalize_score would give); None: per node."""


def default_normalize_vector(raw: IntArray, reverse: bool = False) -> IntArray:
    """``interface.default_normalize`` over a column."""
    highest = int(raw.max()) if raw.size else 0
    if highest == 0:
        return np.full(raw.shape, MAX_NODE_SCORE, dtype=np.int64) if reverse else raw.copy()
    scaled = MAX_NODE_SCORE * raw // highest
    return MAX_NODE_SCORE - scaled if reverse else scaled
