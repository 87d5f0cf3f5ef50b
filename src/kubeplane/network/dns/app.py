"""``kubeplane dns``: the cluster DNS server, answering as CoreDNS's kubernetes plugin does.

``python -m kubeplane.network.dns.app --kubeconfig=... --listen=198.19.0.10:53 --netns=/run/netns/node-a``

The sockets are bound first (inside ``--netns`` when given, see ``sockets.py``) so a bad address
fails at once; queries are read only after the informers have synced, so the first answers are
already complete (until then they wait in the socket buffers). ``/ready`` turns 200 at that point.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass, field

from kubeplane.client import Client, in_cluster_config, load_kubeconfig
from kubeplane.component.logs import setup_logging
from kubeplane.component.signals import run_until_signalled
from kubeplane.network.dns import sockets
from kubeplane.network.dns.forward import Forwarder, Upstream, parse_upstream
from kubeplane.network.dns.metrics import DnsMetrics, start_health_server
from kubeplane.network.dns.names import normalize
from kubeplane.network.dns.resolver import PodMode, Resolver
from kubeplane.network.dns.server import DnsServer, QueryHandler
from kubeplane.network.dns.sources import watch_cluster
from kubeplane.network.dns.store import ClusterRecords

log = logging.getLogger("kubeplane.dns")

EXIT_CANNOT_BIND = 3
# The kubernetes plugin's own default. kubeadm's Corefile sets `ttl 30` (and `cache 30`): pass --ttl=30
# for that; 5 s keeps answers fresh after a Service or endpoint change, and nothing here caches.
DEFAULT_TTL = 5
DEFAULT_HEALTH_PORT = 8080  # CoreDNS's health plugin


@dataclass
class Options:
    kubeconfig: str = ""
    cluster_domain: str = "cluster.local"
    listen: tuple[str, int] = ("0.0.0.0", 53)
    netns: str = ""
    upstream: list[Upstream] = field(default_factory=list)
    health_port: int = DEFAULT_HEALTH_PORT
    health_bind_address: str = "127.0.0.1"
    ttl: int = DEFAULT_TTL
    pods: PodMode = PodMode.INSECURE
    log_file: str = ""


def _listen(text: str) -> tuple[str, int]:
    try:
        return sockets.parse_listen(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid listen address {text!r}: {err}") from err


def _upstreams(text: str) -> list[Upstream]:
    try:
        return [parse_upstream(part) for part in text.replace(" ", ",").split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid upstream in {text!r}: {err}") from err


def _domain(text: str) -> str:
    domain = normalize(text)
    if not domain or any(not label for label in domain.split(".")):
        raise argparse.ArgumentTypeError(f"invalid cluster domain {text!r}")
    return domain


def parse_args(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(prog="kubeplane dns", description="Cluster DNS (CoreDNS kubernetes plugin semantics)")
    p.add_argument("--kubeconfig", default="", help="kubeconfig of the API server (default: in-cluster)")
    p.add_argument("--cluster-domain", type=_domain, default="cluster.local")
    p.add_argument("--listen", type=_listen, default=sockets.DEFAULT_LISTEN,
                   help="address:port served over UDP and TCP (default %(default)s)")
    p.add_argument("--netns", default="", help="path of a network namespace to bind the sockets in "
                   "(the process itself stays where it is)")
    p.add_argument("--upstream", type=_upstreams, action="append", default=[],
                   help="resolver(s) for names outside the cluster domain, ip[:port], repeatable or "
                   "comma-separated (default none: such names are refused)")
    p.add_argument("--health-port", type=int, default=DEFAULT_HEALTH_PORT,
                   help="port for /health, /ready and /metrics; 0 disables")
    p.add_argument("--health-bind-address", default="127.0.0.1")
    p.add_argument("--ttl", type=int, default=DEFAULT_TTL, help="TTL of every answer, seconds (0-3600)")
    p.add_argument("--pods", choices=[mode.value for mode in PodMode], default=PodMode.INSECURE.value,
                   help="pod A records: insecure (any address in an existing namespace), verified, disabled")
    p.add_argument("--log-file", default="")
    ns = p.parse_args(argv)
    if not 0 <= ns.ttl <= 3600:
        p.error("--ttl must be between 0 and 3600")
    return Options(kubeconfig=ns.kubeconfig, cluster_domain=ns.cluster_domain, listen=ns.listen, netns=ns.netns,
                   upstream=[u for group in ns.upstream for u in group], health_port=ns.health_port,
                   health_bind_address=ns.health_bind_address, ttl=ns.ttl, pods=PodMode(ns.pods), log_file=ns.log_file)


async def _wait_event(event: asyncio.Event) -> None:
    await event.wait()


async def _until_synced_or_stopped(wait: asyncio.Future[None], stop: asyncio.Event) -> bool:
    stopper: asyncio.Future[None] = asyncio.ensure_future(_wait_event(stop))
    done, _ = await asyncio.wait({wait, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if wait not in done:
        wait.cancel()
    await asyncio.gather(wait, stopper, return_exceptions=True)
    return wait in done and not wait.cancelled()


async def run(opts: Options, stop: asyncio.Event, listening: sockets.ListenSockets) -> int:
    store = ClusterRecords(opts.cluster_domain)
    resolver = Resolver(store, opts.pods, opts.ttl)
    host, port = listening.address
    metrics = DnsMetrics(f"dns://{host}:{port}")
    forwarder = Forwarder(opts.upstream, on_result=lambda up, rcode: metrics.forwarded(str(up), rcode)) \
        if opts.upstream else None
    server = DnsServer(QueryHandler(resolver, metrics, forwarder))
    synced = False
    health = await start_health_server(opts.health_bind_address, opts.health_port, metrics, lambda: synced) \
        if opts.health_port else None
    client_config = load_kubeconfig(opts.kubeconfig) if opts.kubeconfig else in_cluster_config()
    try:
        async with Client(client_config, component="dns") as client:
            factory = watch_cluster(client, store, opts.pods,
                                    on_change=lambda: metrics.record_changes.set(store.changes))
            factory.start()
            try:
                waiting = asyncio.ensure_future(factory.wait_for_cache_sync())
                if await _until_synced_or_stopped(waiting, stop):
                    await server.start(listening)
                    synced = True
                    log.info("serving %s on %s:%d (udp, tcp)%s", opts.cluster_domain, host, port,
                             f" in {opts.netns}" if opts.netns else "")
                    await stop.wait()
            finally:
                await server.close()
                await factory.shutdown()
    finally:
        if health is not None:
            await health.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging("dns", opts.log_file or None)
    try:
        listening = sockets.bind(*opts.listen, netns_path=opts.netns)
    except OSError as err:
        log.error("cannot listen on %s:%d%s: %s", *opts.listen, f" in {opts.netns}" if opts.netns else "", err)
        return EXIT_CANNOT_BIND
    try:
        return run_until_signalled(lambda stop: run(opts, stop, listening))
    finally:
        sockets.close_quietly(listening)


if __name__ == "__main__":
    raise SystemExit(main())
