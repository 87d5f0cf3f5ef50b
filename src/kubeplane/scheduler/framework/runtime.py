"""A profile's plugins, instantiated and run extension point by extension point."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from kubeplane.scheduler.framework.config import EXTENSION_POINTS, ConfigError, Profile
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    BindPlugin,
    FilterPlugin,
    Handle,
    NodeScore,
    NormalizeScorePlugin,
    PermitPlugin,
    Plugin,
    PostFilterPlugin,
    PreBindPlugin,
    PreEnqueuePlugin,
    PreFilterExtensions,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    QueuedPodInfo,
    QueueSortPlugin,
    ReservePlugin,
    ScorePlugin,
)
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import Registry
from kubeplane.scheduler.framework.status import Code, Status
from kubeplane.scheduler.framework.vector import BoolArray, IntArray, NodeArrays

log = logging.getLogger(__name__)

_PROTOCOLS: dict[str, type[Any]] = {
    "preEnqueue": PreEnqueuePlugin, "queueSort": QueueSortPlugin, "preFilter": PreFilterPlugin,
    "filter": FilterPlugin, "postFilter": PostFilterPlugin, "preScore": PreScorePlugin, "score": ScorePlugin,
    "reserve": ReservePlugin, "permit": PermitPlugin, "preBind": PreBindPlugin, "bind": BindPlugin,
}


class Framework:
    def __init__(self, profile: Profile, registry: Registry, handle: Handle) -> None:
        self.profile = profile
        self.handle = handle
        self.plugins: dict[str, Plugin] = {}
        for name in sorted(profile.plugin_names()):
            factory = registry.get(name)
            if factory is None:
                raise ConfigError(f"profile {profile.scheduler_name!r}: unknown plugin {name!r}")
            self.plugins[name] = factory(profile.plugin_args.get(name, {}), handle)
        self.points: dict[str, list[Any]] = {}
        self.score_weights: dict[str, int] = {}
        for point in EXTENSION_POINTS:
            serves = {name for name, plugin in self.plugins.items() if isinstance(plugin, _PROTOCOLS[point])}
            refs = profile.plugins_for(point, serves)
            unfit = [ref.name for ref in refs if ref.name not in serves]
            if unfit:
                raise ConfigError(f"plugin(s) {unfit} do not implement the {point} extension point")
            self.points[point] = [self.plugins[ref.name] for ref in refs]
            if point == "score":
                self.score_weights = {ref.name: ref.weight or 1 for ref in refs}
        # Plugins that dry-run the framework itself (DefaultPreemption) get a reference to it.
        for plugin in self.plugins.values():
            set_framework = getattr(plugin, "set_framework", None)
            if callable(set_framework):
                set_framework(self)
        self.pre_filter_extensions: list[PreFilterExtensions] = [
            p for p in self.points["preFilter"] if isinstance(p, PreFilterExtensions)]
        if len(self.points["queueSort"]) != 1:
            raise ConfigError(f"profile {profile.scheduler_name!r} needs exactly one queueSort plugin")
        if not self.points["bind"]:
            raise ConfigError(f"profile {profile.scheduler_name!r} needs at least one bind plugin")

    @property
    def scheduler_name(self) -> str:
        return self.profile.scheduler_name

    def has_post_filter(self) -> bool:
        return bool(self.points["postFilter"])

    # -- queueing --------------------------------------------------------------------------------

    def queue_less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        sorter: QueueSortPlugin = self.points["queueSort"][0]
        return sorter.less(a, b)

    def run_pre_enqueue(self, pod: PodInfo) -> Status:
        for plugin in self.points["preEnqueue"]:
            status = plugin.pre_enqueue(pod)
            if not status.ok:
                return status.with_plugin(plugin.name)
        return Status()

    # -- scheduling cycle --------------------------------------------------------------------------

    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status]:
        merged: PreFilterResult | None = None
        for plugin in self.points["preFilter"]:
            result, status = plugin.pre_filter(state, pod)
            if status.code == Code.SKIP:
                state.skip_filter_plugins.add(plugin.name)
                continue
            if not status.ok:
                return None, status.with_plugin(plugin.name)
            if result is not None and result.node_names is not None:
                names = result.node_names if merged is None or merged.node_names is None \
                    else merged.node_names & result.node_names
                merged = PreFilterResult(names)
        return merged, Status()

    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """The first rejection decides: later filters would only repeat why the node is out.
        (Its own loop: it runs for every node of every cycle, so it avoids a call per plugin.)"""
        for plugin in self.points["filter"]:
            if plugin.name in state.skip_filter_plugins:
                continue
            status = plugin.filter(state, pod, node)
            if not status.ok:
                return status.with_plugin(plugin.name)
        return Status()

    def run_filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays) -> tuple[BoolArray, list[Any]]:
        """The verdict of every filter with a vector form, for all nodes at once (True: passes them
        all), and the filter plugins that must still run node by node, in profile order."""
        passes = nodes.all.copy()
        per_node: list[Any] = []
        for plugin in self.points["filter"]:
            if plugin.name in state.skip_filter_plugins:
                continue
            vector_form = getattr(plugin, "filter_vector", None)
            verdict = vector_form(state, pod, nodes) if vector_form is not None else None
            if verdict is None:
                per_node.append(plugin)
            else:
                passes &= verdict
        return passes, per_node

    def run_filter_plugins(self, state: CycleState, pod: PodInfo, node: NodeInfo, plugins: list[Any]) -> Status:
        """``run_filter`` restricted to ``plugins`` (those ``run_filter_vector`` left per node)."""
        for plugin in plugins:
            status = plugin.filter(state, pod, node)
            if not status.ok:
                return status.with_plugin(plugin.name)
        return Status()

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo,
                                         node: NodeInfo) -> Status:
        return _first_rejection(state, self.pre_filter_extensions,
                                lambda plugin: plugin.add_pod(state, pod, to_add, node))

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo,
                                            node: NodeInfo) -> Status:
        return _first_rejection(state, self.pre_filter_extensions,
                                lambda plugin: plugin.remove_pod(state, pod, to_remove, node))

    def run_filter_with_nominated_pods(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Filter as if the pods nominated to this node (of at least the pod's priority) were there.

        Upstream runs the filters twice: with those pods (so the room preemption made for them is
        not taken), and without them (so an affinity that only they would satisfy does not count).
        """
        nominated = [p for p in self.handle.nominated_pods_for_node(node.name)
                     if p.priority >= pod.priority and p.key != pod.key]
        if not nominated:
            return self.run_filter(state, pod, node)
        state_with, node_with = state.clone(), node.clone()
        for other in nominated:
            node_with.add_pod(other)
            status = self.run_pre_filter_extension_add_pod(state_with, pod, other, node_with)
            if not status.ok:
                return status
        status = self.run_filter(state_with, pod, node_with)
        if not status.ok:
            return status
        return self.run_filter(state, pod, node)

    async def run_post_filter(self, state: CycleState, pod: PodInfo,
                              statuses: Mapping[str, Status]) -> tuple[str | None, Status]:
        result = Status.unschedulable()
        for plugin in self.points["postFilter"]:
            nominated, status = await plugin.post_filter(state, pod, statuses)
            if status.ok:
                return nominated, status.with_plugin(plugin.name)
            if status.code == Code.ERROR:
                return None, status.with_plugin(plugin.name)
            result = status.with_plugin(plugin.name)
        return None, result

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        for plugin in self.points["preScore"]:
            status = plugin.pre_score(state, pod, nodes)
            if status.code == Code.SKIP:
                state.skip_score_plugins.add(plugin.name)
            elif not status.ok:
                return status.with_plugin(plugin.name)
        return Status()

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], arrays: NodeArrays | None = None,
                  rows: IntArray | None = None) -> tuple[list[NodeScore], Status]:
        """Each plugin scores every node, normalises, and is weighted; returns the summed scores.

        Given the snapshot's ``arrays`` and the ``rows`` of ``nodes`` in them, plugins with a
        vector form score all the nodes at once; the others still go node by node.
        """
        if arrays is not None and rows is not None:
            return self._run_score_vector(state, pod, nodes, arrays, rows)
        totals = [NodeScore(node.name, 0) for node in nodes]
        for plugin in self.points["score"]:
            if plugin.name in state.skip_score_plugins:
                continue
            scores, status = self._score_per_node(state, pod, plugin, nodes)
            if not status.ok:
                return [], status
            weight = self.score_weights[plugin.name]
            for total, score in zip(totals, scores, strict=True):
                if not MIN_NODE_SCORE <= score.score <= MAX_NODE_SCORE:
                    return [], Status.error(f"plugin {plugin.name} returned an invalid score {score.score}")
                total.score += score.score * weight
        return totals, Status()

    def _run_score_vector(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], arrays: NodeArrays,
                          rows: IntArray) -> tuple[list[NodeScore], Status]:
        totals, status = self.run_score_totals(state, pod, nodes, arrays, rows)
        if not status.ok:
            return [], status
        return [NodeScore(node.name, int(total)) for node, total in zip(nodes, totals.tolist(), strict=True)], Status()

    def run_score_totals(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], arrays: NodeArrays,
                         rows: IntArray) -> tuple[IntArray, Status]:
        """``run_score``'s sums as one array in the order of ``nodes`` (no NodeScore per node: the
        scheduling cycle only needs the best, and 500 objects per pod showed in profiles)."""
        totals = np.zeros(len(nodes), dtype=np.int64)
        for plugin in self.points["score"]:
            if plugin.name in state.skip_score_plugins:
                continue
            vector_form = getattr(plugin, "score_vector", None)
            column = vector_form(state, pod, arrays, rows) if vector_form is not None else None
            if column is None:
                scores, status = self._score_per_node(state, pod, plugin, nodes)
                if not status.ok:
                    return totals, status
                column = np.fromiter((s.score for s in scores), dtype=np.int64, count=len(scores))
            if column.size and (column.min() < MIN_NODE_SCORE or column.max() > MAX_NODE_SCORE):
                bad = column[(column < MIN_NODE_SCORE) | (column > MAX_NODE_SCORE)][0]
                return totals, Status.error(f"plugin {plugin.name} returned an invalid score {bad}")
            totals += column * self.score_weights[plugin.name]
        return totals, Status()

    def _score_per_node(self, state: CycleState, pod: PodInfo, plugin: Any,
                        nodes: list[NodeInfo]) -> tuple[list[NodeScore], Status]:
        scores = []
        for node in nodes:
            value, status = plugin.score(state, pod, node)
            if not status.ok:
                return [], status.with_plugin(plugin.name)
            scores.append(NodeScore(node.name, value))
        if isinstance(plugin, NormalizeScorePlugin):
            status = plugin.normalize_score(state, pod, scores)
            if not status.ok:
                return [], status.with_plugin(plugin.name)
        return scores, Status()

    def run_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for plugin in self.points["reserve"]:
            status = plugin.reserve(state, pod, node_name)
            if not status.ok:
                return status.with_plugin(plugin.name)
        return Status()

    def run_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for plugin in reversed(self.points["reserve"]):
            plugin.unreserve(state, pod, node_name)

    def run_permit(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for plugin in self.points["permit"]:
            status, _timeout = plugin.permit(state, pod, node_name)
            if status.code == Code.WAIT:
                # Waiting pods (gang scheduling) need a permit registry no in-tree plugin uses yet.
                return Status.error(f"plugin {plugin.name} asked to wait; waiting is not supported")
            if not status.ok:
                return status.with_plugin(plugin.name)
        return Status()

    # -- binding cycle -------------------------------------------------------------------------------

    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for plugin in self.points["preBind"]:
            status = await plugin.pre_bind(state, pod, node_name)
            if not status.ok:
                return status.with_plugin(plugin.name)
        return Status()

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for plugin in self.points["bind"]:
            status = await plugin.bind(state, pod, node_name)
            if status.code != Code.SKIP:
                return status.with_plugin(plugin.name)
        return Status.error("no bind plugin bound the pod")


def _first_rejection(state: CycleState, plugins: Iterable[Any], call: Callable[[Any], Status]) -> Status:
    """Run ``call`` on each plugin not skipped by PreFilter; the first non-ok status, named after it."""
    for plugin in plugins:
        if plugin.name in state.skip_filter_plugins:
            continue
        status = call(plugin)
        if not status.ok:
            return status.with_plugin(plugin.name)
    return Status()
