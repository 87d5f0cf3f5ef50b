"""Forwarding names outside the cluster domain to the resolvers given by ``--upstream``.

There is no default upstream: a kubeplane cluster has no route off the machine, so without one
such names are refused rather than sent anywhere. Upstreams are tried in order (the first that
answers wins, as a failover list), each with a short timeout; a query that came over TCP goes
upstream over TCP, and a UDP answer that came back truncated is passed on truncated so the client
retries over TCP. Upstream sockets are opened in this process's own network namespace.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode

DEFAULT_TIMEOUT = 2.0
DNS_PORT = 53


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int = DNS_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class UpstreamFailed(Exception):
    pass


def parse_upstream(text: str) -> Upstream:
    """``198.18.0.2``, ``198.18.0.2:5353``, ``[fd00::2]:53`` or ``fd00::2`` (IP addresses only:
    resolving an upstream's name would need an upstream)."""
    text = text.strip()
    host, port = text, DNS_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else DNS_PORT
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    ipaddress.ip_address(host)  # raises ValueError for anything but an address
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return Upstream(host, port)


class Forwarder:
    def __init__(self, upstreams: list[Upstream], timeout: float = DEFAULT_TIMEOUT,
                 on_result: Callable[[Upstream, str], None] | None = None) -> None:
        if not upstreams:
            raise ValueError("a forwarder needs at least one upstream")
        self.upstreams = upstreams
        self.timeout = timeout
        # Called with (upstream, rcode text or "timeout"/"error") after each attempt, for metrics.
        self.on_result = on_result

    async def query(self, query: dns.message.Message, tcp: bool) -> dns.message.Message:
        """The first upstream's answer to ``query``; UpstreamFailed when none answers."""
        errors: list[str] = []
        for upstream in self.upstreams:
            try:
                if tcp:
                    response = await dns.asyncquery.tcp(query, upstream.host, self.timeout, upstream.port)
                else:
                    response = await dns.asyncquery.udp(query, upstream.host, self.timeout, upstream.port)
            except (dns.exception.DNSException, OSError, EOFError) as err:
                outcome = "timeout" if isinstance(err, dns.exception.Timeout) else "error"
                self._report(upstream, outcome)
                errors.append(f"{upstream}: {err!r}")
                continue
            self._report(upstream, dns.rcode.to_text(response.rcode()))
            return response
        raise UpstreamFailed("; ".join(errors))

    async def resolve(self, name: str, rdtype: str) -> dns.message.Message:
        """A fresh recursive query for ``name``/``rdtype`` (an ExternalName's target), over UDP and
        again over TCP if the answer was truncated."""
        query = dns.message.make_query(name, rdtype, use_edns=0)
        response = await self.query(query, tcp=False)
        if response.flags & dns.flags.TC:
            response = await self.query(query, tcp=True)
        return response

    def _report(self, upstream: Upstream, outcome: str) -> None:
        if self.on_result is not None:
            self.on_result(upstream, outcome)
