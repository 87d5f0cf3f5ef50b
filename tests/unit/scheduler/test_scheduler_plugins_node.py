"""Filter and score behaviour of the plugins that look at one node at a time."""

from scheduler_testlib import FakeHandle, filter_results, make_node, make_pod, score_results

from kubeplane.scheduler.framework.nodeinfo import PodInfo, Snapshot
from kubeplane.scheduler.framework.status import Code
from kubeplane.scheduler.plugins import (
    imagelocality,
    nodeaffinity,
    nodename,
    nodeports,
    nodeunschedulable,
    schedulinggates,
    tainttoleration,
)

MB = 1024 * 1024


def test_node_name_only_fits_the_named_node() -> None:
    snapshot = Snapshot.build([make_node("a"), make_node("b")], [])
    results = filter_results(nodename.NodeName(), make_pod("p", nodeName="b"), snapshot)
    assert results["b"].ok
    assert results["a"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert results["a"].reasons == ["node(s) didn't match the requested node name"]


def test_unschedulable_node_unless_tolerated() -> None:
    snapshot = Snapshot.build([make_node("cordoned", unschedulable=True), make_node("ok")], [])
    plugin = nodeunschedulable.NodeUnschedulable()
    results = filter_results(plugin, make_pod("p"), snapshot)
    assert results["cordoned"].reasons == ["node(s) were unschedulable"]
    assert results["ok"].ok
    tolerant = make_pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                           "effect": "NoSchedule"}])
    assert filter_results(plugin, tolerant, snapshot)["cordoned"].ok


def test_taints_filter_with_upstream_reason() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    soft = {"key": "spot", "value": "", "effect": "PreferNoSchedule"}
    snapshot = Snapshot.build([make_node("gpu", taints=[taint]), make_node("soft", taints=[soft])], [])
    plugin = tainttoleration.TaintToleration()
    results = filter_results(plugin, make_pod("p"), snapshot)
    assert results["gpu"].reasons == ["node(s) had untolerated taint {dedicated: gpu}"]
    assert results["gpu"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert results["soft"].ok  # PreferNoSchedule never filters
    tolerant = make_pod("p", tolerations=[{"key": "dedicated", "operator": "Exists"}])
    assert filter_results(plugin, tolerant, snapshot)["gpu"].ok
    wrong_value = make_pod("p", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "cpu"}])
    assert not filter_results(plugin, wrong_value, snapshot)["gpu"].ok


def test_taints_score_prefers_fewer_untolerated_prefer_no_schedule() -> None:
    def soft(key: str) -> dict:
        return {"key": key, "value": "", "effect": "PreferNoSchedule"}

    snapshot = Snapshot.build([make_node("two", taints=[soft("x"), soft("y")]), make_node("one", taints=[soft("x")]),
                               make_node("none")], [])
    plugin = tainttoleration.TaintToleration()
    assert score_results(plugin, make_pod("p"), snapshot) == {"two": 0, "one": 50, "none": 100}
    tolerates_x = make_pod("p", tolerations=[{"key": "x", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert score_results(plugin, tolerates_x, snapshot) == {"two": 0, "one": 100, "none": 100}


def test_node_affinity_selector_and_required_terms() -> None:
    snapshot = Snapshot.build([make_node("a", labels={"zone": "a", "disk": "ssd"}), make_node("b", labels={"zone": "b"})],
                              [])
    plugin = nodeaffinity.NodeAffinity()
    by_selector = filter_results(plugin, make_pod("p", nodeSelector={"zone": "a"}), snapshot)
    assert by_selector["a"].ok
    assert by_selector["b"].reasons == ["node(s) didn't match Pod's node affinity/selector"]
    required = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "disk", "operator": "DoesNotExist"}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["nothing"]}]},
    ]}}}
    by_affinity = filter_results(plugin, make_pod("p", affinity=required), snapshot)
    assert not by_affinity["a"].ok and by_affinity["b"].ok
    by_name = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}]}}}
    results = filter_results(plugin, make_pod("p", affinity=by_name), snapshot)
    assert results["a"].ok and not results["b"].ok


def test_node_affinity_preferred_terms_score() -> None:
    snapshot = Snapshot.build([make_node("both", labels={"zone": "a", "disk": "ssd"}),
                               make_node("ssd", labels={"disk": "ssd"}), make_node("none")], [])
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
        {"weight": 5, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
    ]}}
    scores = score_results(nodeaffinity.NodeAffinity(), make_pod("p", affinity=affinity), snapshot)
    assert scores == {"both": 100, "ssd": 33, "none": 0}


def test_node_ports_conflict_on_same_port_and_protocol() -> None:
    existing = make_pod("web", node_name="a", ports=[{"containerPort": 80, "hostPort": 8080}])
    snapshot = Snapshot.build([make_node("a"), make_node("b")], [existing])
    plugin = nodeports.NodePorts()
    tcp = filter_results(plugin, make_pod("p", ports=[{"containerPort": 80, "hostPort": 8080}]), snapshot)
    assert tcp["a"].reasons == ["node(s) didn't have free ports for the requested pod ports"]
    assert tcp["b"].ok
    udp = make_pod("p", ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}])
    assert all(s.ok for s in filter_results(plugin, udp, snapshot).values())


def test_scheduling_gates_block_pre_enqueue() -> None:
    plugin = schedulinggates.SchedulingGates()
    gated = PodInfo(make_pod("p", schedulingGates=[{"name": "example.com/a"}, {"name": "b"}]))
    status = plugin.pre_enqueue(gated)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ["waiting for scheduling gates: [example.com/a b]"]
    assert plugin.pre_enqueue(PodInfo(make_pod("p"))).ok


def test_image_locality_prefers_nodes_with_the_image() -> None:
    images = [{"names": ["docker.io/library/nginx:1.25", "nginx:latest"], "sizeBytes": 500 * MB}]
    snapshot = Snapshot.build([make_node("has", images=images), make_node("lacks")], [])
    plugin = imagelocality.ImageLocality(FakeHandle(snapshot))
    scores = score_results(plugin, make_pod("p", image="nginx"), snapshot)
    # 500 MB on 1 of 2 nodes counts 250 MB, scaled between 23 MB and 1000 MB.
    assert scores == {"has": 100 * (250 * MB - 23 * MB) // (977 * MB), "lacks": 0}
    assert imagelocality.normalized_image_name("registry:5000/app") == "registry:5000/app:latest"
    assert imagelocality.normalized_image_name("app@sha256:abc") == "app@sha256:abc"
