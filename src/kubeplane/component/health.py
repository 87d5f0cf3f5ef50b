"""The health and metrics endpoints of a control-plane component (scheduler, controller manager).

``/healthz``, ``/livez`` and ``/readyz`` behave as upstream's ``healthz`` package: each runs its
named checks and answers ``200 ok``, or ``500`` listing ``[+]name ok`` / ``[-]name failed`` (always
with ``?verbose``); ``/<endpoint>/<check>`` runs one check and ``?exclude=<check>`` skips one.
``/metrics`` is the component's prometheus registry.

Plain HTTP, bound to loopback by default: the endpoints carry no secrets, and serving them over
HTTPS as upstream does would need a serving certificate per component plus delegated
authentication and authorization (TokenReview/SubjectAccessReview) for scrapers, which the
components do not have yet. The flags keep upstream's names (``--bind-address``,
``--secure-port``; port 0 disables the server) so a later switch to HTTPS changes no command lines.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

# A check returns None when healthy, else the reason it is not.
CheckFunc = Callable[[], str | None]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ENDPOINTS = ("healthz", "livez", "readyz")


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckFunc


def ping() -> str | None:
    return None


PING = Check("ping", ping)


def leader_election_check(is_leader: Callable[[], bool], renewing: Callable[[], bool]) -> Check:
    """Healthy unless this replica believes it leads but has stopped renewing its Lease (upstream's
    HealthzAdaptor: a stuck leader should be restarted so another replica can take over)."""
    def run() -> str | None:
        if is_leader() and not renewing():
            return "failed election to renew leadership on lease"
        return None
    return Check("leaderElection", run)


def leader_election_metric(registry: CollectorRegistry, name: str, is_leader: Callable[[], bool]) -> Gauge:
    """Upstream's ``leader_election_master_status{name}``: 1 while this replica leads."""
    gauge = Gauge("leader_election_master_status",
                  "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, "
                  "1 indicates master. 'name' is the string used to identify the lease.",
                  ["name"], registry=registry)
    gauge.labels(name).set_function(lambda: 1.0 if is_leader() else 0.0)
    return gauge


def _report(endpoint: str, checks: Sequence[Check], request: web.Request) -> web.Response:
    excluded = set(request.query.getall("exclude", []))
    verbose = "verbose" in request.query
    lines: list[str] = []
    failed = False
    for check in checks:
        if check.name in excluded:
            lines.append(f"[+]{check.name} excluded: ok")
            continue
        try:
            reason = check.run()
        except Exception as err:  # a broken check is a failed check, not a crashed endpoint
            reason = str(err) or type(err).__name__
        if reason is None:
            lines.append(f"[+]{check.name} ok")
        else:
            failed = True
            # As upstream: the reason goes to the log, not to whoever asks.
            lines.append(f"[-]{check.name} failed: reason withheld")
    if failed:
        lines.append(f"{endpoint} check failed")
        return web.Response(status=500, text="\n".join(lines) + "\n")
    if verbose:
        lines.append(f"{endpoint} check passed")
        return web.Response(text="\n".join(lines) + "\n")
    return web.Response(text="ok")


class HealthServer:
    """Serves the three health endpoints and /metrics until ``stop``."""

    def __init__(self, registry: CollectorRegistry, checks: Sequence[Check] = (PING,),
                 ready_checks: Sequence[Check] = ()) -> None:
        self.registry = registry
        # livez and healthz share the liveness checks; readyz adds the readiness ones.
        self.checks = {"healthz": list(checks), "livez": list(checks), "readyz": [*checks, *ready_checks]}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def _app(self) -> web.Application:
        app = web.Application()
        for endpoint in ENDPOINTS:
            app.router.add_get(f"/{endpoint}", self._all(endpoint))
            app.router.add_get(f"/{endpoint}/{{check}}", self._one(endpoint))
        app.router.add_get("/metrics", self._metrics)
        return app

    def _all(self, endpoint: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            return _report(endpoint, self.checks[endpoint], request)
        return handler

    def _one(self, endpoint: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            wanted = [c for c in self.checks[endpoint] if c.name == request.match_info["check"]]
            if not wanted:
                raise web.HTTPNotFound()
            return _report(endpoint, wanted, request)
        return handler

    async def _metrics(self, _: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (port 0 here: any free port); returns the port bound."""
        # Bind the socket here so that port 0 tells us which port the kernel chose.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        runner = web.AppRunner(self._app(), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self.port = int(sock.getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve_if_enabled(bind_address: str, port: int, server: HealthServer) -> HealthServer | None:
    """Upstream's convention: ``--secure-port=0`` turns the server off."""
    if port == 0:
        return None
    await server.start(bind_address, port)
    return server
