"""The shared /healthz, /livez, /readyz and /metrics server of the scheduler and controller manager."""

from __future__ import annotations

import aiohttp
from prometheus_client import CollectorRegistry

from kubeplane.component.health import (
    PING,
    Check,
    HealthServer,
    leader_election_check,
    leader_election_metric,
)
from kubeplane.scheduler.metrics import SchedulerMetrics


async def test_checks_metrics_and_upstreams_response_shapes() -> None:
    leading = {"now": True, "renewing": True}
    ready = {"synced": False}
    metrics = SchedulerMetrics()
    metrics.watch_pending(lambda: {"active": 3, "gated": 1})
    metrics.attempt("scheduled", "default-scheduler", 0.01)
    leader_election_metric(metrics.registry, "kube-scheduler", lambda: leading["now"])
    server = HealthServer(metrics.registry,
                          [PING, leader_election_check(lambda: leading["now"], lambda: leading["renewing"])],
                          [Check("sched-handler-sync", lambda: None if ready["synced"] else "not synced")])
    port = await server.start("127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            async def get(path: str) -> tuple[int, str]:
                async with session.get(base + path) as response:
                    return response.status, await response.text()

            assert await get("/healthz") == (200, "ok")
            assert await get("/livez?verbose") == (200, "[+]ping ok\n[+]leaderElection ok\nlivez check passed\n")
            status, body = await get("/readyz")
            assert status == 500 and "[-]sched-handler-sync failed: reason withheld" in body
            assert body.endswith("readyz check failed\n")
            assert (await get("/readyz?exclude=sched-handler-sync"))[0] == 200
            ready["synced"] = True
            assert await get("/readyz") == (200, "ok")
            assert await get("/readyz/sched-handler-sync") == (200, "ok")
            assert (await get("/healthz/nonesuch"))[0] == 404

            leading["renewing"] = False  # a leader that stopped renewing is unhealthy
            status, body = await get("/healthz")
            assert status == 500 and "[-]leaderElection failed" in body
            leading["now"] = False  # a standby replica is fine
            assert await get("/healthz") == (200, "ok")

            status, text = await get("/metrics")
            assert status == 200
            assert 'scheduler_pending_pods{queue="active"} 3.0' in text
            assert 'scheduler_pending_pods{queue="gated"} 1.0' in text
            assert 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 1.0' in text
            assert "scheduler_scheduling_attempt_duration_seconds_bucket" in text
            assert 'leader_election_master_status{name="kube-scheduler"} 0.0' in text
    finally:
        await server.stop()


async def test_registries_are_per_server() -> None:
    # Two components in one process (tests) must not collide in prometheus_client's global registry.
    first, second = CollectorRegistry(), CollectorRegistry()
    leader_election_metric(first, "a", lambda: True)
    leader_election_metric(second, "b", lambda: False)
    SchedulerMetrics()
    SchedulerMetrics()
