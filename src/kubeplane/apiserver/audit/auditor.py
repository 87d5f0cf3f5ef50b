"""The server-facing side of auditing: one ``RequestAudit`` per HTTP request, kept on the request."""

from __future__ import annotations

import logging

from aiohttp import web

from kubeplane.apiserver.audit.backend import LogBackend
from kubeplane.apiserver.audit.event import AUDIT_ID_HEADER, RequestAudit, source_ips
from kubeplane.apiserver.audit.policy import Policy
from kubeplane.apiserver.requestinfo import RequestInfo

log = logging.getLogger(__name__)

_REQUEST_KEY = "kubeplane.audit"


class Auditor:
    """Audits requests by ``policy`` into ``backend``; with neither it only hands out audit IDs."""

    def __init__(self, policy: Policy | None = None, backend: LogBackend | None = None) -> None:
        self.policy = policy
        self.backend = backend

    @property
    def enabled(self) -> bool:
        return self.policy is not None and self.backend is not None

    def begin(self, request: web.Request, info: RequestInfo) -> RequestAudit:
        """Start the record of ``request`` (its ``Audit-ID`` header, if the client sent one, is kept)."""
        headers = request.headers
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        record = RequestAudit(
            self.policy, self.backend, info, request.raw_path, headers.get("User-Agent", ""),
            source_ips(headers.get("X-Forwarded-For"), headers.get("X-Real-Ip"), peer[0] if peer else None),
            audit_id=headers.get(AUDIT_ID_HEADER, ""))
        request[_REQUEST_KEY] = record
        return record

    def start(self) -> None:
        if self.backend is not None:
            self.backend.start()

    async def stop(self) -> None:
        if self.backend is not None:
            await self.backend.stop()


def audit_of(request: web.Request) -> RequestAudit | None:
    record: RequestAudit | None = request.get(_REQUEST_KEY)
    return record


def complete(record: RequestAudit, code: int, response: web.StreamResponse | None) -> None:
    """The ResponseComplete stage, with the response body when it is one in memory (not a stream)."""
    body = response.body if isinstance(response, web.Response) else None
    if isinstance(body, bytes):
        assert response is not None
        record.complete(code, body, response.content_type)
    else:
        record.complete(code)


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """aiohttp's hook as headers go out: every response carries its Audit-Id, and a watch's
    headers are its ResponseStarted stage."""
    record = audit_of(request)
    if record is None:
        return
    response.headers[AUDIT_ID_HEADER] = record.audit_id
    if record.long_running and not record.response_started_sent:
        record.response_started(response.status)


DISABLED = Auditor()
