"""HTTP GET for httpGet probes and lifecycle hooks, as upstream's kubelet sends it.

The request: ``scheme://host:port/path`` with host defaulting to the pod IP and the port resolved
by number or container-port name; the action's ``httpHeaders`` (a ``Host`` header overrides the
request host); ``User-Agent: kube-<purpose>/<major.minor>`` and ``Accept: */*`` unless the action
sets them (an empty ``Accept`` removes it). No keep-alive; HTTPS without certificate checks for
probes. Probes follow redirects only to the same host name, at most 10; a redirect elsewhere ends
the exchange with that 3xx response (which the probe reports as a warning).

Sockets come from the ``Dialer`` (the node's network namespace); aiohttp does the protocol.
Errors are ``HttpError`` with Go's ``url.Error`` text: ``Get "http://...": dial tcp ...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from kubeplane.kubelet.prober.dialer import Dialer, go_errno_text
from kubeplane.kubelet.prober.spec import JSON, MAX_OUTPUT_BYTES, join_host_port, major_minor, resolve_port

MAX_REDIRECTS = 10
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class HttpRequest:
    url: str
    headers: tuple[tuple[str, str], ...]
    host_header: str | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str
    url: str


class HttpError(Exception):
    """The exchange failed before a response; ``str()`` is Go's ``url.Error`` rendering."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def build_request(action: JSON, container: JSON, pod_ip: str, purpose: str, kube_version: str) -> HttpRequest:
    """Upstream's ``NewRequestForHTTPGetAction``; ``purpose`` is ``probe`` or ``lifecycle``.
    Raises ``PortError`` when the port cannot be resolved."""
    scheme = (action.get("scheme") or "HTTP").lower()
    host = action.get("host") or pod_ip
    port = resolve_port(action.get("port"), container)
    path = action.get("path") or ""
    if path and not path.startswith("/"):
        path = "/" + path  # Go's URL.String() puts the slash between host and a relative path
    url = f"{scheme}://{join_host_port(host, port)}{path}"
    headers = [(h["name"], h.get("value", "")) for h in action.get("httpHeaders") or []]
    names = {name.lower() for name, _ in headers}
    if "user-agent" not in names:
        headers.append(("User-Agent", f"kube-{purpose}/{major_minor(kube_version)}"))
    if "accept" not in names:
        headers.append(("Accept", "*/*"))
    else:
        # An Accept header overridden with an empty value is removed, as upstream does.
        headers = [(n, v) for n, v in headers if not (n.lower() == "accept" and v == "")]
    host_header = next((v for n, v in headers if n.lower() == "host" and v), None)
    headers = [(n, v) for n, v in headers if n.lower() != "host"]
    return HttpRequest(url=url, headers=tuple(headers), host_header=host_header)


def _url_error(url: str, error: BaseException) -> HttpError:
    if isinstance(error, TimeoutError):
        return HttpError(f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
                         timed_out=True)
    if isinstance(error, aiohttp.ClientConnectorError):
        parts = urlsplit(url)
        address = join_host_port(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        return HttpError(f'Get "{url}": dial tcp {address}: connect: {go_errno_text(error.os_error)}')
    return HttpError(f'Get "{url}": {error}')


async def http_get(request: HttpRequest, dialer: Dialer, *, timeout: float | None, verify_tls: bool,
                   same_host_redirects_only: bool) -> HttpResponse:
    """GET ``request`` and read at most 10 KiB of the body. ``timeout`` bounds the whole exchange,
    redirects included (Go's ``Client.Timeout``); None means no limit beyond the caller's."""
    connector = aiohttp.TCPConnector(force_close=True, ssl=verify_tls, use_dns_cache=False,
                                     socket_factory=lambda info: dialer.new_socket(info[0], info[1], info[2]))
    skip = () if any(n.lower() == "accept" for n, _ in request.headers) else ("Accept",)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout,
                                     skip_auto_headers=skip) as session:
        url, host_header = request.url, request.host_header
        first_host = urlsplit(url).hostname
        for requests_made in range(1, MAX_REDIRECTS + 1):
            headers = CIMultiDict(request.headers)
            if host_header:
                headers["Host"] = host_header
            try:
                async with session.get(URL(url, encoded=True), headers=headers, allow_redirects=False) as response:
                    body = (await response.content.read(MAX_OUTPUT_BYTES)).decode(errors="replace")
                    location = response.headers.get("Location")
                    status = response.status
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                raise _url_error(url, error) from None
            if status not in _REDIRECT_CODES or not location:
                return HttpResponse(status, body, url)
            target = urljoin(url, location)
            if same_host_redirects_only and urlsplit(target).hostname != first_host:
                return HttpResponse(status, body, url)
            if requests_made >= MAX_REDIRECTS:
                raise HttpError(f'Get "{target}": stopped after {MAX_REDIRECTS} redirects')
            # Go keeps a custom Host header across a redirect only when the location is relative.
            if urlsplit(location).netloc:
                host_header = None
            url = target
    raise AssertionError("the loop returns or raises by its last turn")
