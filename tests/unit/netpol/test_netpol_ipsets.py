"""Peer sets → ``ipset restore`` payloads: new sets filled directly, live ones swapped."""

from __future__ import annotations

import pytest

from kubeplane.network.policy.ipsets import (
    HOST_SET,
    NET_SET,
    PeerSet,
    check_prefix,
    destroy_payload,
    split_members,
    update_payload,
)

HOSTS = PeerSet("KPNP-H", HOST_SET, ("198.18.1.2", "198.18.1.3"))
CREATE_H = "create KPNP-H hash:ip family inet maxelem 262144"


def test_members_split_into_hosts_and_networks() -> None:
    hosts, nets = split_members(["198.18.1.10/32", "198.18.1.9/32", "198.18.64.0/24", "198.18.0.0/17",
                                 "198.18.1.9/32"])
    assert hosts == ["198.18.1.9", "198.18.1.10"]
    assert nets == ["198.18.0.0/17", "198.18.64.0/24"]
    assert split_members(["0.0.0.0/0"]) == ([], ["0.0.0.0/1", "128.0.0.0/1"])  # hash:net takes no /0


def test_a_new_set_is_created_and_filled_in_place() -> None:
    assert update_payload({"KPNP-H": HOSTS}, {}) == "\n".join([
        CREATE_H, "flush KPNP-H", "add KPNP-H 198.18.1.2", "add KPNP-H 198.18.1.3", ""])


def test_a_known_set_is_rebuilt_aside_and_swapped_in() -> None:
    old = PeerSet("KPNP-H", HOST_SET, ("198.18.1.2",))
    for known in (old, None):  # written by us last sync, or only listed (a full sync)
        assert update_payload({"KPNP-H": HOSTS}, {"KPNP-H": known}) == "\n".join([
            CREATE_H, CREATE_H.replace("KPNP-H", "KPNP-H-N"), "flush KPNP-H-N",
            "add KPNP-H-N 198.18.1.2", "add KPNP-H-N 198.18.1.3", "swap KPNP-H-N KPNP-H", "destroy KPNP-H-N", ""])


def test_unchanged_sets_need_nothing() -> None:
    assert update_payload({"KPNP-H": HOSTS}, {"KPNP-H": HOSTS, "KPNP-OLD": None}) is None
    assert destroy_payload([]) is None
    assert destroy_payload(["b", "a"]) == "destroy a\ndestroy b\n"


def test_an_empty_set_of_a_new_kind_is_still_created() -> None:
    empty = PeerSet("KPNP-N", NET_SET, ())
    assert update_payload({"KPNP-N": empty}, {}) == (
        "create KPNP-N hash:net family inet maxelem 262144\nflush KPNP-N\n")


@pytest.mark.parametrize("prefix", ["", "much-too-long-", "bad prefix", "a/b"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        check_prefix(prefix)
