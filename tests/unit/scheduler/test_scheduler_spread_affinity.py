"""PodTopologySpread and InterPodAffinity: plugins that count pods across topology domains."""

from scheduler_testlib import FakeHandle, filter_results, make_node, make_pod, score_results

from kubeplane.machinery.labels import selector_from_set
from kubeplane.scheduler.framework.nodeinfo import Snapshot
from kubeplane.scheduler.framework.status import Code
from kubeplane.scheduler.plugins.interpodaffinity.plugin import InterPodAffinity
from kubeplane.scheduler.plugins.podtopologyspread.plugin import PodTopologySpread

WEB = {"app": "web"}


def zone_spread(max_skew: int = 1, when: str = "DoNotSchedule", key: str = "zone") -> list[dict]:
    return [{"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
             "labelSelector": {"matchLabels": WEB}}]


def spread_plugin(snapshot: Snapshot, **handle: object) -> PodTopologySpread:
    return PodTopologySpread({}, FakeHandle(snapshot, **handle))  # type: ignore[arg-type]


def test_spread_filter_keeps_skew_within_max() -> None:
    nodes = [make_node("a1", labels={"zone": "a"}), make_node("a2", labels={"zone": "a"}),
             make_node("b1", labels={"zone": "b"}), make_node("nolabel")]
    pods = [make_pod(f"w{i}", node_name="a1", labels=WEB) for i in range(2)]
    pods.append(make_pod("other-ns", namespace="elsewhere", node_name="b1", labels=WEB))  # other namespace: ignored
    snapshot = Snapshot.build(nodes, pods)
    results = filter_results(spread_plugin(snapshot), make_pod("p", labels=WEB,
                                                               topologySpreadConstraints=zone_spread()), snapshot)
    assert results["a1"].reasons == ["node(s) didn't match pod topology spread constraints"]
    assert not results["a2"].ok
    assert results["b1"].ok
    assert results["nolabel"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert results["nolabel"].reasons == ["node(s) didn't match pod topology spread constraints (missing required label)"]


def test_spread_filter_min_domains_counts_missing_domains_as_empty() -> None:
    snapshot = Snapshot.build([make_node("a1", labels={"zone": "a"})], [make_pod("w", node_name="a1", labels=WEB)])
    constraints = zone_spread()
    constraints[0]["minDomains"] = 2
    pod = make_pod("p", labels=WEB, topologySpreadConstraints=constraints)
    assert not filter_results(spread_plugin(snapshot), pod, snapshot)["a1"].ok
    constraints[0]["minDomains"] = 1
    pod = make_pod("p", labels=WEB, topologySpreadConstraints=constraints)
    assert filter_results(spread_plugin(snapshot), pod, snapshot)["a1"].ok


def test_spread_score_prefers_emptier_hosts() -> None:
    nodes = [make_node(n) for n in ("n1", "n2", "n3")]
    pods = [make_pod("w1", node_name="n1", labels=WEB), make_pod("w2", node_name="n1", labels=WEB),
            make_pod("w3", node_name="n2", labels=WEB)]
    snapshot = Snapshot.build(nodes, pods)
    pod = make_pod("p", labels=WEB,
                   topologySpreadConstraints=zone_spread(when="ScheduleAnyway", key="kubernetes.io/hostname"))
    assert score_results(spread_plugin(snapshot), pod, snapshot) == {"n1": 0, "n2": 33, "n3": 100}


def test_spread_system_defaults_follow_the_pods_owners() -> None:
    nodes = [make_node("n1", labels={"topology.kubernetes.io/zone": "a"}),
             make_node("n2", labels={"topology.kubernetes.io/zone": "b"})]
    snapshot = Snapshot.build(nodes, [make_pod(f"w{i}", node_name="n1", labels=WEB) for i in range(2)])
    pod = make_pod("p", labels=WEB)
    owned = score_results(spread_plugin(snapshot, owners=[selector_from_set(WEB)]), pod, snapshot)
    assert owned["n2"] > owned["n1"]
    assert score_results(spread_plugin(snapshot), pod, snapshot) == {}  # no owner: no default spreading


def affinity_nodes() -> list[dict]:
    return [make_node("n1", labels={"zone": "a"}), make_node("n2", labels={"zone": "a"}),
            make_node("n3", labels={"zone": "b"})]


def pod_affinity(kind: str, selector: dict, key: str = "zone") -> dict:
    term = {"labelSelector": {"matchLabels": selector}, "topologyKey": key}
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def test_required_affinity_and_anti_affinity() -> None:
    snapshot = Snapshot.build(affinity_nodes(), [make_pod("db", node_name="n1", labels={"app": "db"})])
    plugin = InterPodAffinity({}, FakeHandle(snapshot))
    near = filter_results(plugin, make_pod("p", affinity=pod_affinity("podAffinity", {"app": "db"})), snapshot)
    assert near["n1"].ok and near["n2"].ok
    assert near["n3"].reasons == ["node(s) didn't match pod affinity rules"]
    assert near["n3"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    away = filter_results(plugin, make_pod("p", affinity=pod_affinity("podAntiAffinity", {"app": "db"})), snapshot)
    assert away["n1"].reasons == ["node(s) didn't match pod anti-affinity rules"]
    assert not away["n2"].ok and away["n3"].ok


def test_existing_pods_anti_affinity_is_symmetric() -> None:
    guard = make_pod("guard", node_name="n1", labels={"app": "db"},
                     affinity=pod_affinity("podAntiAffinity", WEB, key="kubernetes.io/hostname"))
    snapshot = Snapshot.build(affinity_nodes(), [guard])
    results = filter_results(InterPodAffinity({}, FakeHandle(snapshot)), make_pod("p", labels=WEB), snapshot)
    assert results["n1"].reasons == ["node(s) didn't satisfy existing pods anti-affinity rules"]
    assert results["n2"].ok and results["n3"].ok


def test_first_pod_of_a_self_affine_group_may_go_anywhere() -> None:
    snapshot = Snapshot.build(affinity_nodes(), [])
    pod = make_pod("p", labels=WEB, affinity=pod_affinity("podAffinity", WEB))
    results = filter_results(InterPodAffinity({}, FakeHandle(snapshot)), pod, snapshot)
    assert all(status.ok for status in results.values())


def test_namespace_selector_uses_namespace_labels() -> None:
    snapshot = Snapshot.build(affinity_nodes(), [make_pod("db", namespace="data", node_name="n3", labels={"app": "db"})])
    affinity = pod_affinity("podAffinity", {"app": "db"})
    term = affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    term["namespaceSelector"] = {"matchLabels": {"team": "data"}}
    handle = FakeHandle(snapshot, namespaces={"data": {"team": "data"}})
    results = filter_results(InterPodAffinity({}, handle), make_pod("p", affinity=affinity), snapshot)
    assert results["n3"].ok and not results["n1"].ok


def test_preferred_affinity_scores_the_domain() -> None:
    snapshot = Snapshot.build(affinity_nodes(), [make_pod("db", node_name="n1", labels={"app": "db"})])
    term = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
    affinity = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "podAffinityTerm": term}]}}
    scores = score_results(InterPodAffinity({}, FakeHandle(snapshot)), make_pod("p", affinity=affinity), snapshot)
    assert scores == {"n1": 100, "n2": 100, "n3": 0}
    anti = {"podAntiAffinity": affinity["podAffinity"]}
    scores = score_results(InterPodAffinity({}, FakeHandle(snapshot)), make_pod("p", affinity=anti), snapshot)
    assert scores == {"n1": 0, "n2": 0, "n3": 100}
