"""Choosing controllers with --controllers, the command line, and the shared pieces
(expectations, slow-start batches, the work loop)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from kubeplane.client import FakeClock
from kubeplane.component.flags import parse_bool, parse_duration
from kubeplane.controllers.app import parse_args
from kubeplane.controllers.controller import QueueController
from kubeplane.controllers.expectations import Expectations
from kubeplane.controllers.manager import (
    REGISTRY,
    ControllerManager,
    ControllerSpec,
    UnknownControllerError,
    enabled_controllers,
)
from kubeplane.controllers.slowstart import slow_start_batch


def test_star_enables_all_and_minus_disables() -> None:
    assert enabled_controllers(["*"]) == [name for name, spec in REGISTRY.items() if spec.enabled_by_default]
    assert "bootstrap-signer-controller" in enabled_controllers(["*", "bootstrapsigner"])
    chosen = enabled_controllers(["*", "-deployment"])
    assert "deployment-controller" not in chosen and "replicaset-controller" in chosen
    assert enabled_controllers(["replicaset"]) == ["replicaset-controller"]
    assert enabled_controllers(["-namespace-controller", "namespace"]) == []  # the first mention wins
    with pytest.raises(UnknownControllerError, match="not in the list of known controllers"):
        enabled_controllers(["*", "-nosuch"])


def test_off_by_default_needs_naming() -> None:
    registry = {"a": ControllerSpec(lambda ctx: None), "b": ControllerSpec(lambda ctx: None, enabled_by_default=False)}
    assert enabled_controllers(["*"], registry) == ["a"]
    assert enabled_controllers(["*", "b"], registry) == ["a", "b"]


def test_flags_as_upstream() -> None:
    opts = parse_args(["--kubeconfig=/k", "--controllers=*,-namespace"])
    assert opts.leader_elect is True and opts.controllers == ["*", "-namespace"]
    assert (opts.leader_elect_resource_namespace, opts.leader_elect_resource_name) == \
        ("kube-system", "kube-controller-manager")
    assert parse_args(["--leader-elect=false"]).leader_elect is False
    assert parse_args(["--leader-elect-lease-duration=1m30s"]).leader_elect_lease_duration == 90.0
    assert parse_duration("500ms") == 0.5
    with pytest.raises(SystemExit):
        parse_args(["--controllers=bogus"])
    with pytest.raises(SystemExit):
        parse_args(["--leader-elect-lease-duration=5s"])  # not longer than the renew deadline


def test_shared_flag_types_read_go_spellings() -> None:
    assert parse_duration("1h2m3.5s") == 3723.5
    assert parse_duration(" 250us ") == pytest.approx(0.00025)
    assert parse_duration("7") == 7.0
    assert (parse_bool(" T "), parse_bool("no")) == (True, False)
    for bad_duration in ("5x", "1m5", "ms"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_duration(bad_duration)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_bool("maybe")


async def test_manager_builds_chosen_controllers_and_skips_unconfigured(ctx: Any) -> None:
    ctx.root_ca = b""
    manager = ControllerManager(ctx, enabled_controllers(["*"]))
    names = sorted(controller.name for controller, _ in manager.controllers)
    # Every controller on by default is built, except the two that need a CA: the CA publisher
    # and the CSR signer.
    assert len(names) == sum(spec.enabled_by_default for spec in REGISTRY.values()) - 2
    assert "certificatesigningrequest-signing-controller" not in names
    assert {"deployment", "namespace", "replicaset", "serviceaccount"} <= set(names)
    assert not any("root-ca" in name for name in names)


def test_expectations_until_observed_or_expired() -> None:
    clock = FakeClock()
    expectations = Expectations(clock, ttl=300)
    assert expectations.satisfied("ns/a")
    expectations.expect_creations("ns/a", 2)
    expectations.creation_observed("ns/a")
    assert not expectations.satisfied("ns/a")
    expectations.creation_observed("ns/a")
    assert expectations.satisfied("ns/a")
    expectations.expect_deletions("ns/a", ["ns/p1"])
    expectations.deletion_observed("ns/a", "ns/p1")
    expectations.deletion_observed("ns/a", "ns/p1")  # seen twice, counted once
    assert expectations.satisfied("ns/a")
    expectations.expect_creations("ns/a", 1)
    clock.step(301)
    assert expectations.satisfied("ns/a")


async def test_slow_start_doubles_batches_and_stops_on_failure() -> None:
    calls = 0

    async def action() -> None:
        nonlocal calls
        calls += 1
        if calls > 5:
            raise RuntimeError("quota")

    done, error = await slow_start_batch(20, action)
    assert (done, calls) == (5, 7)  # batches 1, 2, 4: the third failed twice; 8 more never tried
    assert isinstance(error, RuntimeError)
    calls = -100
    assert (await slow_start_batch(7, action)) == (7, None)


async def test_failed_sync_is_retried_with_backoff() -> None:
    clock = FakeClock()
    attempts: list[str] = []

    class Flaky(QueueController):
        name = "flaky"

        async def sync(self, key: str) -> None:
            attempts.append(key)
            if len(attempts) == 1:
                raise RuntimeError("first time fails")

    controller = Flaky(clock)
    controller.queue.add("ns/x")
    task = asyncio.create_task(controller.run(1))
    await clock.advance(0)
    assert attempts == ["ns/x"]
    await clock.advance(1)
    assert attempts == ["ns/x", "ns/x"]
    assert controller.queue.num_requeues("ns/x") == 0  # forgotten after the success
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
