"""The snapshot's nodes as columns, so plugins can filter and score every node of a cycle at once.

One row per node, in the snapshot's order. Plugins with a vector form (``filter_vector`` /
``score_vector``) compute a whole column in a few numpy operations instead of one Python call
per node; a plugin without one, or a pod its vector form does not cover, falls back to the
per-node calls, so the answers are the same either way (the unit tests compare both paths).

Values that are the same for many nodes and costly to compare (taint lists) are interned: a
node's row holds the index of its distinct taint list, and a plugin decides once per list.
Topology domains are interned the same way, per label key asked for: ``domains(key)`` gives each
row the index of its value of that label (-1: no such label), so per-domain counts are a bincount.
Which rows hold pods with a given label is indexed too (``rows_with_pods_matching``), so spreading
and anti-affinity count matching pods without walking every node.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from kubeplane.machinery import labels
from kubeplane.scheduler.framework.cycle_state import CycleState

if TYPE_CHECKING:  # nodeinfo builds NodeArrays for its Snapshot
    from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo

MAX_NODE_SCORE = 100  # interface.MAX_NODE_SCORE (interface imports nodeinfo, which imports this)

JSON = dict[str, Any]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
LabelPair = tuple[str, str]
# Operators whose requirement names one label value every matching pod must carry.
_SINGLE_VALUE_OPERATORS = (labels.IN, labels.EQUALS, labels.DOUBLE_EQUALS)


class NodeArrays:
    """Per-node columns of one snapshot, updated row by row as the snapshot's nodes are replaced."""

    def __init__(self, infos: Sequence[NodeInfo]) -> None:
        size = len(infos)
        # The snapshot's own list (replaced in place): domain columns and the pod label index are
        # built from it on first use.
        self._infos = infos
        # Topology key -> (per-row domain index or -1, the domain values, value -> index).
        self._domains: dict[str, tuple[IntArray, list[str], dict[str, int]]] = {}
        # (label key, value) of pods -> rows holding at least one such pod; None until first asked.
        self._label_rows: dict[LabelPair, set[int]] | None = None
        self._row_labels: list[set[LabelPair]] = []
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
        self.num_affinity_pods = np.zeros(size, dtype=np.int64)
        self.num_required_anti_affinity_pods = np.zeros(size, dtype=np.int64)
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
        self.num_affinity_pods[row] = info.num_affinity_pods
        self.num_required_anti_affinity_pods[row] = info.num_required_anti_affinity_pods
        spec = info.node.get("spec") or {}
        self.unschedulable[row] = bool(spec.get("unschedulable"))
        self.has_images[row] = bool((info.node.get("status") or {}).get("images"))
        self.taint_set[row] = self._taint_id(spec.get("taints") or [])
        node_labels = (info.node.get("metadata") or {}).get("labels") or {}
        for key, (column, values, ids) in self._domains.items():
            column[row] = self._domain_id(node_labels.get(key), values, ids)
        if self._label_rows is not None:
            self._index_pod_labels(row, info)

    # -- topology domains ------------------------------------------------------------------------

    def domains(self, key: str) -> tuple[IntArray, list[str]]:
        """Each row's domain index for the node label ``key`` (-1: the node lacks it), and the
        domain values those indexes stand for. Kept current from the first call on."""
        found = self._domains.get(key)
        if found is None:
            column = np.full(self.size, -1, dtype=np.int64)
            values: list[str] = []
            ids: dict[str, int] = {}
            for row, info in enumerate(self._infos):
                column[row] = self._domain_id(info.labels.get(key), values, ids)
            found = self._domains[key] = (column, values, ids)
        return found[0], found[1]

    def per_domain(self, key: str, counts: Mapping[LabelPair, int]) -> IntArray:
        """The entries of ``counts`` for ``key`` as a column indexed like ``domains(key)`` (0 where
        absent); walks ``counts``, not every domain, as counts are usually few."""
        self.domains(key)
        _, values, ids = self._domains[key]
        column = np.zeros(len(values), dtype=np.int64)
        for (counted_key, value), count in counts.items():
            if counted_key == key and (index := ids.get(value)) is not None:
                column[index] += count
        return column

    @staticmethod
    def _domain_id(value: str | None, values: list[str], ids: dict[str, int]) -> int:
        if value is None:
            return -1
        found = ids.get(value)
        if found is None:
            found = ids[value] = len(values)
            values.append(value)
        return found

    # -- pods by label ---------------------------------------------------------------------------

    def rows_with_pods_matching(self, selector: labels.LabelSelector) -> Iterable[int]:
        """Rows that may hold a pod ``selector`` matches (a superset; callers still match each pod),
        in row order: those with a pod carrying the label one of its requirements names, else every
        row with pods."""
        for requirement in selector.requirements:
            if requirement.operator in _SINGLE_VALUE_OPERATORS and len(requirement.values) == 1:
                return sorted(self._pod_label_index().get((requirement.key, requirement.values[0]), ()))
        return (int(row) for row in np.flatnonzero(self.num_pods))

    def rows_with_anti_affinity_against(self, pod_labels: Mapping[str, str]) -> list[int]:
        """Rows holding a pod whose required anti-affinity might select a pod with ``pod_labels``
        (a superset, in row order): its term requires one of these labels, or no single label."""
        index = self._pod_label_index()
        rows = set(index.get(_ANY_TERM, ()))
        for pair in pod_labels.items():
            rows.update(index.get(_term_key(pair), ()))
        return sorted(rows)

    def _pod_label_index(self) -> dict[LabelPair, set[int]]:
        if self._label_rows is None:
            self._label_rows = {}
            self._row_labels = [set() for _ in range(self.size)]
            for row, info in enumerate(self._infos):
                self._index_pod_labels(row, info)
        return self._label_rows

    def _index_pod_labels(self, row: int, info: NodeInfo) -> None:
        assert self._label_rows is not None
        now = {pair for pod in info.pods for pair in pod.labels.items()}
        # The same index also says which rows have anti-affinity terms requiring a label.
        now.update(_anti_affinity_keys(info))
        before = self._row_labels[row]
        for pair in before - now:
            rows = self._label_rows[pair]
            rows.discard(row)
            if not rows:
                del self._label_rows[pair]
        for pair in now - before:
            self._label_rows.setdefault(pair, set()).add(row)
        self._row_labels[row] = now

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


# Index keys for required anti-affinity terms, apart from pod labels (a label key cannot hold a
# NUL): a term requiring label (k, v) files its row under ("\0term", "k=v"); one requiring no
# single label under _ANY_TERM.
_TERM = "\0term"
_ANY_TERM: LabelPair = (_TERM, "")


def _term_key(pair: LabelPair) -> LabelPair:
    return (_TERM, f"{pair[0]}={pair[1]}")


def _anti_affinity_keys(info: NodeInfo) -> set[LabelPair]:
    keys: set[LabelPair] = set()
    for pod in info.pods_with_required_anti_affinity:
        for term in pod.affinity.required_anti_affinity:
            keys.add(next((_term_key((r.key, r.values[0])) for r in term.selector.requirements
                           if r.operator in _SINGLE_VALUE_OPERATORS and len(r.values) == 1), _ANY_TERM))
    return keys


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
