"""DefaultPreemption on crafted snapshots: victim selection, PDBs, the node choice, and what the
plugin asks of the API (a fake client records it)."""

from __future__ import annotations

import asyncio
from typing import Any

from scheduler_testlib import FakeHandle, make_node, make_pod

from kubeplane.scheduler.framework.config import Profile
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.nodeinfo import PodInfo, Snapshot
from kubeplane.scheduler.framework.runtime import Framework
from kubeplane.scheduler.framework.status import Code, Status
from kubeplane.scheduler.plugins.defaultpreemption.pdb import split_by_pdb_violation
from kubeplane.scheduler.plugins.defaultpreemption.plugin import (
    NEVER,
    TERMINATING_ON_NOMINATED,
    VICTIMS_STATE_KEY,
    DefaultPreemption,
)
from kubeplane.scheduler.plugins.defaultpreemption.victims import (
    NO_VICTIMS,
    Candidate,
    pick_one_node,
    select_victims_on_node,
)
from kubeplane.scheduler.plugins.registry import in_tree_registry

JSON = dict[str, Any]


def pod(name: str, cpu: str, priority: int, node: str = "", started: str = "2024-01-01T00:00:00Z",
        labels: dict[str, str] | None = None, **spec: Any) -> JSON:
    body = make_pod(name, cpu=cpu, node_name=node, labels=labels, priority=priority, **spec)
    body["status"] = {"startTime": started}
    return body


def pdb(name: str, match: dict[str, str], allowed: int, disrupted: dict[str, str] | None = None) -> JSON:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": match}},
            "status": {"disruptionsAllowed": allowed, "disruptedPods": disrupted or {}}}


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    async def patch(self, resource: Any, name: str, body: Any, namespace: str | None = None,
                    **kwargs: Any) -> JSON:
        self.calls.append(("patch", name, body))
        return {}

    async def delete(self, resource: Any, name: str, namespace: str | None = None, **kwargs: Any) -> JSON:
        self.calls.append(("delete", name, kwargs.get("preconditions")))
        return {}


def setup(nodes: list[JSON], pods: list[JSON], pdbs: list[JSON] | None = None,
          nominated: dict[str, list[PodInfo]] | None = None) -> tuple[Framework, FakeHandle, CycleState]:
    snapshot = Snapshot.build(nodes, pods)
    handle = FakeHandle(snapshot, client=RecordingClient(), pdbs=pdbs, nominated=nominated)
    return Framework(Profile(), in_tree_registry(), handle), handle, CycleState()


def victims_on(fwk: Framework, handle: FakeHandle, preemptor: JSON, node: str,
               state: CycleState | None = None) -> tuple[list[str], int, Status]:
    info = PodInfo(preemptor)
    state = state or CycleState()
    _, status = fwk.run_pre_filter(state, info)
    assert status.ok
    node_info = handle.current.get(node)
    assert node_info is not None
    victims, violations, status = select_victims_on_node(fwk, state, info, node_info,
                                                         handle.pod_disruption_budgets("default"))
    return [v.metadata["name"] for v in victims], violations, status


def test_only_lower_priority_pods_go_and_the_more_important_ones_are_reprieved_first() -> None:
    pods = [pod("low1", "1", 1, "n"), pod("low2", "2", 2, "n"), pod("high", "1", 100, "n")]
    fwk, handle, _ = setup([make_node("n", cpu="4")], pods)
    names, violations, status = victims_on(fwk, handle, pod("p", "2", 50), "n")
    # Without both lows 3 cpus are free; low2 (more important) is tried back first but leaves only
    # 1; low1 then fits back beside the pod. The snapshot itself is untouched.
    assert status.ok and names == ["low2"] and violations == 0
    assert [p.metadata["name"] for p in handle.current.get("n").pods] == ["low1", "low2", "high"]  # type: ignore[union-attr]


def test_no_lower_priority_pods_or_no_fit_even_without_them() -> None:
    fwk, handle, _ = setup([make_node("n", cpu="2")], [pod("same", "2", 50, "n")])
    names, _, status = victims_on(fwk, handle, pod("p", "1", 50), "n")
    assert names == [] and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE and status.reasons == [NO_VICTIMS]
    fwk, handle, _ = setup([make_node("n", cpu="2")], [pod("low", "2", 1, "n")])
    names, _, status = victims_on(fwk, handle, pod("p", "8", 50), "n")
    assert names == [] and status.reasons == ["Insufficient cpu"]


def test_pdb_protected_pods_are_reprieved_before_unprotected_ones() -> None:
    pods = [pod("a", "1", 1, "n", started="2024-01-02T00:00:00Z", labels={"app": "a"}),
            pod("b", "1", 1, "n", started="2024-01-01T00:00:00Z", labels={"app": "b"})]
    fwk, handle, _ = setup([make_node("n", cpu="2")], pods)
    # Without budgets the older pod b is more important, reprieved first; a goes.
    assert victims_on(fwk, handle, pod("p", "1", 10), "n")[:2] == (["a"], 0)
    fwk, handle, _ = setup([make_node("n", cpu="2")], pods, pdbs=[pdb("protect-a", {"app": "a"}, 0)])
    assert victims_on(fwk, handle, pod("p", "1", 10), "n")[:2] == (["b"], 0)
    # When the protected pod must go anyway, the violation is counted.
    names, violations, status = victims_on(fwk, handle, pod("p", "2", 10), "n")
    assert status.ok and sorted(names) == ["a", "b"] and violations == 1


def test_pdb_budgets_are_spent_in_order_and_disrupted_pods_are_free() -> None:
    infos = [PodInfo(pod(n, "1", 1, "n", labels={"app": "x"})) for n in ("p1", "p2", "p3")]
    violating, ok = split_by_pdb_violation(infos, [pdb("x", {"app": "x"}, 1, disrupted={"p2": "t"})])
    assert [p.metadata["name"] for p in ok] == ["p1", "p2"]
    assert [p.metadata["name"] for p in violating] == ["p3"]
    # An empty selector protects nothing; other namespaces are not looked at.
    empty = {"metadata": {"name": "e", "namespace": "default"}, "spec": {"selector": {}},
             "status": {"disruptionsAllowed": 0}}
    assert split_by_pdb_violation(infos, [empty])[0] == []


def test_removing_a_victim_updates_what_prefilter_counted() -> None:
    # The pod refuses to share a host with app=x: only evicting the low-priority x pod helps, which
    # InterPodAffinity sees only through its remove_pod extension.
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    pods = [pod("x", "100m", 1, "n", labels={"app": "x"}), pod("y", "100m", 1, "n", labels={"app": "y"})]
    fwk, handle, _ = setup([make_node("n", cpu="4")], pods)
    names, _, status = victims_on(fwk, handle, pod("p", "100m", 10, affinity=anti), "n")
    assert status.ok and names == ["x"]


def cand(node: str, *victims: tuple[int, str], violations: int = 0) -> Candidate:
    infos = [PodInfo(pod(f"{node}-{i}", "1", prio, node, started=start)) for i, (prio, start) in enumerate(victims)]
    return Candidate(node, infos, violations)


def test_node_choice_follows_upstreams_criteria_in_order() -> None:
    t1, t2 = "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"
    assert pick_one_node([]) is None
    pick = lambda *cs: pick_one_node(list(cs)).node_name  # type: ignore[union-attr]  # noqa: E731
    assert pick(cand("a", (1, t1)), cand("b")) == "b"  # no victims at all
    assert pick(cand("a", (1, t1), violations=1), cand("b", (5, t1), (5, t1))) == "b"  # fewest PDB violations
    assert pick(cand("a", (5, t1)), cand("b", (3, t1), (3, t1), (3, t1))) == "b"  # lowest highest priority
    assert pick(cand("a", (3, t1), (2, t1)), cand("b", (3, t1), (1, t1))) == "b"  # smallest priority sum
    assert pick(cand("a", (3, t1), (0, t1)), cand("b", (3, t1))) == "b"  # fewest victims
    assert pick(cand("a", (3, t1)), cand("b", (3, t2))) == "b"  # latest start of the top victims
    assert pick(cand("a", (3, t1)), cand("b", (3, t1))) == "a"  # then the first
    # Negative priorities: shifted before summing, so two victims still weigh more than one.
    assert pick(cand("a", (-5, t1), (-5, t1)), cand("b", (-5, t1))) == "b"


def post_filter(plugin: DefaultPreemption, fwk: Framework, state: CycleState, preemptor: JSON,
                statuses: dict[str, Status]) -> tuple[str | None, Status]:
    info = PodInfo(preemptor)
    fwk.run_pre_filter(state, info)
    return asyncio.run(plugin.post_filter(state, info, statuses))


def test_post_filter_marks_deletes_and_reports_victims_then_nominates_the_node() -> None:
    nodes = [make_node("full", cpu="2"), make_node("tainted", cpu="8")]
    pods = [pod("low", "2", 1, "full"), pod("nominated-low", "1", 0)]
    fwk, handle, state = setup(nodes, pods, nominated={"full": [PodInfo(pod("nominated-low", "1", 0))]})
    plugin = fwk.plugins["DefaultPreemption"]
    assert isinstance(plugin, DefaultPreemption)
    insufficient = Status.unschedulable("Insufficient cpu")
    untolerated = Status.unschedulable("node(s) had untolerated taint {a: b}", unresolvable=True)
    preemptor = pod("p", "2", 100)
    node, status = post_filter(plugin, fwk, state, preemptor, {"full": insufficient, "tainted": untolerated})
    assert (node, status.ok) == ("full", True)
    assert state.get(VICTIMS_STATE_KEY) == 1
    calls = handle.client.calls
    assert [c[:2] for c in calls] == [("patch", "low"), ("delete", "low"), ("patch", "nominated-low")]
    condition = calls[0][2]["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == \
        ("DisruptionTarget", "True", "PreemptionByScheduler")
    assert condition["message"] == "default-scheduler: preempting to accommodate a higher priority pod"
    assert calls[1][2] == {"uid": "uid-low"}
    assert calls[2][2] == {"status": {"nominatedNodeName": None}}
    assert handle.nominated_pods_for_node("full") == []
    assert [(e[1]["metadata"]["name"], e[3], e[4]) for e in handle.events] == \
        [("low", "Preempted", "Preempted by pod uid-p on node full")]


def test_post_filter_explains_why_it_did_not_preempt() -> None:
    nodes = [make_node("a", cpu="2"), make_node("b", cpu="2")]
    fwk, handle, state = setup(nodes, [pod("peer", "2", 100, "a"), pod("low", "2", 1, "b")])
    plugin = fwk.plugins["DefaultPreemption"]
    assert isinstance(plugin, DefaultPreemption)
    insufficient = Status.unschedulable("Insufficient cpu")
    statuses = {"a": insufficient, "b": Status.unschedulable("node(s) were unschedulable", unresolvable=True)}
    node, status = post_filter(plugin, fwk, state, pod("p", "2", 100), statuses)
    assert node == "" and status.message() == ("preemption: 0/2 nodes are available: 1 No preemption victims "
                                               "found for incoming pod, 1 Preemption is not helpful for scheduling")
    node, status = post_filter(plugin, fwk, CycleState(), pod("p", "2", 100, preemptionPolicy="Never"),
                               {"a": insufficient, "b": insufficient})
    assert node is None and status.message() == f"preemption: {NEVER}"
    # A victim of an earlier preemption still terminating on the nominated node: wait for it.
    terminating = pod("going", "2", 1, "b")
    terminating["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    fwk, handle, state = setup(nodes, [pod("peer", "2", 100, "a"), terminating])
    plugin = fwk.plugins["DefaultPreemption"]
    assert isinstance(plugin, DefaultPreemption)
    waiting = pod("p", "2", 100)
    waiting["status"]["nominatedNodeName"] = "b"
    node, status = post_filter(plugin, fwk, state, waiting, {"a": insufficient, "b": insufficient})
    assert node is None and status.message() == f"preemption: {TERMINATING_ON_NOMINATED}"
    assert handle.client.calls == []


def test_nominated_pods_keep_their_room_from_lower_priority_pods() -> None:
    nominee = PodInfo(pod("nominee", "2", 100))
    fwk, handle, state = setup([make_node("n", cpu="3")], [], nominated={"n": [nominee]})
    node = handle.current.get("n")
    assert node is not None
    for name, priority, fits in (("lower", 10, False), ("equal", 100, False), ("higher", 200, True)):
        info = PodInfo(pod(name, "2", priority))
        fwk.run_pre_filter(state, info)
        assert fwk.run_filter_with_nominated_pods(state, info, node).ok is fits, name
    # The nominee itself is not counted twice.
    fwk.run_pre_filter(state, nominee)
    assert fwk.run_filter_with_nominated_pods(state, nominee, node).ok
