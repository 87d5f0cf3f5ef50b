"""Change tracking and the sync loop, against a fake iptables that records what it is given."""

from __future__ import annotations

import asyncio
import copy
import datetime
import subprocess
import sys

import pytest
from proxy_helpers import endpoint, endpoint_slice, parse, service

from kubeplane.component.iptables import IptablesError, NetnsCommand
from kubeplane.proxy.changes import ChangeTracker, parse_trigger_time
from kubeplane.proxy.model import ServicePortName
from kubeplane.proxy.proxier import Proxier
from kubeplane.proxy.rules import RenderOptions


def test_only_changes_rules_can_see_mark_a_service_dirty() -> None:
    tracker = ChangeTracker()
    svc = service("web", "198.19.0.10")
    assert tracker.service_changed(("ns", "web"), svc)
    assert tracker.take_pending().services == {("ns", "web")}
    updated = copy.deepcopy(svc)
    updated["metadata"]["resourceVersion"] = "7"
    updated["status"] = {"conditions": []}
    assert not tracker.service_changed(("ns", "web"), updated)
    updated["spec"]["sessionAffinity"] = "ClientIP"
    assert tracker.service_changed(("ns", "web"), updated)
    assert tracker.service_changed(("ns", "web"), None)
    pending = tracker.take_pending()
    assert pending.services == {("ns", "web")} and pending.service_changes == 2
    assert tracker.service_port_map() == {}


def test_endpoints_are_merged_across_slices_and_deduplicated() -> None:
    tracker = ChangeTracker()
    first = endpoint_slice("web", [endpoint("198.18.1.3"), endpoint("198.18.1.2", ready=False)], name="web-1")
    second = endpoint_slice("web", [endpoint("198.18.1.2")], name="web-2")
    assert tracker.slice_changed(("ns", "web-1"), first)
    assert tracker.slice_changed(("ns", "web-2"), second)
    port = ServicePortName("ns", "web", "http", "tcp")
    eps = tracker.endpoints_map()[port]
    assert [(str(e), e.ready) for e in eps] == [("198.18.1.2:8080", True), ("198.18.1.3:8080", True)]
    tracker.take_pending()
    # A slice rewritten with the same endpoints (a controller's no-op update) changes nothing.
    again = copy.deepcopy(second)
    again["metadata"]["resourceVersion"] = "9"
    assert not tracker.slice_changed(("ns", "web-2"), again)
    # The endpoint moves between slices: still the same endpoints, so no sync needed.
    assert not tracker.slice_changed(("ns", "web-1"), endpoint_slice("web", [endpoint("198.18.1.3"),
                                                                             endpoint("198.18.1.2")], name="web-1"))
    assert not tracker.has_pending()
    assert tracker.slice_changed(("ns", "web-1"), None)
    assert tracker.slice_changed(("ns", "web-2"), None)
    assert tracker.take_pending().services == {("ns", "web")}
    assert tracker.endpoints_map() == {}


def test_headless_and_unlabelled_slices_are_ignored() -> None:
    tracker = ChangeTracker()
    headless = endpoint_slice("h", [endpoint("198.18.1.2")])
    headless["metadata"]["labels"]["service.kubernetes.io/headless"] = ""
    orphan = endpoint_slice("o", [endpoint("198.18.1.2")])
    orphan["metadata"]["labels"] = {}
    assert not tracker.slice_changed(("ns", "h"), headless)
    assert not tracker.slice_changed(("ns", "o"), orphan)


def test_trigger_times_travel_with_the_pending_changes() -> None:
    tracker = ChangeTracker()
    stamp = "2026-11-26T10:00:00Z"
    tracker.slice_changed(("ns", "s"), endpoint_slice("web", [endpoint("198.18.1.2")], trigger_time=stamp))
    pending = tracker.take_pending()
    expected = datetime.datetime(2026, 11, 26, 10, tzinfo=datetime.UTC).timestamp()
    assert pending.trigger_times == [expected] and pending.endpoint_changes == 1
    tracker.restore_pending(pending)
    assert tracker.take_pending().trigger_times == [expected]
    assert parse_trigger_time("garbage") is None


class FakeIptables:
    """Records restore payloads; its save output is whatever was restored last (enough to see
    which chains exist); fails when told to."""

    def __init__(self) -> None:
        self.netns = NetnsCommand("")
        self.payloads: list[str] = []
        self.saves = 0
        self.fail = False

    async def restore(self, payload: str) -> None:
        if self.fail:
            raise IptablesError("iptables-restore: line 3 failed")
        self.payloads.append(payload)

    async def save(self) -> str:
        self.saves += 1
        return self.payloads[-1] if self.payloads else ""


def make_proxier(fake: FakeIptables, min_sync: float = 0.0) -> Proxier:
    return Proxier(fake, RenderOptions(node_name="node-a"),  # type: ignore[arg-type]
                   min_sync_period=min_sync, sync_period=3600,
                   service_cidr="")


async def test_first_sync_is_full_then_partial_and_failures_force_full() -> None:
    fake = FakeIptables()
    proxier = make_proxier(fake)
    proxier.on_service(service("a", "198.19.0.20"))
    proxier.on_service(service("b", "198.19.0.21"))
    proxier.on_endpoint_slice(endpoint_slice("a", [endpoint("198.18.1.2")]))
    proxier.on_endpoint_slice(endpoint_slice("b", [endpoint("198.18.1.3")]))
    assert await proxier.sync()
    assert fake.saves == 1
    first = parse(fake.payloads[-1])["nat"]
    assert sum(c.startswith("KUBE-SVC-") for c in first.chains) == 2
    assert first.other and all(line.startswith("-I ") for line in first.other)  # jumps inserted once

    proxier.on_endpoint_slice(endpoint_slice("a", [endpoint("198.18.1.2"), endpoint("198.18.1.4")]))
    assert await proxier.sync()
    assert fake.saves == 1  # partial: no save
    second = parse(fake.payloads[-1])["nat"]
    assert sum(c.startswith("KUBE-SVC-") for c in second.chains) == 1
    assert second.other == []

    fake.fail = True
    proxier.on_service(service("b", "198.19.0.21", sessionAffinity="ClientIP"))
    assert not await proxier.sync()
    assert proxier.tracker.has_pending()
    fake.fail = False
    assert await proxier.sync()
    assert fake.saves == 2  # the retry is a full sync
    assert sum(c.startswith("KUBE-SVC-") for c in parse(fake.payloads[-1])["nat"].chains) == 2
    metrics = proxier.metrics.exposition().decode()
    assert "kubeproxy_sync_proxy_rules_iptables_restore_failures_total 1.0" in metrics
    assert "kubeproxy_sync_proxy_rules_duration_seconds_count 3.0" in metrics


async def test_changes_during_the_min_sync_period_share_one_sync() -> None:
    fake = FakeIptables()
    proxier = make_proxier(fake, min_sync=3600)  # after the first sync, the next waits an hour
    proxier.on_service(service("a", "198.19.0.20"))
    runner = asyncio.create_task(proxier.run())
    try:
        proxier.set_initialized()
        for _ in range(200):
            if proxier.syncs:
                break
            await asyncio.sleep(0.01)
        assert proxier.syncs == 1
        for index in range(5):
            proxier.on_service(service(f"s{index}", f"198.19.1.{index}"))
        await asyncio.sleep(0.1)
        assert proxier.syncs == 1 and proxier.tracker.has_pending()
        assert len(proxier.tracker.take_pending().services) == 5
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_no_sync_before_caches_are_initialized() -> None:
    fake = FakeIptables()
    proxier = make_proxier(fake)
    runner = asyncio.create_task(proxier.run())
    try:
        proxier.on_service(service("a", "198.19.0.20"))
        await asyncio.sleep(0.05)
        assert fake.payloads == []  # a partial view of the cluster would drop everyone else's rules
        proxier.set_initialized()
        for _ in range(200):
            if fake.payloads:
                break
            await asyncio.sleep(0.01)
        assert len(fake.payloads) == 1
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_node_zone_change_makes_the_next_sync_full() -> None:
    fake = FakeIptables()
    proxier = make_proxier(fake)
    proxier.on_service(service("a", "198.19.0.20"))
    assert await proxier.sync()
    node = {"metadata": {"name": "node-a", "labels": {"topology.kubernetes.io/zone": "zone-b"}},
            "status": {"addresses": [{"type": "InternalIP", "address": "198.18.0.5"}]}}
    proxier.on_node(node)
    assert proxier.options.zone == "zone-b" and proxier.options.node_ips == ("198.18.0.5",)
    assert await proxier.sync()
    assert fake.saves == 2
    proxier.on_node(node)  # unchanged: nothing to do
    assert not proxier.tracker.has_pending() and proxier._need_full is False


def test_main_refuses_the_root_namespace_without_netns() -> None:
    from kubeplane.component.iptables import in_root_netns
    from kubeplane.proxy.app import EXIT_BAD_FLAGS

    if not in_root_netns():
        pytest.skip("runs only where the test itself is in the root network namespace")
    # A process of its own: main() sets up logging, which a test must not do to pytest's.
    result = subprocess.run([sys.executable, "-m", "kubeplane.proxy.app", "--kubeconfig=/nonexistent",
                             "--metrics-bind-address="], capture_output=True, text=True, timeout=60)
    assert result.returncode == EXIT_BAD_FLAGS
    assert "refusing to program the host's root network namespace" in result.stderr + result.stdout
