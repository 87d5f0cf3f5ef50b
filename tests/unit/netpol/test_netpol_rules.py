"""Allow-lists → the iptables-restore payload, and the local-pod view the agent builds."""

from __future__ import annotations

from netpol_helpers import namespace, pod, policy

from kubeplane.network.cni.wiring import host_veth_name
from kubeplane.network.policy.agent import Snapshot, local_pods
from kubeplane.network.policy.ipsets import DEFAULT_PREFIX, HOST_SET, NET_SET, set_name
from kubeplane.network.policy.rules import (
    FORWARD_CHAIN,
    INPUT_CHAIN,
    LocalPod,
    cleanup_payload,
    hook_fixes,
    pod_chain,
    render,
)
from kubeplane.network.policy.selection import Allow, DirectionRules, PodRules, PortMatch

A_IN = pod_chain("ingress", "default", "a")
A_OUT = pod_chain("egress", "default", "a")
B_IN = pod_chain("ingress", "default", "b")


def rule_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("-A", "-I", "-D", "-X"))]


def test_chain_names_fit_iptables_and_differ_by_pod_and_direction() -> None:
    names = {A_IN, A_OUT, B_IN, pod_chain("ingress", "other", "a")}
    assert len(names) == 4
    assert all(len(name) <= 28 and name.startswith("KUBEPLANE-NP-") for name in names)


def test_render_pods_in_both_directions() -> None:
    a = LocalPod("default", "a", "enia", PodRules(
        DirectionRules(("default/p",), (Allow("198.18.1.2/32", PortMatch("TCP", 80, 80)),
                                        Allow("198.18.64.0/24", PortMatch("UDP", 1000, 2000)))),
        DirectionRules(("default/q",), (Allow(None, PortMatch("SCTP")),))))
    b = LocalPod("default", "b", "enib", PodRules(DirectionRules(("default/p",), (Allow(),)), None))
    rendered = render([b, a])
    assert rendered.chains == {FORWARD_CHAIN, INPUT_CHAIN, A_IN, A_OUT, B_IN}
    assert rule_lines(rendered.text) == [
        f"-A {FORWARD_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        f"-A {INPUT_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        f'-A {FORWARD_CHAIN} -i enia -m comment --comment "default/a" -j {A_OUT}',
        f'-A {INPUT_CHAIN} -i enia -m comment --comment "default/a" -j {A_OUT}',
        # ingress jumps after every egress jump: pod-to-pod traffic passes both
        f'-A {FORWARD_CHAIN} -o enia -m comment --comment "default/a" -j {A_IN}',
        f'-A {FORWARD_CHAIN} -o enib -m comment --comment "default/b" -j {B_IN}',
        f"-A {A_OUT} -p sctp -j RETURN",
        f'-A {A_OUT} -m comment --comment "isolated by default/q" -j DROP',
        f"-A {A_IN} -m set --match-set {set_name(DEFAULT_PREFIX, A_IN, 'TCP:80:80', HOST_SET)} src"
        " -p tcp -m tcp --dport 80 -j RETURN",
        f"-A {A_IN} -m set --match-set {set_name(DEFAULT_PREFIX, A_IN, 'UDP:1000:2000', NET_SET)} src"
        " -p udp -m udp --dport 1000:2000 -j RETURN",
        f'-A {A_IN} -m comment --comment "isolated by default/p" -j DROP',
        f"-A {B_IN} -j RETURN",
        f'-A {B_IN} -m comment --comment "isolated by default/p" -j DROP',
    ]
    assert rendered.rule_count == 13
    assert sorted((s.kind, s.members) for s in rendered.sets.values()) == [
        (HOST_SET, ("198.18.1.2",)), (NET_SET, ("198.18.64.0/24",))]
    assert rendered.text.startswith("*filter\n") and rendered.text.endswith("COMMIT\n")


def test_render_deletes_stale_chains_after_flushing_them() -> None:
    text = render([], existing={FORWARD_CHAIN, A_IN}, fixes=["-I FORWARD 1 x"]).text.splitlines()
    assert f":{A_IN} - [0:0]" in text
    assert text.index("-I FORWARD 1 x") < text.index(f"-X {A_IN}") == len(text) - 2
    assert f"-X {FORWARD_CHAIN}" not in text


HOOK_FORWARD = f'-A FORWARD -m comment --comment "kubeplane network policy" -j {FORWARD_CHAIN}'
HOOK_INPUT = f'-A INPUT -m comment --comment "kubeplane network policy: pods to their node" -j {INPUT_CHAIN}'


def saved(*lines: str) -> str:
    return "\n".join(["# Generated", "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                      f":{FORWARD_CHAIN} - [0:0]", *lines, "COMMIT", ""])


def test_hooks_inserted_when_missing_and_moved_back_to_the_front() -> None:
    assert hook_fixes(saved()) == ["-I" + HOOK_FORWARD[2:].replace("FORWARD ", "FORWARD 1 ", 1),
                                   "-I" + HOOK_INPUT[2:].replace("INPUT ", "INPUT 1 ", 1)]
    assert hook_fixes(saved(HOOK_FORWARD, "-A FORWARD -j KUBE-FORWARD", HOOK_INPUT)) == []
    kube_first = hook_fixes(saved("-A FORWARD -j KUBE-FORWARD", HOOK_FORWARD, HOOK_INPUT))
    assert kube_first == ["-D" + HOOK_FORWARD[2:], "-I" + HOOK_FORWARD[2:].replace("FORWARD ", "FORWARD 1 ", 1)]


def test_cleanup_payload() -> None:
    assert cleanup_payload(saved().replace(f":{FORWARD_CHAIN} - [0:0]\n", "")) is None
    payload = cleanup_payload(saved(HOOK_FORWARD, f"-A {FORWARD_CHAIN} -j RETURN"))
    assert payload is not None
    assert rule_lines(payload) == ["-D" + HOOK_FORWARD[2:], f"-X {FORWARD_CHAIN}"]


def test_local_pods_are_this_nodes_isolated_pods_with_their_cni_interface() -> None:
    snapshot = Snapshot(
        policies=[policy("default", "deny")],
        pods=[pod("default", "a", "198.18.1.2"), pod("default", "elsewhere", "198.18.2.2", node="node-b"),
              pod("default", "host", "198.18.0.1", host_network=True), pod("default", "pending", None),
              pod("open", "c", "198.18.1.3")],
        namespaces=[namespace("default"), namespace("open")])
    [a] = local_pods("node-a", snapshot)
    assert (a.namespace, a.name, a.interface) == ("default", "a", host_veth_name("default", "a", ""))
    assert a.rules == PodRules(DirectionRules(("default/deny",), ()), None)


def test_rules_grow_with_ports_not_peers() -> None:
    """Many peers on one port: one set per type and one rule each; the rule text does not change
    when the peers do, only the set's members."""
    def pod_with(peers: int) -> LocalPod:
        allows = tuple(Allow(f"198.18.{i // 200}.{i % 200 + 2}/32", PortMatch("TCP", 80, 80)) for i in range(peers))
        allows += (Allow("198.18.128.0/17", PortMatch("TCP", 80, 80)),)
        return LocalPod("default", "a", "enia", PodRules(DirectionRules(("default/p",), allows), None))

    few, many = render([pod_with(3)]), render([pod_with(1000)])
    assert few.text == many.text
    assert few.rule_count == many.rule_count == 2 + 1 + 3  # replies x2, the jump, hosts, nets, DROP
    [hosts] = [s for s in many.sets.values() if s.kind == HOST_SET]
    assert len(hosts.members) == 1000 and hosts.members[0] == "198.18.0.2"
    [nets] = [s for s in many.sets.values() if s.kind == NET_SET]
    assert nets.members == ("198.18.128.0/17",)
    assert all(name.startswith("KPNP-") and len(name) <= 31 - 2 for name in many.sets)
