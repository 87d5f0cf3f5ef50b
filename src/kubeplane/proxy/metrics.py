"""kube-proxy's metrics (upstream names, subsystem ``kubeproxy``) and its /metrics + /healthz server.

Each proxier gets its own registry, so several proxiers (tests, or nodes in one process) never
collide in prometheus_client's global one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Upstream: exponential from 1 ms (sync duration); 0.25 s .. 5 min (programming latency).
SYNC_BUCKETS = tuple(0.001 * 2 ** i for i in range(15))
PROGRAMMING_BUCKETS = (0.25, 0.5, *range(1, 60), *range(60, 120, 5), *range(120, 331, 30))


class ProxyMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sync_duration = Histogram("kubeproxy_sync_proxy_rules_duration_seconds",
                                       "SyncProxyRules latency in seconds", buckets=SYNC_BUCKETS, registry=r)
        self.full_sync_duration = Histogram("kubeproxy_sync_full_proxy_rules_duration_seconds",
                                            "SyncProxyRules latency in seconds for full resyncs",
                                            buckets=SYNC_BUCKETS, registry=r)
        self.partial_sync_duration = Histogram("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                                               "SyncProxyRules latency in seconds for partial resyncs",
                                               buckets=SYNC_BUCKETS, registry=r)
        self.network_programming = Histogram("kubeproxy_network_programming_duration_seconds",
                                             "In Cluster Network Programming Latency in seconds",
                                             buckets=PROGRAMMING_BUCKETS, registry=r)
        self.last_sync = Gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                               "The last time proxy rules were successfully synced", registry=r)
        self.last_queued = Gauge("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
                                 "The last time a sync of proxy rules was queued", registry=r)
        self.restore_failures = Counter("kubeproxy_sync_proxy_rules_iptables_restore_failures",
                                        "Cumulative proxy iptables restore failures", registry=r)
        self.service_changes = Counter("kubeproxy_sync_proxy_rules_service_changes",
                                       "Cumulative proxy rules Service changes", registry=r)
        self.endpoint_changes = Counter("kubeproxy_sync_proxy_rules_endpoint_changes",
                                        "Cumulative proxy rules Endpoint changes", registry=r)
        self.rules = Gauge("kubeproxy_sync_proxy_rules_iptables_total",
                           "Total number of iptables rules written in the last sync", ["table"], registry=r)
        self.no_local_endpoints = Gauge("kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                                        "Number of services with a Local traffic policy and no endpoints",
                                        ["traffic_policy"], registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


@dataclass
class Health:
    """Healthy while syncs keep up: a sync was queued no longer than ``grace`` ago without one
    succeeding since (upstream's proxier health: 2 x syncPeriod by default)."""

    grace: float
    last_updated: float = 0.0
    oldest_queued: float = 0.0  # 0: nothing waiting

    def queued(self) -> None:
        if not self.oldest_queued:
            self.oldest_queued = time.time()

    def updated(self) -> None:
        self.last_updated = time.time()
        self.oldest_queued = 0.0

    def healthy(self) -> bool:
        if not self.last_updated:
            return False
        return not self.oldest_queued or time.time() - self.oldest_queued < self.grace


async def start_server(address: str, metrics: ProxyMetrics, health: Health) -> web.AppRunner:
    """Serve /metrics and /healthz on ``host:port``; the caller cleans the runner up."""
    async def serve_metrics(_: web.Request) -> web.Response:
        response = web.Response(body=metrics.exposition())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    async def serve_healthz(_: web.Request) -> web.Response:
        body = {"lastUpdated": health.last_updated, "currentTime": time.time()}
        return web.Response(status=200 if health.healthy() else 503, text=json.dumps(body),
                            content_type="application/json")

    app = web.Application()
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/healthz", serve_healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, _, port = address.rpartition(":")
    await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
    return runner
