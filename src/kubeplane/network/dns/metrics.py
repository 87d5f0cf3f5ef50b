"""CoreDNS's metric names (``coredns_dns_*``, ``coredns_forward_*``) and the health server.

Each DNS server gets its own registry, so several servers in one process (tests) never collide in
prometheus_client's global one. The HTTP server serves ``/health`` (the process is up, CoreDNS's
health plugin), ``/ready`` (the caches have synced, its ready plugin) and ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# CoreDNS: exponential from 0.25 ms by 2 (request duration).
DURATION_BUCKETS = tuple(0.00025 * 2 ** i for i in range(16))
# Record types CoreDNS counts by name; any other type is counted as "other" to bound the labels.
COUNTED_TYPES = frozenset({"A", "AAAA", "NS", "PTR", "SOA", "CNAME", "MX", "TXT", "SRV", "ANY", "AXFR",
                           "IXFR", "HTTPS", "SVCB", "DNSKEY", "DS", "NAPTR", "OPT"})


def type_label(rdtype: str) -> str:
    return rdtype if rdtype in COUNTED_TYPES else "other"


class DnsMetrics:
    def __init__(self, server: str) -> None:
        self.server = server  # the "server" label: dns://<listen address>
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("coredns_dns_requests_total", "Counter of DNS requests made per zone, protocol "
                                "and family.", ["server", "zone", "view", "proto", "family", "type"], registry=r)
        self.responses = Counter("coredns_dns_responses_total", "Counter of response status codes.",
                                 ["server", "zone", "view", "rcode", "plugin"], registry=r)
        self.duration = Histogram("coredns_dns_request_duration_seconds", "Histogram of the time (in seconds) "
                                  "each request took.", ["server", "zone", "view", "type"],
                                  buckets=DURATION_BUCKETS, registry=r)
        self.forward_requests = Counter("coredns_forward_requests_total", "Counter of requests made per upstream.",
                                        ["to"], registry=r)
        self.forward_responses = Counter("coredns_forward_responses_total",
                                         "Counter of responses received per upstream.", ["to", "rcode"], registry=r)
        self.truncated = Counter("coredns_dns_truncated_responses_total",
                                 "Counter of UDP responses sent truncated (TC set).", ["server"], registry=r)
        self.record_changes = Gauge("coredns_kubernetes_record_changes",
                                    "Changes applied to the record index since start.", registry=r)

    def observe(self, zone: str, proto: str, family: str, rdtype: str, rcode: str, plugin: str,
                seconds: float) -> None:
        label = type_label(rdtype)
        self.requests.labels(self.server, zone, "", proto, family, label).inc()
        self.responses.labels(self.server, zone, "", rcode, plugin).inc()
        self.duration.labels(self.server, zone, "", label).observe(seconds)

    def forwarded(self, upstream: str, outcome: str) -> None:
        self.forward_requests.labels(upstream).inc()
        self.forward_responses.labels(upstream, outcome).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def start_health_server(host: str, port: int, metrics: DnsMetrics,
                              ready: Callable[[], bool]) -> web.AppRunner:
    """Serve /health, /ready and /metrics on ``host:port``; the caller cleans the runner up."""
    async def health(_: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def readiness(_: web.Request) -> web.Response:
        return web.Response(status=200, text="OK") if ready() else web.Response(status=503, text="not ready")

    async def serve_metrics(_: web.Request) -> web.Response:
        response = web.Response(body=metrics.exposition())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/ready", readiness)
    app.router.add_get("/metrics", serve_metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
